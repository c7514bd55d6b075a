"""ShipEngine stores: orders from ShipStation API v1, tracking from ShipEngine (docs/platforms/shipengine.md).

Why two APIs. ShipEngine (now branded "ShipStation API") is a label, rate and tracking API: it
has no production order lookup (its Sales Order API is beta, on higher plans, and not something a
support conversation can depend on). Merchants who ship with ShipEngine keep their orders in
ShipStation, so this deployment reads:
- orders from ShipStation API v1 (`GET /orders?customerName=` or a date-bounded newest-first scan,
  `?orderNumber=`, `GET /orders/{id}`; see connectors/shipstation.py) with HTTP Basic key:secret,
  and the order's shipments (`GET /shipments?orderNumber=`) for each
  parcel's trackingNumber and carrierCode;
- each shipped parcel's live status from ShipEngine `GET /v1/tracking?carrier_code=&tracking_number=`
  with the `API-Key` header.
Both sets of credentials are needed; the "shipengine" tools are off unless both are configured.
A store on ShipStation API v2 would need a different order source; that is a deployment choice.

Status vocabulary (connectors.models.ORDER_STATUSES):
    awaiting_payment -> approved        pending_fulfillment, on_hold -> processing
    awaiting_shipment -> pending_shipment (ship_date = shipByDate)
    cancelled -> canceled               rejected_fulfillment -> exception
    shipped -> from ShipEngine's status_code, per parcel, summed up by connectors.parcels.summarize:
        UN, NY, AC -> shipped    IT, AT -> in_transit (AT: detail "delivery attempted")
        DE, SP -> delivered      EX -> exception
A shipped order whose parcel ShipEngine cannot find stays "shipped" with the ShipStation data.
ShipEngine errors are {request_id, errors: [{error_source, error_type, error_code, message}]};
429 carries Retry-After (seconds), honoured by connectors.http.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from connectors import shipstation
from connectors.config import PlatformConfig, tls_verify
from connectors.errors import NotConfigured, NotFound, Rejected
from connectors.http import HttpClient
from connectors.models import Order, Shipment, TrackingEvent
from connectors.parcels import newest_first, summarize
from connectors.tools import register_platform, tool

PLATFORM = "shipengine"
DEFAULT_BASE_URL = "https://api.shipengine.com"

ORDER_STATUS = {
    "awaiting_payment": "approved",
    "pending_fulfillment": "processing",
    "on_hold": "processing",
    "awaiting_shipment": "pending_shipment",
    "cancelled": "canceled",
    "rejected_fulfillment": "exception",
    "shipped": "shipped",
}

TRACKING_STATUS = {
    "UN": "shipped",
    "NY": "shipped",
    "AC": "shipped",
    "IT": "in_transit",
    "AT": "in_transit",
    "DE": "delivered",
    "SP": "delivered",
    "EX": "exception",
}
ATTEMPTED = "delivery attempted"


def shipengine_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    key = env.get("SHIPENGINE_API_KEY")
    if not key:
        return None
    base = env.get("SHIPENGINE_BASE_URL") or DEFAULT_BASE_URL
    return PlatformConfig(PLATFORM, base, {"api_key": key}, tls_verify(env))


def shipengine_deployment_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    """ShipEngine's config, but only when ShipStation (where the orders are) is configured too."""
    return shipengine_config(env) if shipstation.shipstation_config(env) is not None else None


register_platform(PLATFORM, shipengine_deployment_config)


# 400/404 codes that mean "ShipEngine has nothing to say about this parcel", not "our request is wrong".
NO_TRACKING_CODES = frozenset(
    {
        "invalid_identifier",
        "invalid_field_value",
        "carrier_not_connected",
        "carrier_not_supported",
        "carrier_disconnected",
        "tracking_not_supported",
    }
)


def error_codes(detail: str) -> set[str]:
    """The error_code values of a ShipEngine error body ({request_id, errors: [...]}), if it is one."""
    try:
        body = json.loads(detail)
    except ValueError:
        return set()
    errors = body.get("errors") if isinstance(body, dict) else None
    return {str(e.get("error_code")) for e in errors or [] if isinstance(e, dict) and e.get("error_code")}


