"""AfterShip Tracking API 2025-01 as the sandbox serves it (docs/platforms/aftership.md).

Mounted at /aftership/tracking/2025-01, so AFTERSHIP_BASE_URL is https://host:port/aftership/tracking/2025-01
and the paths below it are AfterShip's own. Faithful where a connector can get it wrong:
- `as-api-key` auth (401 with meta.type "Unauthorized" otherwise);
- the {meta, data} envelope: `data` is the tracking for GET /trackings/{id} and
  {pagination: {total, next_cursor, has_next_page}, trackings} for lists, cursor-paged;
- GET /trackings filters `keyword` (a loose, case-insensitive substring search over tracking number,
  title, order id/number and customers' names and emails, so clients must check emails themselves),
  `tracking_numbers` (comma list), `order_id`, `slug`, `tag`, `limit` (1-200), `cursor`;
- a missing tracking is HTTP 404 with meta.code 4004; bad parameters are 400 with meta.code 4xxx;
- X-RateLimit-Limit/-Remaining/-Reset (epoch seconds) on every response; a throttle (injected as a
  fault) is 429 with meta.type "TooManyRequests" and X-RateLimit-Reset = now + the fault's wait.

Seeded data: one tracking per parcel of the sandbox's world (sandbox/world/), every
order of every store, with the order's customer as buyer, order_id = the order's number and
order_number "#" + it (e.g. "AS-1004" / "#AS-1004", "5001" / "#5001"). World parcel statuses map to
subtags: label_created InfoReceived_001, picked_up InTransit_002, in_transit InTransit_007,
at_local_hub InTransit_003, out_for_delivery OutForDelivery_001, available_for_pickup
AvailableForPickup_001, delivered Delivered_001 (Delivered_003 when signed), attempt_failed
AttemptFail_001, address_problem Exception_007, lost Exception_013. The estimate is the carrier's
(first/latest_estimated_delivery) unless EDD_FIELDS says this parcel reports it another way (the
courier's own field, AfterShip's prediction, or the legacy `expected_delivery`), so each of the ways
AfterShip reports an estimate occurs in the data.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import world
from sandbox.app import count_request, sandbox_state, section
from sandbox.state import Fault

PLATFORM = "aftership"
PREFIX = "/aftership/tracking/2025-01"
HELPDESK = False

API_KEY = "asat_sandbox_0123456789abcdef0123456789abcdef"
LIST_RATE_LIMIT = 6  # GET /trackings, per second
OTHER_RATE_LIMIT = 5
MAX_LIMIT = 200
DEFAULT_LIMIT = 100
TRACKING_PAGE = "https://acme-shop.aftership.com"

COURIER_LINKS = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/us-en/home/tracking.html?tracking-id={}",
}

SUBTAGS = {  # world parcel status -> AfterShip subtag
    "label_created": "InfoReceived_001",
    "picked_up": "InTransit_002",
    "in_transit": "InTransit_007",
    "at_local_hub": "InTransit_003",
    "out_for_delivery": "OutForDelivery_001",
    "available_for_pickup": "AvailableForPickup_001",
    "delivered": "Delivered_001",
    "attempt_failed": "AttemptFail_001",
    "address_problem": "Exception_007",
    "lost": "Exception_013",
}
# parcels whose estimate AfterShip reports in another field than first/latest_estimated_delivery
EDD_FIELDS = {
    "1Z999AA10000001001": "courier_edd",
    "9400111200000000001011": "aftership_edd",
    "1Z999AA10000001010": "expected_delivery",
}

SUBTAG_MESSAGES = {
    "Pending_001": "Pending",
    "InfoReceived_001": "Info Received",
    "InTransit_002": "Acceptance scan",
    "InTransit_003": "Arrival scan",
    "InTransit_007": "Departure Scan",
    "OutForDelivery_001": "Out for Delivery",
    "AvailableForPickup_001": "Available for pickup",
    "Delivered_001": "Delivered",
    "Delivered_003": "Sign by customer",
    "AttemptFail_001": "Failed Attempt",
    "Exception_007": "Incorrect Address",
    "Exception_013": "Shipment lost",
}

# The journey a parcel makes, as (tag, subtag, message, city, state); a parcel shows the prefix
# of this journey that leads to its current subtag.
JOURNEY = [
    (
        "InfoReceived",
        "InfoReceived_001",
        "Shipper created a label, carrier has not received the package yet",
        "Columbus",
        "OH",
    ),
    ("InTransit", "InTransit_002", "Picked up by carrier", "Columbus", "OH"),
    ("InTransit", "InTransit_007", "Departed from facility", "Louisville", "KY"),
    ("InTransit", "InTransit_003", "Arrived at destination facility", "Chicago", "IL"),
    ("OutForDelivery", "OutForDelivery_001", "Out for delivery", "Chicago", "IL"),
]
FINALS = {
    "AvailableForPickup_001": (
        "AvailableForPickup",
        "Package available for pickup at the service point",
        "Chicago",
        "IL",
    ),
    "Delivered_001": ("Delivered", "Delivered, left at front door", "Chicago", "IL"),
    "Delivered_003": ("Delivered", "Delivered, signed by the customer", "Chicago", "IL"),
    "AttemptFail_001": ("AttemptFail", "Delivery attempted, no one available to sign", "Chicago", "IL"),
    "Exception_007": ("Exception", "Address information incorrect, unable to deliver", "Chicago", "IL"),
    "Exception_013": ("Exception", "Package could not be located and is considered lost", "Louisville", "KY"),
}

blueprint = Blueprint("aftership", __name__)


# ---- helpers ------------------------------------------------------------------------------------


def _today() -> date:
    return datetime.now(UTC).date()


def _day(offset: int) -> str:
    return (_today() + timedelta(days=offset)).isoformat()


def _moment(offset_days: int, hour: int = 9) -> str:
    moment = datetime.combine(_today() + timedelta(days=offset_days), datetime.min.time()) + timedelta(
        hours=hour
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + "-05:00"


def _envelope(data: Any, code: int = 200, message: str = "OK", kind: str = "OK") -> dict[str, Any]:
    return {"meta": {"code": code, "message": message, "type": kind}, "data": data}


def _rate_headers(limit: int) -> dict[str, str]:
    """Per-second window counted in the state; it reports, it never throttles (faults do that)."""
    now = time.time()
    window = int(now)
    used = count_request(PLATFORM, window)
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, limit - used)),
        "X-RateLimit-Reset": str(window + 1),
    }


def _reply(body: dict[str, Any], status: int = 200, limit: int = OTHER_RATE_LIMIT) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(_rate_headers(limit))
    return response


def _error(status: int, code: int, kind: str, message: str, limit: int = OTHER_RATE_LIMIT) -> Response:
    return _reply(_envelope({}, code, message, kind), status, limit)


def _unauthorized() -> Response | None:
    if request.headers.get("as-api-key") == API_KEY:
        return None
    return _error(401, 401, "Unauthorized", "Invalid API key.")


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        return int(number) if prefix == "offset" and int(number) >= 0 else None
    except (ValueError, UnicodeDecodeError):
        return None


def _keyword_hit(tracking: dict[str, Any], keyword: str) -> bool:
    needle = keyword.casefold()
    fields = [
        tracking.get("tracking_number"),
        tracking.get("title"),
        tracking.get("order_id"),
        tracking.get("order_number"),
    ]
    for customer in tracking.get("customers") or []:
        fields += [customer.get("email"), customer.get("name")]
    return any(needle in str(value).casefold() for value in fields if value)


# ---- API ----------------------------------------------------------------------------------------


@blueprint.get("/trackings")
def list_trackings():
    denied = _unauthorized()
    if denied:
        return denied
    args = request.args
    try:
        limit = int(args.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        return _error(400, 4001, "BadRequest", f"limit must be between 1 and {MAX_LIMIT}.", LIST_RATE_LIMIT)
    offset = 0
    if args.get("cursor"):
        decoded = _decode_cursor(args["cursor"])
        if decoded is None:
            return _error(400, 4001, "BadRequest", "Invalid cursor.", LIST_RATE_LIMIT)
        offset = decoded
    numbers = [n.strip() for n in (args.get("tracking_numbers") or "").split(",") if n.strip()]
    if len(numbers) > 50:
        return _error(400, 4001, "BadRequest", "tracking_numbers accepts at most 50 values.", LIST_RATE_LIMIT)
    slugs = {s.strip() for s in (args.get("slug") or "").split(",") if s.strip()}
    tags = {t.strip() for t in (args.get("tag") or "").split(",") if t.strip()}
    with sandbox_state().lock:
        rows = list(section(PLATFORM).get("trackings", {}).values())
    if args.get("keyword"):
        rows = [t for t in rows if _keyword_hit(t, args["keyword"])]
    if numbers:
        rows = [t for t in rows if t["tracking_number"] in numbers]
    if args.get("order_id"):
        rows = [t for t in rows if t.get("order_id") == args["order_id"]]
    if slugs:
        rows = [t for t in rows if t["slug"] in slugs]
    if tags:
        rows = [t for t in rows if t["tag"] in tags]
    rows.sort(key=lambda t: t["created_at"], reverse=True)
    page = rows[offset : offset + limit]
    has_next = offset + limit < len(rows)
    data = {
        "pagination": {
            "total": len(rows),
            "next_cursor": _encode_cursor(offset + limit) if has_next else "",
            "has_next_page": has_next,
        },
        "trackings": page,
    }
    return _reply(_envelope(data), limit=LIST_RATE_LIMIT)


@blueprint.get("/trackings/<tracking_id>")
def get_tracking(tracking_id: str):
    denied = _unauthorized()
    if denied:
        return denied
    with sandbox_state().lock:
        tracking = section(PLATFORM).get("trackings", {}).get(tracking_id)
    if tracking is None:
        return _error(404, 4004, "NotFound", "Tracking does not exist.")
    return _reply(_envelope(tracking))


def fault_response(fault: Fault) -> Response:
    """429 says when the window resets as epoch seconds (X-RateLimit-Reset), as AfterShip does."""
    if fault.status == 429:
        wait = 1.0 if fault.retry_after is None else max(0.0, float(fault.retry_after))
        response = jsonify(
            fault.body
            or _envelope(
                {},
                429,
                "You have exceeded the API call rate limit. Please retry again at X-RateLimit-Reset.",
                "TooManyRequests",
            )
        )
        response.status_code = 429
        response.headers.update(
            {
                "X-RateLimit-Limit": str(LIST_RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(math.ceil(time.time() + wait)),
            }
        )
        return response
    kinds = {401: "Unauthorized", 404: "NotFound", 500: "InternalError", 503: "ServiceUnavailable"}
    code = 4004 if fault.status == 404 else fault.status
    response = jsonify(fault.body or _envelope({}, code, "Injected fault", kinds.get(fault.status, "Error")))
    response.status_code = fault.status
    return response


def client_env(base_url: str) -> dict[str, str]:
    return {"AFTERSHIP_BASE_URL": f"{base_url}{PREFIX}", "AFTERSHIP_API_KEY": API_KEY}


# ---- seeded data --------------------------------------------------------------------------------


FINAL_AFTER = {"Exception_013": 3, "AvailableForPickup_001": 4}  # journey steps before the final one


def _steps(subtag: str) -> list[tuple[str, str, str, str, str]]:
    """The journey up to `subtag`: a prefix of JOURNEY, plus the final event for end states."""
    if subtag in FINALS:
        final_tag, message, city, state = FINALS[subtag]
        return [*JOURNEY[: FINAL_AFTER.get(subtag, len(JOURNEY))], (final_tag, subtag, message, city, state)]
    index = next(i for i, step in enumerate(JOURNEY) if step[1] == subtag)
    return JOURNEY[: index + 1]


def _checkpoints(subtag: str, slug: str, start: int, end: int) -> list[dict[str, Any]]:
    """The parcel's events, spread evenly from day `start` to day `end` (relative to T)."""
    steps = _steps(subtag)
    span = max(1, len(steps) - 1)
    result: list[dict[str, Any]] = []
    for i, (tag, sub, message, city, state) in enumerate(steps):
        day = start + round((end - start) * i / span)
        result.append(
            {
                "checkpoint_time": _moment(day, 8 + i),
                "created_at": _moment(day, 8 + i),
                "slug": slug,
                "message": message,
                "tag": tag,
                "subtag": sub,
                "subtag_message": SUBTAG_MESSAGES.get(sub, tag),
                "location": f"{city}, {state}, US",
                "city": city,
                "state": state,
                "zip": None,
                "country_region": "USA",
                "country_region_name": "United States",
                "raw_tag": sub.upper(),
                "coordinate": {"latitude": None, "longitude": None},
                "source": "carrier",
                "events": [],
            }
        )
    return result


