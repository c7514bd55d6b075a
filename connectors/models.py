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


ORDER_STATUSES = (
    "approved",
    "processing",
    "pending_shipment",
    "shipped",
    "in_transit",
    "delivered",
    "canceled",
    "exception",
)
"""One status vocabulary for every platform, so a policy's logic reads the same everywhere."""


@dataclass(frozen=True)
class Address:
    name: str | None = None
    street_1: str | None = None
    street_2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    id: str | None = None

    def one_line(self) -> str:
        parts = [self.street_1, self.street_2, self.city, self.state, self.zip, self.country]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class TrackingEvent:
    occurred_at: str | None
    description: str
    location: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Shipment:
    """One parcel. `status` uses ORDER_STATUSES; `carrier_status` keeps the platform's own code."""

    tracking_number: str
    carrier: str | None = None
    status: str = "shipped"
    carrier_status: str | None = None
    status_detail: str | None = None
    tracking_url: str | None = None
    ship_date: str | None = None
    estimated_delivery: str | None = None
    actual_delivery: str | None = None
    events: tuple[TrackingEvent, ...] = ()


@dataclass(frozen=True)
class OrderItem:
    name: str
    quantity: int = 1
    sku: str | None = None
    product_id: str | None = None
    price: float | None = None


@dataclass(frozen=True)
class Order:
    """An order on any platform. Dates are ISO 8601 strings (YYYY-MM-DD or full timestamps)."""

    platform: str
    id: str
    number: str
    status: str
    email: str | None = None
    customer_id: str | None = None
    created_at: str | None = None
    ship_date: str | None = None
    estimated_delivery: str | None = None
    actual_delivery: str | None = None
    items: tuple[OrderItem, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    shipping_address: Address | None = None
    total: float | None = None
    platform_status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SUBSCRIPTION_STATUSES = ("active", "paused", "cancelled")
"""One subscription vocabulary for every subscription platform (Smartrr's ACTIVE/PAUSED/CANCELLED)."""


@dataclass(frozen=True)
class Subscription:
    """A recurring delivery. `next_delivery` and `skipped_dates` are ISO dates (YYYY-MM-DD).

    `id` is the id a policy passes back to the platform's tools; `extra` keeps platform ids the
    connector needs for writes (for Smartrr the purchase-state UUID and customer-relationship id).
    `products` repeats the item names so a reply template can list them without a loop.
    """

    platform: str
    id: str
    status: str
    customer_id: str | None = None
    customer_email: str | None = None
    next_delivery: str | None = None
    frequency: str | None = None
    items: tuple[OrderItem, ...] = ()
    products: tuple[str, ...] = ()
    skipped_dates: tuple[str, ...] = ()
    platform_status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
