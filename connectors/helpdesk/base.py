"""The interface every helpdesk client implements, so the worker never branches on the helpdesk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from connectors.models import Customer, Message, Ticket

TicketStatus = Literal["open", "pending", "resolved"]


class Helpdesk(Protocol):
    """Writes and reads the worker needs. Ids are strings on every platform.

    `handoff_group` is the group/team/queue id that human agents work from (configured per helpdesk).
    Writes raise connectors.errors types; OutcomeUnknown means the write may or may not have happened,
    which is what `find_note` exists to settle for notes.
    """

    name: str
    handoff_group: str | None

    def reply(self, ticket_id: str, body: str) -> str:
        """Send a public reply the customer receives; return the platform's id for it."""

    def add_note(self, ticket_id: str, body: str, *, and_update: Mapping[str, Any] | None = None) -> str:
        """Add an internal note only agents see; return its id. `and_update` holds the arguments of
        the `update` the caller makes next; a helpdesk that can make both in one call (Salesforce's
        composite) does, so that `update` then finds nothing left to change."""

    def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        group: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> list[str]:
        """Status, group and tags in one write (Freshdesk's ticket PUT, Kustomer's conversation PATCH,
        Salesforce's Case update), sending only what differs; tags merged as `set_tags` does. Returns
        the new tag set. The three calls below are this with one field each."""

    def set_tags(self, ticket_id: str, add: list[str], remove: Sequence[str] = ()) -> list[str]:
        """Merge tags into the ticket's existing ones (never drop tags a human set); return the new set."""

    def assign_to_group(self, ticket_id: str, group_id: str) -> None:
        """Route the ticket to a human group/team/queue."""

    def set_status(self, ticket_id: str, status: TicketStatus) -> None:
        """open (needs an agent), pending (waiting on the customer), resolved."""

    def tickets_created(self, since: datetime, until: datetime, limit: int) -> list[str]:
        """The ids of the tickets created from `since` up to (not including) `until`, oldest first, at
        most `limit`: reads only (a backtest's view of the helpdesk's past)."""

    def get_ticket(self, ticket_id: str) -> Ticket:
        """The ticket with its subject, first message and requester."""

    def assignee_id(self, ticket_id: str) -> str | None:
        """The user the ticket is assigned to now, if any: all a later turn needs to know whether a
        person took it (cheaper than get_ticket where the requester is a record of its own)."""

    def latest_customer_message(self, ticket_id: str) -> Message | None:
        """The newest incoming, public message (quoted history stripped); None if there is none."""

    def customer_messages(self, ticket_id: str, after: str | None = None) -> list[Message]:
        """The customer's incoming public messages, oldest first, after the one whose id is `after`
        (all of them when `after` is None or not among them): every message a turn has to read."""

    def paused_for_budget(self) -> str | None:
        """Why automatic work must stop now to spare the account's API budget for the store's other
        integrations (Salesforce: the org's daily limit used above SALESFORCE_DAILY_LIMIT_SHARE, as
        the last answer's Sforce-Limit-Info said), or None."""

    def own_user_id(self) -> str | None:
        """The helpdesk user our API credentials act as, read from the helpdesk itself (cached): its
        assignment of a ticket is ours, not a person's."""

    def send_email(self, ticket_id: str, to: str, subject: str, body: str) -> str:
        """Email an address outside the conversation (a one-time code); only where the helpdesk has
        a call for it (Salesforce emailSimple). Others raise Rejected."""

    def find_customer(self, email: str) -> Customer | None:
        """The helpdesk's customer/contact record for this email, or None."""

    def find_reply(self, ticket_id: str, body: str) -> str | None:
        """The id of a public reply on the ticket with this text (to reconcile an ambiguous reply)."""

    def find_note(self, ticket_id: str, marker: str) -> bool:
        """Whether an internal note containing `marker` exists (to reconcile an ambiguous note write)."""


class UpdatesInOneWrite:
    """`set_tags`, `assign_to_group` and `set_status` as the client's `update` with one field each."""

    def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        group: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> list[str]:
        raise NotImplementedError

    def set_tags(self, ticket_id: str, add: list[str], remove: Sequence[str] = ()) -> list[str]:
        return self.update(ticket_id, add_tags=add, remove_tags=remove)

    def assign_to_group(self, ticket_id: str, group_id: str) -> None:
        self.update(ticket_id, group=group_id)

    def set_status(self, ticket_id: str, status: TicketStatus) -> None:
        self.update(ticket_id, status=status)


def utc_instant(moment: datetime) -> str:
    """`2026-11-01T00:00:00Z`: the form the helpdesks' date filters take."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def messages_after(messages: list[Message], after: str | None) -> list[Message]:
    """The messages that follow the one with id `after`; all of them when it is absent or unknown."""
    ids = [m.id for m in messages]
    if after is None or after not in ids:
        return list(messages)
    return list(messages[ids.index(after) + 1 :])
