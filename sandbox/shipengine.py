"""ShipEngine tracking (GET /v1/tracking) as the sandbox serves it (docs/platforms/shipengine.md).

Mounted at /shipengine, so SHIPENGINE_BASE_URL is https://host:port/shipengine and the path is
ShipEngine's own /v1/tracking?carrier_code=&tracking_number=. Responses follow the vendor's OpenAPI
document (tests/test_shipengine_openapi.py validates them): `get_tracking_log_response_body` with
status_code UN/AC/IT/DE/EX/AT/NY/SP, status_detail_code, events with the required carrier fields,
and absent dates omitted rather than null (the spec's date_time is not nullable). Errors are
{request_id, errors: [{error_source, error_type, error_code, message}]}:
    401 missing/wrong API-Key       security / unauthorized
    400 missing parameter           validation / field_value_required
    400 unknown carrier_code        validation / invalid_field_value
    404 unknown tracking number     validation / invalid_identifier
    429 (injected as a fault)       system / rate_limit_exceeded, with Retry-After in seconds

Seeded data: one tracking log per parcel of the sandbox's world (sandbox/world/), the same
parcels ShipStation lists as shipments (sandbox/shipstation.py), so the two never
disagree. World parcel statuses map to status_code / status_detail_code: label_created NY
SHIPMENT_CREATED, picked_up AC PICKED_UP, in_transit IT IN_TRANSIT, at_local_hub IT HUB_SCAN_IN,
out_for_delivery IT OUT_FOR_DELIVERY, available_for_pickup SP DELIVERED_TO_PICKUP_POINT, delivered
DE DELIVERED, attempt_failed AT ATTEMPTED_DELIVERY, address_problem EX
NO_ACCESS_TO_RECIPIENTS_ADDRESS, lost EX PARCEL_LOST. A voided label (e.g. 1Z999SE10000009020) has no
tracking log (404), as a never-scanned label would.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import world
from sandbox.app import sandbox_state, section
from sandbox.shipstation import CARRIER_CODES
from sandbox.state import Fault

PLATFORM = "shipengine"
PREFIX = "/shipengine"
HELPDESK = False

API_KEY = "TEST_sandboxShipEngineKey0123456789"
RATE_LIMIT = 200  # requests per minute per key

CARRIERS = {
    "ups": (1001, "https://www.ups.com/track?tracknum={}"),
    "stamps_com": (1002, "https://tools.usps.com/go/TrackConfirmAction.action?tLabels={}"),
    "fedex": (1003, "https://www.fedex.com/fedextrack/?trknbr={}"),
    "dhl_express": (1004, "https://www.dhl.com/us-en/home/tracking.html?tracking-id={}"),
}
STATUS_CODES = {  # world parcel status -> (status_code, status_detail_code)
    "label_created": ("NY", "SHIPMENT_CREATED"),
    "picked_up": ("AC", "PICKED_UP"),
    "in_transit": ("IT", "IN_TRANSIT"),
    "at_local_hub": ("IT", "HUB_SCAN_IN"),
    "out_for_delivery": ("IT", "OUT_FOR_DELIVERY"),
    "available_for_pickup": ("SP", "DELIVERED_TO_PICKUP_POINT"),
    "delivered": ("DE", "DELIVERED"),
    "attempt_failed": ("AT", "ATTEMPTED_DELIVERY"),
    "address_problem": ("EX", "NO_ACCESS_TO_RECIPIENTS_ADDRESS"),
    "lost": ("EX", "PARCEL_LOST"),
}
STATUS_DESCRIPTIONS = {
    "UN": "Unknown",
    "AC": "Accepted",
    "IT": "In Transit",
    "DE": "Delivered",
    "EX": "Exception",
    "AT": "Delivery Attempt",
    "NY": "Not Yet In System",
    "SP": "Delivered To Collection Location",
}
DETAIL_DESCRIPTIONS = {
    "SHIPMENT_CREATED": "The shipment label has been created.",
    "PICKED_UP": "Your parcel has been picked up by the carrier.",
    "IN_TRANSIT": "Your shipment is on its way between the carrier hubs.",
    "HUB_SCAN_OUT": "Your parcel has left the carrier hub.",
    "HUB_SCAN_IN": "Your parcel has arrived at the carrier hub.",
    "OUT_FOR_DELIVERY": "Your parcel is out for delivery.",
    "ATTEMPTED_DELIVERY": "The carrier attempted to deliver your parcel but was unable to do so.",
    "DELIVERED": "Your parcel has been successfully delivered.",
    "DELIVERED_TO_PICKUP_POINT": "Your parcel has been delivered to a pickup point.",
    "NO_ACCESS_TO_RECIPIENTS_ADDRESS": "The carrier could not access the delivery address.",
    "PARCEL_LOST": "Your parcel has been lost by the carrier.",
}
# (status_code, status_detail_code, description, city, state, postal code, carrier code)
JOURNEY = [
    ("AC", "PICKED_UP", "Picked up by carrier", "COLUMBUS", "OH", "43215", "OR"),
    ("IT", "HUB_SCAN_OUT", "Departed facility", "LOUISVILLE", "KY", "40201", "DP"),
    ("IT", "HUB_SCAN_IN", "Arrived at destination facility", "CHICAGO", "IL", "60607", "AR"),
]
FINAL_EVENTS = {
    "AT": ("Delivery attempted - no one available to sign", "CHICAGO", "IL", "60606", "NA"),
    "DE": ("Delivered, front door", "CHICAGO", "IL", "60606", "DL"),
    "SP": ("Delivered to UPS Access Point", "CHICAGO", "IL", "60606", "AP"),
    "EX": ("Delivery exception", "CHICAGO", "IL", "60606", "EX"),
}
EVENTS_BEFORE = {"NY": 0, "AC": 1, "PARCEL_LOST": 2}  # journey steps shown; default all of them
EXCEPTION_TEXT = {
    "NO_ACCESS_TO_RECIPIENTS_ADDRESS": "No access to delivery location",
    "PARCEL_LOST": "Package lost in transit",
}

blueprint = Blueprint("shipengine", __name__)


# ---- helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """One parcel as ShipEngine tracks it (days are relative to T)."""

    carrier: str  # ShipEngine carrier_code
    tracking_number: str
    shipped: int
    code: str  # status_code
    detail_code: str  # status_detail_code
    estimate: int | None = None
    delivered: int | None = None


def _label(parcel: world.Parcel) -> Label:
    code, detail = STATUS_CODES[parcel.status]
    return Label(
        CARRIER_CODES[parcel.carrier],
        parcel.tracking,
        parcel.shipped,
        code,
        detail,
        parcel.estimated,
        parcel.delivered,
    )


def _moment(offset: int, hour: int) -> str:
    stamp = datetime.combine(world.day(offset), datetime.min.time()) + timedelta(hours=hour)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, error_type: str, code: str, message: str, field_name: str | None = None) -> Response:
    error: dict[str, Any] = {
        "error_source": "shipengine",
        "error_type": error_type,
        "error_code": code,
        "message": message,
    }
    if field_name:
        error["field_name"] = field_name
    response = jsonify({"request_id": str(uuid.uuid4()), "errors": [error]})
    response.status_code = status
    return response


def _unauthorized() -> Response | None:
    if request.headers.get("API-Key") == API_KEY:
        return None
    return _error(
        401,
        "security",
        "unauthorized",
        "The API key is invalid. Please see https://www.shipengine.com/docs/auth",
    )


# ---- API ----------------------------------------------------------------------------------------


@blueprint.get("/v1/tracking")
def get_tracking_log():
    denied = _unauthorized()
    if denied:
        return denied
    carrier = (request.args.get("carrier_code") or "").strip()
    number = (request.args.get("tracking_number") or "").strip()
    for name, value in (("carrier_code", carrier), ("tracking_number", number)):
        if not value:
            return _error(400, "validation", "field_value_required", f"{name} is required.", name)
    if carrier not in CARRIERS:
        return _error(
            400,
            "validation",
            "invalid_field_value",
            f"'{carrier}' is not a valid carrier_code.",
            "carrier_code",
        )
    with sandbox_state().lock:
        log = section(PLATFORM).get("trackings", {}).get(f"{carrier}:{number}")
    if log is None:
        return _error(
            404,
            "validation",
            "invalid_identifier",
            f"Tracking number '{number}' was not found for carrier '{carrier}'.",
            "tracking_number",
        )
    return jsonify(log)


def fault_response(fault: Fault) -> Response:
    """429 carries Retry-After in seconds and ShipEngine's error body."""
    if fault.status == 429:
        wait = 60 if fault.retry_after is None else max(0, math.ceil(float(fault.retry_after)))
        response = _error(429, "system", "rate_limit_exceeded", "You have exceeded the rate limit.")
        if fault.body is not None:
            response = jsonify(fault.body)
            response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response
    if fault.body is not None:
        response = jsonify(fault.body)
        response.status_code = fault.status
        return response
    return _error(fault.status, "system", "unspecified", "An error occurred on ShipEngine's side.")


