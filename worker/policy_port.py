"""The engine's window on the world: helpdesk writes and tool calls, every one through the ledger.

The engine names each action with a step key derived from its saved state, so a re-run after a crash
asks for the same actions under the same keys; the ledger then returns what already happened. Reads
are recorded too, which keeps a replay on the same path even if the platform's answer has changed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from connectors.tools import ToolRegistry
from policies.runtime import Handoff
from worker.actions import TicketActions, type_tag
from worker.conversation import Conversation
from worker.ledger import ActionLedger
from worker.notes import handoff_note


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
        found = self.registry.resolve(tool)
        if found is None:
            raise KeyError(f"unknown tool {tool!r}")
        return self.ledger.perform(
            step_key,
            found.name,
            dict(args),
            lambda: self.registry.invoke(found.name, args),
            idempotent=not found.writes,
        )

    def reply(self, step_key: str, text: str) -> None:
        self.actions.reply(step_key, text)
        self.conversation.note_turn("bot", text)

    def hand_off(self, step_key: str, summary: Handoff) -> None:
        self.actions.note(step_key, handoff_note(self.conversation, summary, self.policy_id))
        self.actions.assign_to_humans(step_key)
        self.actions.set_status(step_key, "open")
        self.actions.set_lifecycle(step_key, "handed_off", self._type_tags())
        self.conversation.handoff_reason = summary.reason
        self.handed_off = summary

    def resolve(self, step_key: str) -> None:
        self.actions.set_status(step_key, "resolved")
        self.actions.set_lifecycle(step_key, "resolved", self._type_tags())

    def wait_for_customer(self, step_key: str) -> None:
        """Not part of the engine's port: the worker marks the ticket as waiting after a question."""
        self.actions.set_status(step_key, "pending")
        self.actions.set_lifecycle(step_key, "waiting", self._type_tags())

    def _type_tags(self) -> list[str]:
        return [type_tag(self.conversation.ticket_type)] if self.conversation.ticket_type else []
