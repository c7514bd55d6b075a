"""What the flow engine keeps between customer messages, and the one port it talks to the world through.

The engine never calls a helpdesk or a platform itself. The worker implements `PolicyPort` and routes
each call through its action ledger under the `step_key` the engine gives. Engines never call
`PolicyPort.call_tool` directly: they go through `policies.engines.guards.GuardedTools`, which checks a
write's
guards against the facts kept in `PolicyState.guard` first. The engine derives the step key
only from the saved state (policy, step, visit number), so re-running it from the same saved state
after a crash asks for the same actions under the same keys and the ledger returns what already
happened instead of acting twice.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol, runtime_checkable

from policies.engines.guards import GuardFacts

__all__ = ["Frame", "Handoff", "PolicyPort", "PolicyState", "Status", "FlowContext", "step_key"]

Status = Literal["active", "waiting", "resolved", "handed_off"]
STATUSES: tuple[str, ...] = ("active", "waiting", "resolved", "handed_off")


@dataclass(frozen=True)
class Handoff:
    """Three short lines for the human agent who takes over: they should not need to re-read the thread."""

    wants: str
    checked: str
    reason: str

    def as_text(self) -> str:
        return f"Customer wants: {self.wants}\nChecked: {self.checked}\nHanded off because: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"wants": self.wants, "checked": self.checked, "reason": self.reason}


@runtime_checkable
class PolicyPort(Protocol):
    """Everything the engine may do outside itself. The worker implements it (ledger, helpdesk, tools)."""

    @property
    def today(self) -> date:
        """The day the engine reasons about (a simulation may fix it)."""

    def call_tool(self, step_key: str, tool: str, args: dict[str, Any]) -> Any:
        """Run a registry tool; return its JSON-able result. Raises connectors.errors types.

        Engines call this only through policies.engines.guards.GuardedTools, never directly."""

    def reply(self, step_key: str, text: str) -> None:
        """Send the customer a public reply."""

    def hand_off(self, step_key: str, summary: Handoff) -> None:
        """Give the ticket to humans with the summary as an internal note."""

    def resolve(self, step_key: str) -> None:
        """Mark the ticket solved: the policy reached its end."""


@dataclass
class Frame:
    """One policy on the stack and the step it is at."""

    policy: str
    step: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "step": self.step}


@dataclass
class PolicyState:
    """JSON-able engine state stored in the conversation between customer messages.

    stack: policies in progress, innermost last (a `policy:` step pushes, the callee's end pops).
    slots: values the customer gave or that were known (email, the chosen order, yes/no answers).
    saved: tool results by their `save_as` name.
    asks: how many times each ask step has asked (re-ask once, then hand off).
    visits: how many times each step ran; part of the step key, so a loop gets fresh keys.
    checked: short lines of what was looked up, for the handoff summary.
    guard: what tool results established (verified customer, their orders, confirmations) that the
        write guards are checked against (policies.engines.guards).
    agent: the Claude engine's memory of this conversation (message history, turn, usage), JSON-able;
        empty while the flow engine runs the policy (policies.engines.agent).
    understood: what the customer has said in every turn so far (policies.understanding.Understanding
        as JSON); policies read it as `$said`.
    queue: the other options the customer chose at a `several: true` question ("both orders"): the
        steps after it run again for each, from the slots as they were when it was answered.
    versions: the version (content hash) of each policy this conversation started on, by id; later
        turns run those versions even after the policies changed (worker.policy_versions).
    """

    stack: list[Frame] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    saved: dict[str, Any] = field(default_factory=dict)
    asks: dict[str, int] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    guard: GuardFacts = field(default_factory=GuardFacts)
    agent: dict[str, Any] = field(default_factory=dict)
    understood: dict[str, Any] = field(default_factory=dict)
    queue: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    status: Status = "active"
    waiting_for: str | None = None
    outcome: str | None = None

    @property
    def policy_stack(self) -> list[str]:
        return [frame.policy for frame in self.stack]

    @property
    def policy_id(self) -> str | None:
        return self.stack[-1].policy if self.stack else None

    @property
    def cursor(self) -> str | None:
        return self.stack[-1].step if self.stack else None

    @property
    def finished(self) -> bool:
        return self.status in ("resolved", "handed_off")

    def copy(self) -> PolicyState:
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": [frame.to_dict() for frame in self.stack],
            "slots": copy.deepcopy(self.slots),
            "saved": copy.deepcopy(self.saved),
            "asks": dict(self.asks),
            "visits": dict(self.visits),
            "checked": list(self.checked),
            "guard": self.guard.to_dict(),
            "agent": copy.deepcopy(self.agent),
            "understood": copy.deepcopy(self.understood),
            "queue": copy.deepcopy(self.queue),
            "versions": dict(self.versions),
            "status": self.status,
            "waiting_for": self.waiting_for,
            "outcome": self.outcome,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PolicyState:
        """Tolerant of missing keys, so states saved by an older version still load."""
        data = data or {}
        status = data.get("status", "active")
        return cls(
            stack=[
                Frame(str(f["policy"]), f.get("step")) for f in data.get("stack") or [] if f.get("policy")
            ],
            slots=dict(data.get("slots") or {}),
            saved=dict(data.get("saved") or {}),
            asks={str(k): int(v) for k, v in (data.get("asks") or {}).items()},
            visits={str(k): int(v) for k, v in (data.get("visits") or {}).items()},
            checked=[str(line) for line in data.get("checked") or []],
            guard=GuardFacts.from_dict(data.get("guard")),
            agent=dict(data["agent"]) if isinstance(data.get("agent"), dict) else {},
            understood=dict(data["understood"]) if isinstance(data.get("understood"), dict) else {},
            queue=dict(data["queue"]) if isinstance(data.get("queue"), dict) else {},
            versions={str(k): str(v) for k, v in (data.get("versions") or {}).items()},
            status=status if status in STATUSES else "active",
            waiting_for=data.get("waiting_for"),
            outcome=data.get("outcome"),
        )


@dataclass(frozen=True)
class FlowContext:
    """What the engine knows about the ticket. `as_namespace` gives the `$` roots policies read."""

    customer: dict[str, Any] = field(default_factory=dict)
    ticket: dict[str, Any] = field(default_factory=dict)
    brand: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    today: date | None = None
    variant: str | None = None  # the offer variant this ticket was assigned (policies with `variants:`)

    @classmethod
    def of(cls, context: FlowContext | Mapping[str, Any] | None) -> FlowContext:
        if isinstance(context, FlowContext):
            return context
        context = context or {}
        today = context.get("today")
        return cls(
            customer=dict(context.get("customer") or {}),
            ticket=dict(context.get("ticket") or {}),
            brand=dict(context.get("brand") or {}),
            facts=dict(context.get("facts") or {}),
            today=today if isinstance(today, date) else None,
            variant=context.get("variant"),
        )

    def as_namespace(self, today: date) -> dict[str, Any]:
        customer = dict(self.customer)
        if customer.get("name") and not customer.get("first_name"):
            customer["first_name"] = str(customer["name"]).split()[0]
        return {
            "customer": customer,
            "ticket": dict(self.ticket),
            "brand": dict(self.brand),
            "facts": dict(self.facts),
            "today": self.today or today,
            "variant": self.variant,
        }


def step_key(policy: str, step: str, visit: int) -> str:
    """Deterministic for (policy, step, visit): the ledger's handle on one action."""
    return f"{policy}/{step}/{visit}"
