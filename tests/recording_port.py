"""An in-memory PolicyPort for the engine tests: tools run against a registry, and a ledger keyed like
the worker's makes a replayed step return what it returned the first time instead of acting again.

It records what the customer actually received, so a test asserts outcomes (replies, handoffs,
which tools really ran) rather than calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from connectors.tools import ToolRegistry
from policies.engines.runtime import Handoff

TODAY = date(2025, 3, 10)


@dataclass
class RecordingPort:
    """PolicyPort over a registry, with a ledger: an action already done under a key is not done again."""

    registry: ToolRegistry
    today: date = TODAY
    ledger: dict[str, Any] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)  # every request, re-runs included
    replies: list[str] = field(default_factory=list)  # what the customer actually received
    handoffs: list[Handoff] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    tools_called: list[str] = field(default_factory=list)

    def _once(self, key: str, action: str, payload: Any, perform: Callable[[], Any]) -> Any:
        ledger_key = f"{key}|{action}|{json.dumps(payload, sort_keys=True, default=str)}"
        self.requested.append(f"{key}|{action}")
        if ledger_key not in self.ledger:
            self.ledger[ledger_key] = perform()
        return self.ledger[ledger_key]

    def call_tool(self, step_key: str, tool: str, args: dict[str, Any]) -> Any:
        def perform() -> Any:
            self.tools_called.append(tool)
            return self.registry.invoke(tool, args)

        return self._once(step_key, f"tool:{tool}", args, perform)

    def reply(self, step_key: str, text: str) -> None:
        self._once(step_key, "reply", text, lambda: self.replies.append(text))

    def hand_off(self, step_key: str, summary: Handoff) -> None:
        self._once(step_key, "handoff", summary.to_dict(), lambda: self.handoffs.append(summary))

    def resolve(self, step_key: str) -> None:
        self._once(step_key, "resolve", None, lambda: self.resolved.append(step_key))


@dataclass
class RememberingPort(RecordingPort):
    """Also records each model answer under its step key, as the worker's ledger can."""

    def remember(self, step_key: str, compute: Callable[[], Any]) -> Any:
        return self._once(step_key, "model", None, compute)