def client_env(base_url: str) -> dict[str, str]:
    return {"SHIPENGINE_BASE_URL": f"{base_url}{PREFIX}", "SHIPENGINE_API_KEY": API_KEY}


# ---- seeded data --------------------------------------------------------------------------------


def _event(
    code: str, detail: str, description: str, city: str, state: str, postal: str, carrier_code: str, when: str
) -> dict[str, Any]:
    return {
        "occurred_at": when,
        "carrier_occurred_at": when.replace("Z", "-06:00"),
        "description": description,
        "city_locality": city,
        "state_province": state,
        "postal_code": postal,
        "country_code": "US",
        "company_name": "",
        "signer": "",
        "event_code": carrier_code,
        "carrier_detail_code": carrier_code,
        "status_code": code,
        "status_detail_code": detail,
        "status_description": STATUS_DESCRIPTIONS[code],
        "status_detail_description": DETAIL_DESCRIPTIONS.get(detail, ""),
        "carrier_status_code": carrier_code,
        "carrier_status_description": description,
    }


def _events(parcel: Label) -> list[dict[str, Any]]:
    """Newest first, as ShipEngine lists them: the journey so far, then the final event if any."""
    count = EVENTS_BEFORE.get(parcel.detail_code, EVENTS_BEFORE.get(parcel.code, len(JOURNEY)))
    steps = [(*step,) for step in JOURNEY[:count]]
    if parcel.detail_code == "OUT_FOR_DELIVERY":
        steps.append(("IT", "OUT_FOR_DELIVERY", "Out for delivery", "CHICAGO", "IL", "60606", "OD"))
    if parcel.code in FINAL_EVENTS:
        description, city, state, postal, carrier_code = FINAL_EVENTS[parcel.code]
        if parcel.code == "EX":
            description = EXCEPTION_TEXT.get(parcel.detail_code, description)
        steps.append((parcel.code, parcel.detail_code, description, city, state, postal, carrier_code))
    last = parcel.delivered if parcel.delivered is not None else -1
    span = max(1, len(steps) - 1)
    events = [
        _event(*step, when=_moment(parcel.shipped + round((last - parcel.shipped) * i / span), 13 + i))
        for i, step in enumerate(steps)
    ]
    return list(reversed(events))


