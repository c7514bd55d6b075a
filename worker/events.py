"""TicketEvent: what every webhook receiver produces and the worker consumes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

EventKind = Literal["created", "customer_message", "ignored"]


POINTER_FIELDS = ("helpdesk", "ticket_id", "kind", "event_id", "message_id", "occurred_at", "received_at")


@dataclass(frozen=True)
class TicketEvent:
    """One thing that happened on one ticket, in a helpdesk-neutral shape.

    `event_id` is the sender's delivery id (Kustomer envelope id, Salesforce Notification Id) used to
    drop duplicate deliveries; None when the sender gives none (Freshdesk replies), in which case the
    worker dedupes on the message id it reads back. `message_id` names the customer message when known.
    `raw` keeps the sender's fields for debugging; it never goes to logs or the queue.

    A notification is only a pointer: the worker reads every fact about the ticket (requester, owner,
    status, text) from the helpdesk's API. So what is queued (`pointer`) holds ids and times only, never
    the body's text, requester or raw fields: a forged body cannot put words in a customer's mouth, and
    broker headers (which Flower shows) carry no customer data on any retry.
    """

    helpdesk: str
    ticket_id: str
    kind: EventKind
    event_id: str | None = None
    subject: str = ""
    text: str = ""
    requester_email: str | None = None
    requester_name: str | None = None
    message_id: str | None = None
    customer_id: str | None = None
    occurred_at: str | None = None
    received_at: float = field(default_factory=time.time)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ticket_key(self) -> str:
        return f"{self.helpdesk}:{self.ticket_id}"

    def to_dict(self) -> dict[str, Any]:
        """Shallow on purpose: the dict is JSON-encoded at once, and a deep copy of `raw` costs more than
        the receiver's own parsing."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def pointer(self) -> dict[str, Any]:
        """The queued form: which ticket, what kind of event, which delivery and message, when."""
        return {name: getattr(self, name) for name in POINTER_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TicketEvent:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