def _spec(parcel: world.Parcel) -> dict[str, Any]:
    """How AfterShip reports this parcel: subtag, delivery day and the field its estimate is in."""
    subtag = "Delivered_003" if parcel.status == "delivered" and parcel.signed else SUBTAGS[parcel.status]
    spec: dict[str, Any] = {"number": parcel.tracking, "slug": parcel.carrier, "subtag": subtag}
    if parcel.status == "delivered" and parcel.delivered is not None:
        spec["delivered"] = parcel.delivered
    if parcel.estimated is not None:
        spec[EDD_FIELDS.get(parcel.tracking, "latest_edd")] = parcel.estimated
    return spec


def _tracking(order: world.Order, spec: dict[str, Any]) -> dict[str, Any]:
    customer, address, order_id, ordered = order.customer, order.customer.address, order.number, -order.placed
    email, name = customer.email, customer.name
    number, slug, subtag = spec["number"], spec["slug"], spec["subtag"]
    tag = subtag.split("_", 1)[0]
    tracking_id = hashlib.sha256(number.encode()).hexdigest()[:32]
    delivered = spec.get("delivered")
    last_day = delivered if delivered is not None else -1  # nothing happens "later today"
    checkpoints = _checkpoints(subtag, slug, min(-ordered + 1, last_day), last_day)
    tracking: dict[str, Any] = {
        "id": tracking_id,
        "legacy_id": tracking_id[:24],
        "tracking_number": number,
        "slug": slug,
        "active": tag not in ("Delivered", "Expired"),
        "tag": tag,
        "subtag": subtag,
        "subtag_message": SUBTAG_MESSAGES.get(subtag, tag),
        "title": f"Order #{order_id}",
        "order_id": order_id,
        "order_number": f"#{order_id}",
        "order_id_path": None,
        "order_date": _moment(-ordered, 10),
        "order_promised_delivery_date": None,
        "checkpoints": checkpoints,
        "courier_tracking_link": COURIER_LINKS[slug].format(number),
        "aftership_tracking_url": f"{TRACKING_PAGE}/{number}",
        "shipment_pickup_date": checkpoints[1]["checkpoint_time"] if len(checkpoints) > 1 else None,
        "shipment_delivery_date": _moment(delivered, 14) if delivered is not None else None,
        "signed_by": name if subtag == "Delivered_003" else None,
        "failed_delivery_attempts": 1 if tag == "AttemptFail" else 0,
        "return_to_sender": False,
        "on_time_status": None,
        "on_time_difference": None,
        "origin_country_region": "USA",
        "origin_city": "Columbus",
        "origin_state": "OH",
        "destination_country_region": "USA",
        "destination_city": address.city,
        "destination_state": address.state,
        "destination_postal_code": address.zip,
        "shipment_type": "Ground",
        "source": "api",
        "language": "en",
        "customers": [
            {
                "role": "buyer",
                "name": name,
                "email": email,
                "phone_number": None,
                "language": customer.language,
            }
        ],
        "created_at": _moment(-ordered, 12),
        "updated_at": checkpoints[-1]["checkpoint_time"],
        "courier_estimated_delivery_date": None,
        "aftership_estimated_delivery_date": None,
        "custom_estimated_delivery_date": None,
        "first_estimated_delivery": None,
        "latest_estimated_delivery": None,
    }
    if "latest_edd" in spec:
        estimate = {
            "type": "specific",
            "source": "Carrier EDD",
            "datetime": _day(spec["latest_edd"]),
            "datetime_min": None,
            "datetime_max": None,
        }
        tracking["first_estimated_delivery"] = dict(estimate)
        tracking["latest_estimated_delivery"] = estimate
    if "courier_edd" in spec:
        tracking["courier_estimated_delivery_date"] = {
            "estimated_delivery_date": _day(spec["courier_edd"]),
            "estimated_delivery_date_min": None,
            "estimated_delivery_date_max": None,
        }
    if "aftership_edd" in spec:
        tracking["aftership_estimated_delivery_date"] = {
            "estimated_delivery_date": _day(spec["aftership_edd"]),
            "confidence_code": 85,
            "estimated_delivery_date_min": None,
            "estimated_delivery_date_max": None,
        }
    if "expected_delivery" in spec:
        tracking["expected_delivery"] = _day(spec["expected_delivery"])
    return tracking


def seed(data: dict[str, Any]) -> None:
    data.clear()
    data["trackings"] = {}
    for order in world.load().orders:
        for parcel in order.parcels:
            tracking = _tracking(order, _spec(parcel))
            data["trackings"][tracking["id"]] = tracking
