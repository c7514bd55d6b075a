"""The sandbox's one world: the store's customers, catalogue, orders, parcels, subscriptions and the
tickets already on the helpdesks, read from the YAML files beside this module (README.md there).

Every platform emulator renders its part of this one world in its own vendor's shape, so a customer
found on a helpdesk is the same person in the store, the subscription app and the trackers, with the
same orders and parcels. Days are offsets from the day the sandbox is seeded (T); each emulator turns
them into dates when it seeds.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).parent

STORES = frozenset({"bigcommerce", "shopify", "manual"})
ORDER_STATUSES = frozenset(
    {
        "awaiting_payment",
        "awaiting_fulfillment",
        "on_hold",
        "awaiting_shipment",
        "shipped",
        "partially_shipped",
        "completed",
        "cancelled",
        "refunded",
        "rejected",
    }
)
PARCEL_STATUSES = frozenset(
    {
        "label_created",
        "picked_up",
        "in_transit",
        "at_local_hub",
        "out_for_delivery",
        "available_for_pickup",
        "delivered",
        "attempt_failed",
        "address_problem",
        "lost",
    }
)
CARRIERS = frozenset({"ups", "usps", "fedex", "dhl"})
SUBSCRIPTION_STATUSES = frozenset({"active", "paused", "cancelled"})
TICKET_STATUSES = frozenset({"open", "waiting", "resolved", "closed"})
SENDERS = frozenset({"customer", "bot", "agent"})
PERIOD_UNITS = {"day": "DAY", "week": "WEEK", "month": "MONTH", "year": "YEAR"}
US_STATES = {
    "AZ": "Arizona",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "LA": "Louisiana",
    "MA": "Massachusetts",
    "ME": "Maine",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MO": "Missouri",
    "NC": "North Carolina",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "OH": "Ohio",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VA": "Virginia",
    "VT": "Vermont",
    "WA": "Washington",
    "WI": "Wisconsin",
}
_DAY = re.compile(r"^T(?:([+-])(\d+))?$")
_MOMENT = re.compile(r"^(T(?:[+-]\d+)?) (\d{2}):(\d{2})(?::(\d{2}))?$")


class WorldError(ValueError):
    """The world's files contradict themselves (an unknown customer, SKU, status...)."""


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    state: str  # two-letter code
    zip: str
    country: str  # ISO 3166-1 alpha-2
    street2: str = ""

    @property
    def state_name(self) -> str:
        return US_STATES.get(self.state, self.state)

    @property
    def country_name(self) -> str:
        return {"US": "United States", "CA": "Canada"}.get(self.country, self.country)

    def one_line(self) -> str:
        parts = [self.street, self.street2, self.city, f"{self.state} {self.zip}"]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    email: str
    phone: str
    address: Address
    language: str = "en"

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def last_name(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else self.name


@dataclass(frozen=True)
class Product:
    id: int
    sku: str
    name: str
    price: float
    variant: str = ""


@dataclass(frozen=True)
class Line:
    product: Product
    quantity: int


@dataclass(frozen=True)
class Parcel:
    carrier: str
    tracking: str
    shipped: int
    status: str
    estimated: int | None = None
    delivered: int | None = None
    signed: bool = False
    items: tuple[Line, ...] = ()  # what it holds; all of the order's items when empty
    voided_label: str | None = None


@dataclass(frozen=True)
class Order:
    number: str
    customer: Customer
    store: str
    placed: int
    status: str
    items: tuple[Line, ...]
    parcels: tuple[Parcel, ...] = ()
    id: str | None = None  # the store's own id, when it is not derived from the number
    ship_by: int | None = None
    cancelled: int | None = None
    subscription: str | None = None
    replacement_of: str | None = None
    reference: str | None = None

    @property
    def total(self) -> float:
        return round(sum(line.product.price * line.quantity for line in self.items), 2)

    def parcel_items(self, parcel: Parcel) -> tuple[Line, ...]:
        return parcel.items or self.items


@dataclass(frozen=True)
class Subscription:
    id: str
    customer: Customer
    status: str
    items: tuple[Line, ...]
    every: tuple[int, str]  # (count, DAY|WEEK|MONTH|YEAR)
    next: int | None = None
    cancelled: int | None = None
    created: int = -90


@dataclass(frozen=True)
class Moment:
    day: int
    at: time

    def on(self, today: date) -> datetime:
        return datetime.combine(today + timedelta(days=self.day), self.at, tzinfo=UTC)


@dataclass(frozen=True)
class Message:
    sender: str  # customer | bot | agent
    at: Moment
    body: str
    html: bool
    note: bool = False


@dataclass(frozen=True)
class Ticket:
    helpdesk: str
    customer: Customer
    subject: str
    status: str
    messages: tuple[Message, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class World:
    customers: tuple[Customer, ...]
    products: tuple[Product, ...]
    orders: tuple[Order, ...]
    subscriptions: tuple[Subscription, ...]
    tickets: tuple[Ticket, ...]

    def orders_in(self, store: str) -> list[Order]:
        return [o for o in self.orders if o.store == store]

    def tickets_on(self, helpdesk: str) -> list[Ticket]:
        return [t for t in self.tickets if t.helpdesk == helpdesk]

    def customer(self, email: str) -> Customer | None:
        wanted = email.strip().casefold()
        return next((c for c in self.customers if c.email.casefold() == wanted), None)

    def order(self, number: str) -> Order | None:
        wanted = number.strip().lstrip("#").casefold()
        return next((o for o in self.orders if o.number.casefold() == wanted), None)


def today() -> date:
    """The seeding day T, in UTC like every emulator's clock."""
    return datetime.now(UTC).date()


def day(offset: int) -> date:
    return today() + timedelta(days=offset)


@functools.cache
def load(folder: Path = FOLDER) -> World:
    """The world as the YAML files describe it, checked for references that do not resolve."""
    products = tuple(_product(row) for row in _rows(folder, "products"))
    catalogue = _unique({p.sku: p for p in products}, len(products), "product SKU")
    customers = tuple(_customer(row) for row in _rows(folder, "customers"))
    people = _unique({c.email.casefold(): c for c in customers}, len(customers), "customer email")
    _unique({c.id: c for c in customers}, len(customers), "customer id")
    refs = _Refs(people, catalogue)
    orders = tuple(_order(row, refs) for row in _rows(folder, "orders"))
    _unique({o.number.casefold(): o for o in orders}, len(orders), "order number")
    subscriptions = tuple(_subscription(row, refs) for row in _rows(folder, "subscriptions"))
    known = {s.id for s in subscriptions}
    for order in orders:
        if order.subscription and order.subscription not in known:
            raise WorldError(f"order {order.number}: unknown subscription {order.subscription}")
    tickets = tuple(_ticket(row, refs) for row in _rows(folder, "tickets"))
    return World(customers, products, orders, subscriptions, tickets)


# ---- reading the files --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Refs:
    customers: dict[str, Customer]
    products: dict[str, Product]

    def customer(self, email: Any, where: str) -> Customer:
        found = self.customers.get(str(email).strip().casefold())
        if found is None:
            raise WorldError(f"{where}: unknown customer {email!r}")
        return found

    def lines(self, rows: Any, where: str) -> tuple[Line, ...]:
        lines = []
        for row in rows or ():
            product = self.products.get(row["sku"])
            if product is None:
                raise WorldError(f"{where}: unknown SKU {row['sku']!r}")
            lines.append(Line(product, int(row.get("quantity", 1))))
        return tuple(lines)


def _rows(folder: Path, name: str) -> list[dict[str, Any]]:
    rows = yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8")) or []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise WorldError(f"{name}.yaml must be a list of mappings")
    return rows


def _unique(index: dict, count: int, what: str) -> dict:
    if len(index) != count:
        raise WorldError(f"duplicate {what}")
    return index


def _offset(value: Any, where: str) -> int:
    match = _DAY.match(str(value).strip())
    if not match:
        raise WorldError(f"{where}: {value!r} is not a day like T, T-3 or T+2")
    sign, number = match.groups()
    return 0 if number is None else int(number) * (-1 if sign == "-" else 1)


def _maybe_offset(value: Any, where: str) -> int | None:
    return None if value is None else _offset(value, where)


def _moment(value: Any, where: str) -> Moment:
    match = _MOMENT.match(str(value).strip())
    if not match:
        raise WorldError(f"{where}: {value!r} is not a moment like 'T-1 15:22:09'")
    offset, hours, minutes, seconds = match.groups()
    return Moment(_offset(offset, where), time(int(hours), int(minutes), int(seconds or 0)))


def _one_of(value: Any, allowed: frozenset[str], where: str) -> str:
    if value not in allowed:
        raise WorldError(f"{where}: {value!r} is not one of {sorted(allowed)}")
    return str(value)


def _product(row: dict[str, Any]) -> Product:
    return Product(
        int(row["id"]), str(row["sku"]), str(row["name"]), float(row["price"]), str(row.get("variant", ""))
    )


def _customer(row: dict[str, Any]) -> Customer:
    address = row["address"]
    return Customer(
        id=int(row["id"]),
        name=str(row["name"]),
        email=str(row["email"]),
        phone=str(row.get("phone", "")),
        language=str(row.get("language", "en")),
        address=Address(
            street=str(address["street"]),
            street2=str(address.get("street2", "")),
            city=str(address["city"]),
            state=str(address["state"]),
            zip=str(address["zip"]),
            country=str(address.get("country", "US")),
        ),
    )


def _parcel(row: dict[str, Any], refs: _Refs, where: str) -> Parcel:
    where = f"{where}, parcel {row.get('tracking')}"
    return Parcel(
        carrier=_one_of(row["carrier"], CARRIERS, where),
        tracking=str(row["tracking"]),
        shipped=_offset(row["shipped"], where),
        status=_one_of(row["status"], PARCEL_STATUSES, where),
        estimated=_maybe_offset(row.get("estimated"), where),
        delivered=_maybe_offset(row.get("delivered"), where),
        signed=bool(row.get("signed", False)),
        items=refs.lines(row.get("items"), where),
        voided_label=str(row["voided_label"]) if row.get("voided_label") else None,
    )


def _order(row: dict[str, Any], refs: _Refs) -> Order:
    where = f"order {row.get('number')}"
    store = _one_of(row["store"], STORES, where)
    number = str(row["number"])
    if store == "bigcommerce" and not number.isdigit():
        raise WorldError(f"{where}: BigCommerce order numbers are numeric")
    return Order(
        number=number,
        customer=refs.customer(row["customer"], where),
        store=store,
        placed=_offset(row["placed"], where),
        status=_one_of(row["status"], ORDER_STATUSES, where),
        items=refs.lines(row["items"], where),
        parcels=tuple(_parcel(p, refs, where) for p in row.get("parcels") or ()),
        id=str(row["id"]) if row.get("id") else None,
        ship_by=_maybe_offset(row.get("ship_by"), where),
        cancelled=_maybe_offset(row.get("cancelled"), where),
        subscription=str(row["subscription"]) if row.get("subscription") else None,
        replacement_of=str(row["replacement_of"]) if row.get("replacement_of") else None,
        reference=row.get("reference"),
    )


def _period(value: Any, where: str) -> tuple[int, str]:
    count, _, word = str(value).strip().partition(" ")
    unit = PERIOD_UNITS.get(word.rstrip("s"))
    if not count.isdigit() or unit is None:
        raise WorldError(f"{where}: {value!r} is not a period like '2 weeks' or '1 month'")
    return int(count), unit


def _subscription(row: dict[str, Any], refs: _Refs) -> Subscription:
    where = f"subscription {row.get('id')}"
    return Subscription(
        id=str(row["id"]),
        customer=refs.customer(row["customer"], where),
        status=_one_of(row["status"], SUBSCRIPTION_STATUSES, where),
        items=refs.lines(row["items"], where),
        every=_period(row["every"], where),
        next=_maybe_offset(row.get("next"), where),
        cancelled=_maybe_offset(row.get("cancelled"), where),
        created=_offset(row.get("created", "T-90"), where),
    )


def _ticket(row: dict[str, Any], refs: _Refs) -> Ticket:
    where = f"{row.get('helpdesk')} ticket {row.get('subject')!r}"
    messages: list[Message] = []
    for spec in row["messages"]:
        at = _moment(spec["at"], where)
        body = str(spec.get("html", spec.get("text", "")))
        if "{replying_to}" in body and messages:
            body = body.replace("{replying_to}", _mail_client_date(messages[-1].at))
        messages.append(
            Message(_one_of(spec["from"], SENDERS, where), at, body, "html" in spec, bool(spec.get("note")))
        )
    return Ticket(
        helpdesk=str(row["helpdesk"]),
        customer=refs.customer(row["customer"], where),
        subject=str(row["subject"]),
        status=_one_of(row.get("status", "open"), TICKET_STATUSES, where),
        messages=tuple(messages),
        tags=tuple(row.get("tags") or ()),
    )


def _mail_client_date(moment: Moment) -> str:
    """How Gmail writes the date above a quoted reply: 'Wed, Mar 5, 2025 at 8:01 AM'."""
    stamp = moment.on(today())
    return f"{stamp:%a, %b} {stamp.day}, {stamp.year} at {stamp.hour % 12 or 12}:{stamp:%M %p}"
