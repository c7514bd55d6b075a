"""Helpdesk writes for one conversation, every one through the action ledger.

Tags, assignment and status are idempotent (the same write twice leaves the same ticket), so an
interrupted attempt is simply redone; a turn sets them together in one write (`update`), because
every call spends the store's helpdesk API budget (docs/api-budget.md). Notes carry a short reference
so an interrupted note can be looked up on the ticket instead of being posted twice; an interrupted
reply is looked up by its text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

    def hand_off(self, step: str, note: str, extra_tags: Sequence[str] = ()) -> None:
        """Give the ticket to humans. The note goes first (the agent's context), then one update that
        assigns the group, reopens the ticket and sets the lifecycle tag: the visible sign that the
        hand-off is complete."""
        change = self._change("handed_off", "open", extra_tags, to_humans=True)
        self.note(step, note, and_update=change)
        self.update(step, "handed_off", "open", extra_tags, to_humans=True)

    def wait(self, step: str) -> None:
        """The turn asked the customer something: pending, `pd-waiting`, in one write."""
        self.update(step, "waiting", "pending")

    def resolve(self, step: str) -> None:
        self.update(step, "resolved", "resolved")

    def tag(self, step: str, add: list[str], remove: Sequence[str] = ()) -> list[str]:
        args = {"add": sorted(add), "remove": sorted(remove)}
        return self.ledger.perform(
            step,
            "set_tags",
            args,
            lambda: self.desk.set_tags(self.ticket_id, add, list(remove)),
            idempotent=True,
        )

    def assign_to_humans(self, step: str) -> None:
        """The human group alone (a draft-mode turn leaves tags and status to the person)."""
        self.update(step, to_humans=True)

    def update(
        self,
        step: str,
        lifecycle: str | None = None,
        status: TicketStatus | None = None,
        extra_tags: Sequence[str] = (),
        *,
        to_humans: bool = False,
    ) -> list[str]:
        """Exactly one lifecycle tag on the ticket (plus its type tag), so an agent's view filters work,
        with the status and (for a hand-off) the human group, as one helpdesk write. Idempotent: an
        interrupted attempt is simply redone."""
        change = self._change(lifecycle, status, extra_tags, to_humans=to_humans)
        args = {
            "add": sorted(change["add_tags"]),
            "remove": sorted(change["remove_tags"]),
            "status": status,
            "group": change["group"],
        }
        return self.ledger.perform(
            step, "update_ticket", args, lambda: self.desk.update(self.ticket_id, **change), idempotent=True
        )

    def _change(
        self,
        lifecycle: str | None,
        status: TicketStatus | None,
        extra_tags: Sequence[str],
        *,
        to_humans: bool,
    ) -> dict[str, Any]:
        """The arguments of Helpdesk.update for this lifecycle step."""
        add: list[str] = []
        remove: list[str] = []
        if lifecycle is not None:
            wanted = LIFECYCLE_TAGS[lifecycle]
            add = [BASE_TAG, wanted, *self._type_tags(), *extra_tags]
            remove = [tag for tag in LIFECYCLE_TAGS.values() if tag != wanted]
        group = self.desk.handoff_group if to_humans else None
        return {"status": status, "group": group, "add_tags": add, "remove_tags": remove}

    def note(self, step: str, body: str, *, and_update: dict[str, Any] | None = None) -> str:
        reference = "pd-" + action_key(step, "add_note", {"ticket": self.ticket_id})[:10]
        text = f"{body}\n(ref {reference})"

        def already_posted() -> object:
            return reference if self.desk.find_note(self.ticket_id, reference) else NOT_FOUND

        return self.ledger.perform(
            step,
            "add_note",
            {"ticket": self.ticket_id},
            lambda: self.desk.add_note(self.ticket_id, text, and_update=and_update),
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