class ShipEngineClient:
    def __init__(self, config: PlatformConfig):
        self.http = HttpClient(
            PLATFORM, config.base_url, headers={"API-Key": config.secret("api_key")}, verify=config.verify
        )

    def track(self, carrier_code: str, tracking_number: str) -> dict[str, Any] | None:
        """ShipEngine's tracking log, or None when ShipEngine does not know this parcel or carrier."""
        params = {"carrier_code": carrier_code, "tracking_number": tracking_number}
        try:
            body = self.http.get_json("/v1/tracking", params=params)
        except NotFound:
            return None
        except Rejected as exc:
            if exc.status == 400 and error_codes(exc.detail) & NO_TRACKING_CODES:
                return None
            raise
        return body if isinstance(body, dict) else None


def client(env: Mapping[str, str] = os.environ) -> ShipEngineClient:
    config = shipengine_config(env)
    if config is None:
        raise NotConfigured(PLATFORM, "SHIPENGINE_API_KEY is not set")
    return ShipEngineClient(config)


# ---- normalizing ------------------------------------------------------------------------------


def _location(event: Mapping[str, Any]) -> str | None:
    parts = [event.get(k) for k in ("city_locality", "state_province", "postal_code", "country_code")]
    return ", ".join(p for p in parts if p) or None


def _detail(log: Mapping[str, Any], status_code: str) -> str | None:
    described = (
        log.get("exception_description")
        or log.get("status_detail_description")
        or log.get("carrier_status_description")
        or None
    )
    if status_code == "AT":
        return f"{ATTEMPTED}: {described}" if described else ATTEMPTED
    code = log.get("status_detail_code")
    if described and code:
        return f"{described} ({code})"
    return described or code or log.get("status_description")


def to_shipment(
    log: Mapping[str, Any], *, carrier: str | None = None, ship_date: str | None = None
) -> Shipment:
    """A ShipEngine tracking log as a parcel in our vocabulary; events newest first."""
    code = str(log.get("status_code") or "UN")
    events = [
        TrackingEvent(
            occurred_at=e.get("occurred_at"),
            description=e.get("description") or e.get("carrier_status_description") or "",
            location=_location(e),
            status=TRACKING_STATUS.get(str(e.get("status_code") or "")),
        )
        for e in log.get("events") or []
        if isinstance(e, dict)
    ]
    return Shipment(
        tracking_number=str(log.get("tracking_number") or ""),
        carrier=log.get("carrier_code") or carrier,
        status=TRACKING_STATUS.get(code, "shipped"),
        carrier_status=code,
        status_detail=_detail(log, code),
        tracking_url=log.get("tracking_url") or None,
        ship_date=log.get("ship_date") or ship_date,
        estimated_delivery=log.get("estimated_delivery_date") or None,
        actual_delivery=log.get("actual_delivery_date") or None,
        events=tuple(newest_first(events, lambda e: e.occurred_at)),
    )


def _untracked(shipment: Mapping[str, Any]) -> Shipment:
    """A ShipStation shipment ShipEngine has no log for: labelled, so at least shipped."""
    return Shipment(
        tracking_number=str(shipment.get("trackingNumber") or ""),
        carrier=shipment.get("carrierCode"),
        status="shipped",
        ship_date=shipstation.day(shipment.get("shipDate")),
    )


def _parcels(
    ss: shipstation.ShipStationClient, se: ShipEngineClient, order: Mapping[str, Any]
) -> tuple[Shipment, ...]:
    parcels = []
    for shipment in ss.shipments_for(order):
        number, carrier = shipment.get("trackingNumber"), shipment.get("carrierCode")
        log = se.track(str(carrier), str(number)) if number and carrier else None
        ship_date = shipstation.day(shipment.get("shipDate"))
        parcels.append(
            to_shipment(log, carrier=carrier, ship_date=ship_date) if log else _untracked(shipment)
        )
    return tuple(parcels)


