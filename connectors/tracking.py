"""Where is my order, whichever tracker the store uses: the parts AfterShip and ShipEngine share.

A store tracks parcels with AfterShip or with ShipEngine (orders from ShipStation), rarely both.
Policies should not care which: `@get_tracking_info(order_id_or_tracking_number)` asks the
configured tracker, and both connectors sum their parcels up into one order status the same way
(`summarize`), so "one parcel delivered, one lost" reads identically on either platform.

Which tracker: the only one configured; when both are, POLICYDESK_TRACKER (aftership|shipengine),
defaulting to AfterShip. The connector modules are imported lazily because they import this one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from connectors.config import PlatformConfig
from connectors.errors import NotConfigured
from connectors.models import Order, Shipment
from connectors.tools import register_platform, tool

log = logging.getLogger(__name__)

T = TypeVar("T")

PLATFORM = "tracking"
TRACKERS = ("aftership", "shipengine")
DEFAULT_TRACKER = "aftership"
TRACKER_ENV = "POLICYDESK_TRACKER"

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
    dated = [(parse_instant(v), v) for v in values if v]
    dated = [(when, v) for when, v in dated if when is not None]
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


# ---- choosing the tracker ---------------------------------------------------------------------


def _tracker_configs(env: Mapping[str, str]) -> dict[str, PlatformConfig]:
    from connectors.aftership import aftership_config
    from connectors.shipengine import shipengine_deployment_config

    found = {"aftership": aftership_config(env), "shipengine": shipengine_deployment_config(env)}
    return {name: config for name, config in found.items() if config is not None}


def chosen_tracker(env: Mapping[str, str] = os.environ) -> str | None:
    """The tracker to ask, or None when neither is configured."""
    configured = _tracker_configs(env)
    if not configured:
        return None
    if len(configured) == 1:
        return next(iter(configured))
    wanted = (env.get(TRACKER_ENV) or DEFAULT_TRACKER).strip().lower()
    if wanted not in TRACKERS:
        log.warning("%s=%r is not one of %s; using %s", TRACKER_ENV, wanted, TRACKERS, DEFAULT_TRACKER)
        return DEFAULT_TRACKER
    return wanted


def tracking_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    """The "tracking" platform is on when either tracker is; its config is the chosen tracker's."""
    tracker = chosen_tracker(env)
    return _tracker_configs(env)[tracker] if tracker else None


register_platform(PLATFORM, tracking_config)


@tool(platform=PLATFORM)
def get_tracking_info(order_id_or_tracking_number: str) -> Order | Shipment | None:
    """The order (with its parcels) or the single parcel for an order id/number or a tracking number.

    Asks the store's configured tracker (AfterShip or ShipEngine). Returns null when neither an
    order nor a parcel matches.
    """
    value = (order_id_or_tracking_number or "").strip()
    if not value:
        return None
    tracker = chosen_tracker(os.environ)
    if tracker is None:
        raise NotConfigured(PLATFORM, "neither AfterShip nor ShipEngine is configured")
    if tracker == "aftership":
        from connectors import aftership

        return aftership.order_details(value) or aftership.find_shipment(value)
    from connectors import shipengine

    return shipengine.order_details(value) or shipengine.find_shipment(value)
