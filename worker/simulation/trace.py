"""What a simulated conversation did, in order: the record a person reads to judge a policy.

Every event names the engine's step key, so a line of the trace points at the policy step that
caused it. Events are JSON-able (`to_dict`), for a test to assert on and a file to keep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "customer",  # what the customer said
    "step",  # a flow step ran: which one, where it led, and for a branch which case held and on what values
    "read",  # a read tool ran (against the sandbox or, read-only, the store's platforms)
    "read_failed",  # a read tool raised; the engine decides what follows
    "guards",  # a write's guards, each with its verdict
    "would_write",  # a write the guards allowed: recorded with its exact arguments, not made
    "reply",  # a message the customer would have received
    "note",  # an internal note the ticket would have got
    "ticket",  # a ticket update the helpdesk would have got (status, lifecycle tag, group)
]


@dataclass(frozen=True)
class TraceEvent:
    kind: EventKind
    step: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, **self.data}


@dataclass
class Trace:
    """Everything one simulated conversation did; `end` is set once the last turn has run."""

    policy: str
    engine: str
    reads_from: str
    events: list[TraceEvent] = field(default_factory=list)
    end: dict[str, Any] = field(default_factory=dict)

    def add(self, kind: EventKind, step: str, **data: Any) -> TraceEvent:
        event = TraceEvent(kind, step, data)
        self.events.append(event)
        return event

    def of(self, kind: EventKind) -> list[TraceEvent]:
        return [event for event in self.events if event.kind == kind]

    @property
    def replies(self) -> list[str]:
        return [str(event.data["text"]) for event in self.of("reply")]

    @property
    def would_writes(self) -> list[dict[str, Any]]:
        """Each allowed write as {tool, args}: exactly what the worker would have sent."""
        return [{"tool": e.data["tool"], "args": e.data["args"]} for e in self.of("would_write")]

    @property
    def refused(self) -> list[dict[str, Any]]:
        """Each write a guard refused, as {tool, args, reason}."""
        return [
            {"tool": e.data["tool"], "args": e.data["args"], "reason": e.data["refused"]}
            for e in self.of("guards")
            if e.data.get("refused")
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "engine": self.engine,
            "reads_from": self.reads_from,
            "events": [event.to_dict() for event in self.events],
            "end": dict(self.end),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)