def _log(parcel: Label) -> dict[str, Any]:
    carrier_id, url = CARRIERS[parcel.carrier]
    events = _events(parcel)
    latest = events[0] if events else None
    log: dict[str, Any] = {
        "tracking_number": parcel.tracking_number,
        "tracking_url": url.format(parcel.tracking_number),
        "status_code": parcel.code,
        "status_detail_code": parcel.detail_code,
        "carrier_code": parcel.carrier,
        "carrier_id": carrier_id,
        "status_description": STATUS_DESCRIPTIONS[parcel.code],
        "status_detail_description": DETAIL_DESCRIPTIONS.get(parcel.detail_code, ""),
        "carrier_status_code": latest["carrier_status_code"] if latest else "LC",
        "carrier_detail_code": latest["carrier_detail_code"] if latest else "LC",
        "carrier_status_description": latest["description"] if latest else "Label created",
        "events": events,
    }
    if parcel.code != "NY":
        log["ship_date"] = _moment(parcel.shipped, 12)
    if parcel.estimate is not None:
        log["estimated_delivery_date"] = _moment(parcel.estimate, 0)
    if parcel.delivered is not None:
        log["actual_delivery_date"] = latest["occurred_at"] if latest else _moment(parcel.delivered, 15)
    if parcel.code == "EX":
        log["exception_description"] = EXCEPTION_TEXT.get(parcel.detail_code, "Delivery exception")
    return log


def seed(data: dict[str, Any]) -> None:
    data.clear()
    labels = [_label(parcel) for order in world.load().orders for parcel in order.parcels]
    data["trackings"] = {f"{label.carrier}:{label.tracking_number}": _log(label) for label in labels}
