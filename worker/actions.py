"""Helpdesk writes for one conversation, every one through the action ledger.

Tags, assignment and status are idempotent (the same write twice leaves the same ticket), so an
interrupted attempt is simply redone. Notes carry a short reference so an interrupted note can be
looked up on the ticket instead of being posted twice; an interrupted reply is looked up by its text.
"""

from __future__ import annotations

from connectors.helpdesk.base import Helpdesk, TicketStatus
from worker.conversation import Conversation
from worker.ledger import NOT_FOUND, ActionLedger, action_key

LIFECYCLE_TAGS = {
    "active": "pd-active",
    "waiting": "pd-waiting",
    "resolved": "pd-resolved",
    "handed_off": "pd-handed-off",
}
BASE_TAG = "policydesk"


def type_tag(ticket_type: str) -> str:
    return f"pd-type-{ticket_type.replace('_', '-')}"


class TicketActions:
    def __init__(self, desk: Helpdesk, ledger: ActionLedger, conversation: Conversation):
        self.desk = desk
        self.ledger = ledger
        self.conversation = conversation
        self.ticket_id = conversation.ticket_id

    def _type_tags(self) -> list[str]:
        ticket_type = self.conversation.ticket_type
        return [type_tag(ticket_type)] if ticket_type else []

    def hand_off(self, step: str, note: str, extra_tags: list[str] = ()) -> None:
        """Give the ticket to humans. The note goes first (the agent's context), the lifecycle tag last:
        it is the visible sign that the handoff is complete."""
        self.note(step, note)
        self.assign_to_humans(step)
        self.set_status(step, "open")
        self.set_lifecycle(step, "handed_off", extra_tags)

    def tag(self, step: str, add: list[str], remove: list[str] = ()) -> list[str]:
        args = {"add": sorted(add), "remove": sorted(remove)}
        return self.ledger.perform(
            step,
            "set_tags",
            args,
            lambda: self.desk.set_tags(self.ticket_id, add, list(remove)),
            idempotent=True,
        )

    def set_lifecycle(self, step: str, status: str, extra: list[str] = ()) -> list[str]:
        """Exactly one lifecycle tag on the ticket (plus its type tag), so an agent's view filters work."""
        wanted = LIFECYCLE_TAGS[status]
        others = [tag for tag in LIFECYCLE_TAGS.values() if tag != wanted]
        return self.tag(step, [BASE_TAG, wanted, *self._type_tags(), *extra], others)

    def note(self, step: str, body: str) -> str:
        reference = "pd-" + action_key(step, "add_note", {"ticket": self.ticket_id})[:10]
        text = f"{body}\n(ref {reference})"

        def already_posted() -> object:
            return reference if self.desk.find_note(self.ticket_id, reference) else NOT_FOUND

        return self.ledger.perform(
            step,
            "add_note",
            {"ticket": self.ticket_id},
            lambda: self.desk.add_note(self.ticket_id, text),
            reconcile=already_posted,
        )

    def reply(self, step: str, body: str) -> str:
        """A reply whose answer was lost is looked up on the ticket by its text before any resend.
        (An identical reply sent in an earlier turn would also match; that customer already has it.)"""

        def already_sent() -> object:
            return self.desk.find_reply(self.ticket_id, body) or NOT_FOUND

        return self.ledger.perform(
            step,
            "reply",
            {"ticket": self.ticket_id, "body": body},
            lambda: self.desk.reply(self.ticket_id, body),
            reconcile=already_sent,
        )

    def email(self, step: str, to: str, subject: str, body: str) -> str:
        """An email to an address outside the conversation (an identity code). Never resent blindly."""
        return self.ledger.perform(
            step,
            "send_email",
            {"ticket": self.ticket_id, "to": to},
            lambda: self.desk.send_email(self.ticket_id, to, subject, body),
        )

    def assign_to_humans(self, step: str) -> str | None:
        group = self.desk.handoff_group
        if not group:
            return None
        self.ledger.perform(
            step,
            "assign_to_group",
            {"group": group},
            lambda: self.desk.assign_to_group(self.ticket_id, group),
            idempotent=True,
        )
        return group

    def set_status(self, step: str, status: TicketStatus) -> None:
        self.ledger.perform(
            step,
            "set_status",
            {"status": status},
            lambda: self.desk.set_status(self.ticket_id, status),
            idempotent=True,
        )
