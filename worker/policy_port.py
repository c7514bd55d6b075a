"""The engine's window on the world: helpdesk writes and tool calls, every one through the ledger.

The engine names each action with a step key derived from its saved state, so a re-run after a crash
asks for the same actions under the same keys; the ledger then returns what already happened. Reads
are recorded too, which keeps a replay on the same path even if the platform's answer has changed.

Writes are done exactly once. A write whose earlier attempt left only an intent (the worker died, or
the platform's answer was lost) is, per connectors.reconcile: sent again if it is idempotent; looked
up on the platform if there is a way (a replacement order by its reference, a skip on the
subscription, a cancel on the order), and done only if it is not there; otherwise the ledger raises
ActionOutcomeUnknown and the ticket goes to a person.

The `reference` of a tool that takes one (a replacement order, a coupon) is always set here, derived
from the conversation and the step key: the same on every re-run of that step, different for every
other step and ticket. That is what lets the platform itself, and the reconciliation, recognise an
order we already created. Whatever a policy or a model passed as reference is replaced.

Built-in helpdesk tools (platform "helpdesk") need the ticket, so they run in
worker.builtin_tools.run with the helpdesk client and the conversation instead of the registry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from connectors import reconcile, telemetry
from connectors.tools import Tool, ToolRegistry
from policies.engines.runtime import Handoff
from worker import builtin_tools  # also registers the built-in tools, so every engine can resolve them
from worker.actions import TicketActions
from worker.conversation import Conversation
from worker.ledger import NOT_FOUND, ActionLedger
from worker.notes import handoff_note
from worker.verdicts import record_verdicts

REFERENCE_ARG = "reference"
IDEMPOTENT_BUILTINS = frozenset({"file_carrier_claim"})  # one claim record and note per order and ticket


def derived_reference(conversation_key: str, step_key: str) -> str:
    """A reference hashed from the conversation and the step: the same on every re-run of the step,
    different for every other step and ticket, and free of anything personal."""
    digest = hashlib.sha256(f"{conversation_key}|{step_key}".encode()).hexdigest()
    return f"pd-{digest[:16]}"


def call_arguments(
    takes: Iterable[str], args: Mapping[str, Any], conversation_key: str, step_key: str
) -> dict[str, Any]:
    """The arguments a tool is called with, by the worker or (recorded) by a try-out: the policy's,
    with a `reference` derived from the conversation and step whenever the tool takes one."""
    args = dict(args)
    if REFERENCE_ARG in takes:
        args[REFERENCE_ARG] = derived_reference(conversation_key, step_key)
    return args


class TicketPolicyPort:
    def __init__(
        self,
        conversation: Conversation,
        actions: TicketActions,
        ledger: ActionLedger,
        registry: ToolRegistry,
        today: date,
        policy_id: str | None = None,
    ):
        self.policy_id = policy_id
        self.conversation = conversation
        self.actions = actions
        self.ledger = ledger
        self.registry = registry
        self.today = today
        self.handed_off: Handoff | None = None

    def call_tool(self, step_key: str, tool: str, args: dict[str, Any]) -> Any:
        try:
            result = self._call_tool(step_key, tool, args)
        except Exception as exc:
            telemetry.count("tool_calls", tool=tool.lstrip("@"), result=type(exc).__name__)
            raise
        telemetry.count("tool_calls", tool=tool.lstrip("@"), result="ok")
        return result

    def guards_checked(
        self, step_key: str, tool: str, args: dict[str, Any], verdicts: list[tuple[str, str | None]]
    ) -> None:
        """policies.guards shows every write's verdicts here before it refuses or makes the write."""
        record_verdicts(self.ledger.redis, self.conversation.key, step_key, tool, verdicts)

    def _call_tool(self, step_key: str, tool: str, args: dict[str, Any]) -> Any:
        found = self.registry.resolve(tool)
        if found is None:
            raise KeyError(f"unknown tool {tool!r}")
        args = call_arguments(found.arguments, args, self.conversation.key, step_key)
        perform = self._performer(found, args)
        if not found.writes:
            return self.ledger.perform(step_key, found.name, args, perform, idempotent=True)
        if reconcile.is_idempotent(found.name) or found.name in IDEMPOTENT_BUILTINS:
            return self.ledger.perform(step_key, found.name, args, perform, idempotent=True)
        return self.ledger.perform(
            step_key, found.name, args, perform, reconcile=self._reconciliation(step_key, found, args)
        )

    def _performer(self, tool: Tool, args: dict[str, Any]) -> Callable[[], Any]:
        if builtin_tools.is_builtin(tool.name):
            return lambda: builtin_tools.run(
                tool.name, self.actions.desk, self.conversation, args, redis_client=self.ledger.redis
            )
        return lambda: self.registry.invoke(tool.name, args)

    def _reconciliation(self, step_key: str, tool: Tool, args: dict[str, Any]) -> Callable[[], Any] | None:
        """How the ledger looks this write up after a lost answer, or None (then a person checks).

        A baseline is recorded in the ledger before the write's intent, so a re-run compares the
        platform with what it was before the first attempt, not with what it is now."""
        reconciler = reconcile.reconciler_for(tool.name)
        if reconciler is None:
            return None
        baseline = None
        if reconciler.baseline is not None:
            read = reconciler.baseline
            baseline = self.ledger.perform(
                step_key, f"{tool.name}:baseline", args, lambda: read(args), idempotent=True
            )

        def look_up() -> Any:
            found = reconciler.find(args, baseline)
            return NOT_FOUND if found is None else found

        return look_up

    # What the customer sees and what ends the turn (a reply, a hand-off, the ticket resolved) goes to
    # the conversation's outbox, which the worker sends only after the state that expects the
    # customer's answer is saved (worker.pipeline): so no answer can ever arrive before the question
    # it answers is on record, whenever the worker dies.

    def reply(self, step_key: str, text: str) -> None:
        self.conversation.outbox.append({"kind": "reply", "step": step_key, "text": text})
        self.conversation.note_turn("bot", text)

    def hand_off(self, step_key: str, summary: Handoff) -> None:
        note = handoff_note(self.conversation, summary, self.policy_id)
        self.conversation.outbox.append({"kind": "hand_off", "step": step_key, "note": note})
        self.conversation.handoff_reason = summary.reason
        self.handed_off = summary

    def remember(self, step_key: str, compute: Callable[[], Any]) -> Any:
        """The agent's model answers go in the ledger: a turn re-run after a crash replays what Claude
        said instead of asking again (a differently worded answer would be a second reply). A model
        call changes nothing outside, so an interrupted one is simply made again."""
        return self.ledger.perform(step_key, "claude", {}, compute, idempotent=True)

    def resolve(self, step_key: str) -> None:
        self.conversation.outbox.append({"kind": "resolve", "step": step_key})

    def wait_for_customer(self, step_key: str) -> None:
        """Not part of the engine's port: the worker marks the ticket as waiting after a question."""
        self.actions.wait(step_key)


def send_outbox(actions: TicketActions, conversation: Conversation) -> None:
    """Send what a saved turn decided, in order, through the ledger (a re-send after a crash is a no-op).
    Each item leaves the outbox once done; the caller saves the conversation afterwards."""
    while conversation.outbox:
        item = conversation.outbox[0]
        step = str(item.get("step") or "")
        if item.get("kind") == "reply":
            actions.reply(step, str(item.get("text") or ""))
        elif item.get("kind") == "hand_off":
            actions.hand_off(step, str(item.get("note") or ""))
        elif item.get("kind") == "email":
            actions.email(
                step, str(item.get("to") or ""), str(item.get("subject") or ""), str(item.get("text") or "")
            )
        elif item.get("kind") == "resolve":
            actions.resolve(step)
        conversation.outbox.pop(0)
