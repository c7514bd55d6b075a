"""AfterShip Tracking API (date-versioned 2025-01) as orders and parcels (docs/platforms/aftership.md).

AfterShip knows parcels, not orders: each tracking carries the store's `order_id`/`order_number`
and the buyer in `customers[]`. So an "order" here is the trackings that share an order reference,
and a customer's orders are the trackings whose customers include their email.

Why the lookups look the way they do:
- `keyword` searches emails among other fields, but which fields and how loosely is UNVERIFIED, so
  every list is filtered again on `customers[].email` (case-insensitive): a loose match must never
  show one customer another's parcels.
- 2025-01 addresses trackings only by AfterShip id, so a tracking number is looked up with
  `GET /trackings?tracking_numbers=`, and an order with `GET /trackings?order_id=` (then by
  `keyword`, for customers who quote the order number, e.g. "#AS-1001").
- The envelope is `{meta, data}`; `meta.code` 4004 (tracking does not exist) means "no such thing",
  not a failure. 429 carries X-RateLimit-Reset as epoch seconds; connectors.ratelimit reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.config import PlatformConfig, tls_verify
from connectors.errors import NotConfigured, NotFound, PlatformError
from connectors.http import HttpClient
from connectors.models import Address, Order, Shipment, TrackingEvent
from connectors.parcels import newest_first, parse_instant, summarize
from connectors.tools import register_platform, tool

PLATFORM = "aftership"
DEFAULT_BASE_URL = "https://api.aftership.com/tracking/2025-01"
PAGE_LIMIT = 100
MAX_PAGES = 5  # a customer with more than 500 parcels is not a support conversation
NOT_FOUND_CODE = 4004

TAG_STATUS = {
    "Pending": "shipped",
    "InfoReceived": "shipped",
    "InTransit": "in_transit",
    "OutForDelivery": "in_transit",
    "AvailableForPickup": "in_transit",
    "Delivered": "delivered",
    "AttemptFail": "exception",
    "Exception": "exception",
    "Expired": "exception",
}


def aftership_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    key = env.get("AFTERSHIP_API_KEY")
    if not key:
        return None
    base = env.get("AFTERSHIP_BASE_URL") or DEFAULT_BASE_URL
    return PlatformConfig(PLATFORM, base, {"api_key": key}, tls_verify(env))


register_platform(PLATFORM, aftership_config)


class AfterShipClient:
    """The read calls a "where is my order" conversation needs."""

    def __init__(self, config: PlatformConfig):
        self.http = HttpClient(
            PLATFORM, config.base_url, headers={"as-api-key": config.secret("api_key")}, verify=config.verify
        )

    def trackings(self, **params: str) -> list[dict[str, Any]]:
        """All trackings matching the filters, following the cursor for a bounded number of pages."""
        found: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            query = {**params, "limit": str(PAGE_LIMIT), **({"cursor": cursor} if cursor else {})}
            try:
                data = _data(self.http.get_json("/trackings", params=query))
            except NotFound:
                return found
            if not isinstance(data, dict):
                return found
            found.extend(t for t in data.get("trackings") or [] if isinstance(t, dict))
            pagination = data.get("pagination") or {}
            cursor = pagination.get("next_cursor") or ""
            if not pagination.get("has_next_page") or not cursor:
                break
        return found


def client(env: Mapping[str, str] = os.environ) -> AfterShipClient:
    config = aftership_config(env)
    if config is None:
        raise NotConfigured(PLATFORM, "AFTERSHIP_API_KEY is not set")
    return AfterShipClient(config)


def _data(body: Any) -> Any:
    """Unwrap {meta, data}; a 2xx whose meta says 4004 is a miss, any other non-2xx meta a failure."""
    if not isinstance(body, dict):
        raise PlatformError(PLATFORM, "response is not an AfterShip envelope")
    meta = body.get("meta") or {}
    code = meta.get("code", 200)
    if code == NOT_FOUND_CODE:
        raise NotFound(PLATFORM, "tracking does not exist", status=404)
    if isinstance(code, int) and not 200 <= code < 300:
        raise PlatformError(PLATFORM, f"meta code {code}: {meta.get('type') or ''}", detail=str(meta))
    return body.get("data")


# ---- normalizing ------------------------------------------------------------------------------


def _emails(tracking: Mapping[str, Any]) -> set[str]:
    """Buyer emails: `customers[]` in 2025-01, `emails[]` in older versions."""
    found = {
        (c.get("email") or "").strip().casefold()
        for c in tracking.get("customers") or []
        if isinstance(c, dict)
    }
    found |= {e.strip().casefold() for e in tracking.get("emails") or [] if isinstance(e, str)}
    return found - {""}


def _estimated_delivery(tracking: Mapping[str, Any]) -> str | None:
    """The best single "expected on" date, from the freshest source AfterShip offers."""
    latest = tracking.get("latest_estimated_delivery") or {}
    for value in (latest.get("datetime"), latest.get("datetime_max")):
        if value:
            return value
    for name in ("courier_estimated_delivery_date", "aftership_estimated_delivery_date"):
        estimate = tracking.get(name) or {}
        value = estimate.get("estimated_delivery_date") or estimate.get("estimated_delivery_date_max")
        if value:
            return value
    custom = tracking.get("custom_estimated_delivery_date") or {}
    return custom.get("datetime") or custom.get("datetime_max") or tracking.get("expected_delivery") or None


def _location(checkpoint: Mapping[str, Any]) -> str | None:
    if checkpoint.get("location"):
        return checkpoint["location"]
    parts = [checkpoint.get(k) for k in ("city", "state", "country_region_name", "country_region")]
    text = ", ".join(dict.fromkeys(p for p in parts if p))
    return text or None


def _detail(tag: str | None, subtag: str | None, message: str | None) -> str | None:
    if message and subtag:
        return f"{message} ({subtag})"
    return message or subtag or tag


def to_shipment(tracking: Mapping[str, Any]) -> Shipment:
    """One AfterShip tracking as a parcel in our status vocabulary; events newest first."""
    tag = tracking.get("tag")
    events = [
        TrackingEvent(
            occurred_at=c.get("checkpoint_time"),
            description=c.get("message") or c.get("subtag_message") or "",
            location=_location(c),
            status=TAG_STATUS.get(c.get("tag") or ""),
        )
        for c in tracking.get("checkpoints") or []
        if isinstance(c, dict)
    ]
    return Shipment(
        tracking_number=str(tracking.get("tracking_number") or ""),
        carrier=tracking.get("slug"),
        status=TAG_STATUS.get(tag or "", "shipped"),
        carrier_status=tag,
        status_detail=_detail(tag, tracking.get("subtag"), tracking.get("subtag_message")),
        tracking_url=tracking.get("courier_tracking_link") or tracking.get("aftership_tracking_url"),
        ship_date=tracking.get("shipment_pickup_date"),
        estimated_delivery=_estimated_delivery(tracking),
        actual_delivery=tracking.get("shipment_delivery_date"),
        events=tuple(newest_first(events, lambda e: e.occurred_at)),
    )


def _order_key(tracking: Mapping[str, Any]) -> str:
    return str(
        tracking.get("order_id") or tracking.get("order_number") or tracking.get("tracking_number") or ""
    )


def _address(tracking: Mapping[str, Any]) -> Address | None:
    fields = {
        "city": tracking.get("destination_city"),
        "state": tracking.get("destination_state"),
        "zip": tracking.get("destination_postal_code"),
        "country": tracking.get("destination_country_region") or tracking.get("destination_country_iso3"),
    }
    return Address(**fields) if any(fields.values()) else None


def to_order(trackings: list[Mapping[str, Any]], email: str | None = None) -> Order:
    """The trackings of one order as an Order; its status sums up its parcels (parcels.summarize)."""
    first = trackings[0]
    shipments = tuple(to_shipment(t) for t in trackings)
    summary = summarize(shipments)
    buyer = email or next(iter(sorted(_emails(first))), None)
    order_number = first.get("order_number") or first.get("order_id") or first.get("tracking_number")
    return Order(
        platform=PLATFORM,
        id=_order_key(first),
        number=str(order_number or ""),
        status=summary.status if summary else "shipped",
        email=buyer,
        created_at=first.get("order_date") or first.get("created_at"),
        ship_date=summary.ship_date if summary else None,
        estimated_delivery=summary.estimated_delivery if summary else None,
        actual_delivery=summary.actual_delivery if summary else None,
        shipments=shipments,
        shipping_address=_address(first),
        platform_status=",".join(dict.fromkeys(s.carrier_status or "" for s in shipments)) or None,
    )


def _group(trackings: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for tracking in trackings:
        groups.setdefault(_order_key(tracking), []).append(tracking)
    return groups


def _newest_orders(orders: Iterable[Order]) -> list[Order]:
    return newest_first(orders, lambda o: o.created_at)


def _same_reference(a: str, b: str) -> bool:
    """Customers write "#AS-1001", "as-1001" or "AS-1001" for the same order."""
    return a.strip().lstrip("#").casefold() == b.strip().lstrip("#").casefold()


# ---- operations the tools (and tracking.get_tracking_info) use -----------------------------------


def orders_for_email(email: str, env: Mapping[str, str] = os.environ) -> list[Order]:
    wanted = (email or "").strip().casefold()
    if not wanted or "@" not in wanted:
        return []
    found = [t for t in client(env).trackings(keyword=wanted) if wanted in _emails(t)]
    return _newest_orders(to_order(group, wanted) for group in _group(found).values())


def order_details(order_id: str, env: Mapping[str, str] = os.environ) -> Order | None:
    reference = (order_id or "").strip()
    if not reference:
        return None
    api = client(env)
    found = api.trackings(order_id=reference)
    if not found:
        # Customers quote the order number (often with "#"); keyword search covers it, loosely.
        needle = reference.lstrip("#") or reference
        found = [
            t
            for t in api.trackings(keyword=needle)
            if any(_same_reference(str(t.get(f) or ""), reference) for f in ("order_id", "order_number"))
        ]
    if not found:
        return None
    orders = _newest_orders(to_order(group) for group in _group(found).values())
    return orders[0]


def find_shipment(tracking_number: str, env: Mapping[str, str] = os.environ) -> Shipment | None:
    number = (tracking_number or "").strip()
    if not number or "," in number:
        return None
    matches = [
        t
        for t in client(env).trackings(tracking_numbers=number)
        if str(t.get("tracking_number") or "").casefold() == number.casefold()
    ]
    if not matches:
        return None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    newest = max(matches, key=lambda t: parse_instant(t.get("updated_at")) or epoch)
    return to_shipment(newest)


@tool(platform=PLATFORM)
def get_aftership_orders(email: str) -> list[Order]:
    """The customer's orders known to AfterShip (parcels grouped by order), newest first.

    Each order's status sums up its parcels: shipped, in_transit, delivered or exception; each
    parcel keeps AfterShip's tag and subtag, its tracking link, estimated and actual delivery dates
    and checkpoints (newest first). An empty list when AfterShip has nothing for this email.
    """
    return orders_for_email(email)


@tool(platform=PLATFORM)
def aftership_order_details(order_id: str) -> Order | None:
    """One order's parcels and delivery status from AfterShip, by order id or order number.

    Null when AfterShip has no tracking for that order.
    """
    return order_details(order_id)
