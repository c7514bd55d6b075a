"""Normalized values every connector returns, whatever the platform said."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Customer:
    """A person as one platform knows them; `id` is that platform's id."""

    platform: str
    id: str
    email: str | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Message:
    """One message on a ticket. `incoming` is True for the customer, False for agents and bots."""

    id: str
    text: str
    incoming: bool
    created_at: str | None = None
    author_email: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Ticket:
    """A helpdesk ticket (Freshdesk ticket, Kustomer conversation, Salesforce Case)."""

    helpdesk: str
    id: str
    subject: str = ""
    description: str = ""
    requester_email: str | None = None
    requester_name: str | None = None
    customer_id: str | None = None
    status: str | None = None
    tags: tuple[str, ...] = ()
    group_id: str | None = None
    assignee_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
