"""An order's parcels summed up into one status, the same way for every platform that ships them.

AfterShip, ShipEngine and Shopify each report parcels; `summarize` turns them into the order-level
status and dates policies read, so "one parcel delivered, one lost" reads identically on each. The
timestamp helpers live here because every vendor mixes dates, offsets and naive times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from connectors.models import Shipment

T = TypeVar("T")

# How far a parcel has got; an order is only as far along as its slowest parcel.
PROGRESS = ("shipped", "in_transit", "delivered")


@dataclass(frozen=True)
class ShipmentSummary:
    """What an order's parcels say together: the order-level status and dates."""

    status: str
    ship_date: str | None
    estimated_delivery: str | None
    actual_delivery: str | None


def parse_instant(value: str | None) -> datetime | None:
    """Vendors mix dates, offsets and naive timestamps; compare them all as aware UTC datetimes."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _pick(values: Iterable[str | None], *, latest: bool) -> str | None:
    parsed = [(parse_instant(v), v) for v in values if v]
    dated = [(when, v) for when, v in parsed if when is not None]
    if not dated:
        return None
    return (max if latest else min)(dated, key=lambda pair: pair[0])[1]


def newest_first(events: Iterable[T], key: Callable[[T], str | None]) -> list[T]:
    """Sort by a timestamp attribute, newest first; undated items sink to the end in their order."""
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda item: parse_instant(key(item)) or floor, reverse=True)


def summarize(shipments: Sequence[Shipment]) -> ShipmentSummary | None:
    """One status for an order with several parcels.

    Any parcel in trouble makes the order an exception (a human must look); otherwise the order is
    as far along as its least advanced parcel, so "delivered" means every parcel arrived. The
    estimate is the latest one among parcels still on their way: that is when the order is complete.
    """
    if not shipments:
        return None
    if any(s.status == "exception" for s in shipments):
        status = "exception"
    else:
        rank = {name: i for i, name in enumerate(PROGRESS)}
        status = min((s.status for s in shipments), key=lambda st: rank.get(st, 0))
        if status not in rank:
            status = "shipped"
    pending = [s for s in shipments if s.status != "delivered"]
    return ShipmentSummary(
        status=status,
        ship_date=_pick((s.ship_date for s in shipments), latest=False),
        estimated_delivery=_pick((s.estimated_delivery for s in pending), latest=True),
        actual_delivery=(
            _pick((s.actual_delivery for s in shipments), latest=True) if status == "delivered" else None
        ),
    )