def to_order(order: Mapping[str, Any], shipments: tuple[Shipment, ...] = ()) -> Order:
    """A ShipStation order (plus its tracked parcels when shipped) as an Order."""
    platform_status = str(order.get("orderStatus") or "")
    status = ORDER_STATUS.get(platform_status, "processing")
    summary = summarize(shipments) if platform_status == "shipped" else None
    ship_date = shipstation.day(order.get("shipByDate")) if platform_status == "awaiting_shipment" else None
    if platform_status == "shipped":
        status = summary.status if summary else "shipped"
        ship_date = (summary.ship_date if summary else None) or shipstation.day(order.get("shipDate"))
    total = order.get("orderTotal")
    return Order(
        platform=PLATFORM,
        id=str(order.get("orderId") or ""),
        number=str(order.get("orderNumber") or ""),
        status=status,
        email=order.get("customerEmail"),
        customer_id=str(order["customerId"]) if order.get("customerId") is not None else None,
        created_at=shipstation.local_timestamp(order.get("orderDate") or order.get("createDate")),
        ship_date=ship_date,
        estimated_delivery=summary.estimated_delivery if summary else None,
        actual_delivery=summary.actual_delivery if summary else None,
        items=shipstation.items(order),
        shipments=shipments,
        shipping_address=shipstation.address(order.get("shipTo")),
        total=float(total) if isinstance(total, int | float) else None,
        platform_status=platform_status or None,
    )


def _complete(order: Mapping[str, Any], env: Mapping[str, str]) -> Order:
    if order.get("orderStatus") != "shipped":
        return to_order(order)
    return to_order(order, _parcels(shipstation.client(env), client(env), order))


def _require(env: Mapping[str, str]) -> None:
    if shipengine_deployment_config(env) is None:
        raise NotConfigured(PLATFORM, "needs SHIPENGINE_API_KEY and SHIPSTATION_API_KEY/SECRET")


# ---- operations the tools (and tracking.get_tracking_info) use -----------------------------------


def orders_for_email(email: str, name: str = "", env: Mapping[str, str] = os.environ) -> list[Order]:
    _require(env)
    wanted = (email or "").strip()
    if not wanted or "@" not in wanted:
        return []
    found = shipstation.client(env).orders_by_email(wanted, (name or "").strip() or None)
    orders = [_complete(o, env) for o in found]
    return newest_first(orders, lambda o: o.created_at)


def order_details(order_id: str, env: Mapping[str, str] = os.environ) -> Order | None:
    """By order number first (what customers quote), then by ShipStation's numeric orderId."""
    _require(env)
    reference = (order_id or "").strip()
    if not reference:
        return None
    ss = shipstation.client(env)
    found = ss.orders_by_number(reference)
    if not found and reference.startswith("#"):
        found = ss.orders_by_number(reference[1:])
    if not found and reference.isdigit() and len(reference) < 19:
        order = ss.order(int(reference))
        found = [order] if order else []
    if not found:
        return None
    newest = newest_first(found, lambda o: shipstation.local_timestamp(o.get("orderDate")))
    return _complete(newest[0], env)


def find_shipment(tracking_number: str, env: Mapping[str, str] = os.environ) -> Shipment | None:
    """A parcel by tracking number: ShipStation tells which carrier, ShipEngine where it is."""
    _require(env)
    number = (tracking_number or "").strip()
    if not number:
        return None
    shipment = shipstation.client(env).shipment_by_tracking_number(number)
    if shipment is None:
        return None
    carrier = shipment.get("carrierCode")
    log = client(env).track(str(carrier), number) if carrier else None
    ship_date = shipstation.day(shipment.get("shipDate"))
    return to_shipment(log, carrier=carrier, ship_date=ship_date) if log else _untracked(shipment)


@tool(platform=PLATFORM)
def get_shipengine_orders(email: str, name: str = "") -> list[Order]:
    """The customer's recent orders (from ShipStation) with live ShipEngine tracking, newest first.

    `email` is the verified customer's; `name` (the name the helpdesk holds for them) lets
    ShipStation narrow the search, and every order returned still carries that email.

    Status is one of approved, processing, pending_shipment (ship_date = ship-by date), shipped,
    in_transit, delivered, canceled, exception; shipped orders carry their parcels with tracking
    link, estimated/actual delivery and carrier events. An empty list when there are none.
    """
    return orders_for_email(email, name)


@tool(platform=PLATFORM)
def shipengine_order_details(order_id: str) -> Order | None:
    """One order by order number or ShipStation orderId, with live tracking; null when not found."""
    return order_details(order_id)
