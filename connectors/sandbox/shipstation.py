"""ShipStation API v1 (orders and shipments) as the sandbox serves it (docs/platforms/shipstation.md).

Mounted at /shipstation, so SHIPSTATION_BASE_URL is https://host:port/shipstation. Faithful where a
connector can get it wrong: HTTP Basic auth with API key and secret (401 otherwise), ShipStation's
paged list envelopes ({orders|shipments, total, page, pages}), `orderNumber` as a "starts with"
search (so clients must compare exactly), voided labels still listed among shipments, naive
timestamps with seven fractional digits ("2025-03-01T10:15:00.0000000"), ASP.NET-style error
bodies ({"Message": ...}) and X-Rate-Limit-Limit/-Remaining/-Reset (seconds) on every response.
A throttle (injected as a fault) is 429 with X-Rate-Limit-Reset = the fault's wait in seconds.
List Orders takes only its documented filters (customerName, itemKeyword, the create/modify/order/
payment date ranges, orderNumber, orderStatus, storeId, sortBy/sortDir, page/pageSize); anything else,
`customerEmail` included, is ignored and every order comes back, as the real API does. Without
`sortBy` the order is not documented ("recent orders"): served newest-imported first, so a client
that relies on it finds only the latest orders. `POST /_sandbox/shipstation/backfill` adds other
customers' orders, to be a store bigger than one page.

The parcels' live status is served by the ShipEngine module (connectors/sandbox/shipengine.py) from
the same table, so an order's tracking number always resolves there. Seeded data, relative to the
day the sandbox is seeded (T):

| Customer           | Order (id)       | orderStatus          | Parcel                  | Status           |
|--------------------|------------------|----------------------|-------------------------|------------------|
| approved           | SS-1001 (410001) | awaiting_payment     | -                       | approved         |
| processing         | SS-1002 (410002) | pending_fulfillment  | -                       | processing       |
| on-hold            | SS-1003 (410003) | on_hold              | -                       | processing       |
| pending-shipment   | SS-1004 (410004) | awaiting_shipment    | - (ship by T+1)         | pending_shipment |
| shipped            | SS-1005 (410005) | shipped              | ups, AC, EDD T+3        | shipped          |
| in-transit.on-time | SS-1006 (410006) | shipped              | stamps_com, IT, EDD T+2 | in_transit       |
| in-transit.late    | SS-1007 (410007) | shipped              | ups, IT, EDD T-3        | in_transit       |
| attempted          | SS-1008 (410008) | shipped              | fedex, AT, EDD T-1      | in_transit (*)   |
| delivered          | SS-1009 (410009) | shipped              | stamps_com, DE on T-1   | delivered        |
| pickup-point       | SS-1010 (410010) | shipped              | ups, SP on T-1          | delivered        |
| canceled           | SS-1011 (410011) | cancelled            | -                       | canceled         |
| rejected           | SS-1012 (410012) | rejected_fulfillment | -                       | exception        |
| exception          | SS-1013 (410013) | shipped              | fedex, EX (no access)   | exception        |
| lost               | SS-1014 (410014) | shipped              | stamps_com, EX (lost)   | exception        |
| three.orders       | SS-1020 (410020) | shipped              | ups, DE T-25, +voided   | delivered        |
|                    | SS-1021 (410021) | shipped              | stamps_com, NY          | shipped          |
|                    | SS-1022 (410022) | pending_fulfillment  | -                       | processing       |
| no-orders          | -                | -                    | -                       | -                |

Customers' emails are <customer>@shipengine.example, e.g. in-transit.late@shipengine.example.
(*) status_detail "delivery attempted". EDD = estimated delivery date.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from connectors.sandbox.app import count_request, sandbox_state, section
from connectors.sandbox.state import Fault

PLATFORM = "shipstation"
PREFIX = "/shipstation"
HELPDESK = False

API_KEY = "sandbox-shipstation-api-key"
API_SECRET = "sandbox-shipstation-api-secret"  # noqa: S105 (sandbox only)
RATE_LIMIT = 40  # requests per minute per key
MAX_PAGE_SIZE = 500
ORDER_STATUSES = (
    "awaiting_payment",
    "awaiting_shipment",
    "pending_fulfillment",
    "shipped",
    "on_hold",
    "cancelled",
    "rejected_fulfillment",
)
STORE_ID = 12345
WAREHOUSE_ID = 67890
SERVICE_CODES = {"ups": "ups_ground", "stamps_com": "usps_priority_mail", "fedex": "fedex_ground"}


@dataclass(frozen=True)
class Parcel:
    """One label and what ShipEngine says about it (days are relative to T)."""

    carrier: str
    tracking_number: str
    shipped: int
    code: str  # ShipEngine status_code
    detail_code: str  # ShipEngine status_detail_code
    estimate: int | None = None
    delivered: int | None = None
    voided_label: str | None = None  # an earlier, voided label's tracking number


@dataclass(frozen=True)
class Case:
    email: str
    name: str
    order_id: int
    order_number: str
    status: str
    ordered: int  # days before T
    items: tuple[tuple[str, str, int, float], ...] = field(default=(("MUG-11", "Ceramic Mug 11oz", 2, 14.0),))
    ship_by: int | None = None
    parcel: Parcel | None = None


CASES: tuple[Case, ...] = (
    Case("approved@shipengine.example", "Avery Approved", 410001, "SS-1001", "awaiting_payment", 0),
    Case("processing@shipengine.example", "Pat Processing", 410002, "SS-1002", "pending_fulfillment", 1),
    Case("on-hold@shipengine.example", "Holly Hold", 410003, "SS-1003", "on_hold", 3),
    Case(
        "pending-shipment@shipengine.example",
        "Penny Pending",
        410004,
        "SS-1004",
        "awaiting_shipment",
        1,
        ship_by=1,
    ),
    Case(
        "shipped@shipengine.example",
        "Shay Shipped",
        410005,
        "SS-1005",
        "shipped",
        2,
        parcel=Parcel("ups", "1Z999SE10000001005", -1, "AC", "PICKED_UP", estimate=3),
    ),
    Case(
        "in-transit.on-time@shipengine.example",
        "Tim Ontime",
        410006,
        "SS-1006",
        "shipped",
        4,
        items=(("KTL-01", "Electric Kettle", 1, 49.0),),
        parcel=Parcel("stamps_com", "9405511899220000001006", -3, "IT", "IN_TRANSIT", estimate=2),
    ),
    Case(
        "in-transit.late@shipengine.example",
        "Lee Late",
        410007,
        "SS-1007",
        "shipped",
        10,
        parcel=Parcel("ups", "1Z999SE10000001007", -9, "IT", "HUB_SCAN_IN", estimate=-3),
    ),
    Case(
        "attempted@shipengine.example",
        "Ari Attempted",
        410008,
        "SS-1008",
        "shipped",
        5,
        parcel=Parcel("fedex", "771000001008", -4, "AT", "ATTEMPTED_DELIVERY", estimate=-1),
    ),
    Case(
        "delivered@shipengine.example",
        "Del Ivered",
        410009,
        "SS-1009",
        "shipped",
        6,
        parcel=Parcel(
            "stamps_com", "9405511899220000001009", -5, "DE", "DELIVERED", estimate=-2, delivered=-1
        ),
    ),
    Case(
        "pickup-point@shipengine.example",
        "Pia Pickup",
        410010,
        "SS-1010",
        "shipped",
        6,
        parcel=Parcel(
            "ups", "1Z999SE10000001010", -5, "SP", "DELIVERED_TO_PICKUP_POINT", estimate=-1, delivered=-1
        ),
    ),
    Case("canceled@shipengine.example", "Cal Canceled", 410011, "SS-1011", "cancelled", 4),
    Case("rejected@shipengine.example", "Rex Rejected", 410012, "SS-1012", "rejected_fulfillment", 3),
    Case(
        "exception@shipengine.example",
        "Exa Ception",
        410013,
        "SS-1013",
        "shipped",
        7,
        parcel=Parcel("fedex", "771000001013", -6, "EX", "NO_ACCESS_TO_RECIPIENTS_ADDRESS", estimate=-2),
    ),
    Case(
        "lost@shipengine.example",
        "Lou Lost",
        410014,
        "SS-1014",
        "shipped",
        21,
        parcel=Parcel("stamps_com", "9405511899220000001014", -20, "EX", "PARCEL_LOST", estimate=-14),
    ),
    Case(
        "three.orders@shipengine.example",
        "Thea Three",
        410020,
        "SS-1020",
        "shipped",
        30,
        items=(("TEA-50", "Green Tea 50 bags", 3, 9.5), ("MUG-11", "Ceramic Mug 11oz", 1, 14.0)),
        parcel=Parcel(
            "ups",
            "1Z999SE10000001020",
            -28,
            "DE",
            "DELIVERED",
            estimate=-25,
            delivered=-25,
            voided_label="1Z999SE10000009020",
        ),
    ),
    Case(
        "three.orders@shipengine.example",
        "Thea Three",
        410021,
        "SS-1021",
        "shipped",
        2,
        items=(("KTL-01", "Electric Kettle", 1, 49.0),),
        parcel=Parcel("stamps_com", "9405511899220000001021", -1, "NY", "SHIPMENT_CREATED"),
    ),
    Case(
        "three.orders@shipengine.example",
        "Thea Three",
        410022,
        "SS-1022",
        "pending_fulfillment",
        0,
        items=(("FLT-02", "Water Filter 2-pack", 1, 24.0),),
    ),
)

blueprint = Blueprint("shipstation", __name__)


# ---- helpers ------------------------------------------------------------------------------------


def today() -> date:
    return datetime.now(UTC).date()


def day(offset: int) -> date:
    return today() + timedelta(days=offset)


def _stamp(offset: int, hour: int) -> str:
    """ShipStation's naive timestamp with seven fractional digits."""
    return f"{day(offset).isoformat()}T{hour:02d}:15:00.0000000"


def _rate_headers() -> dict[str, str]:
    """Per-minute window counted in the state; it reports, it never throttles (faults do that)."""
    now = time.time()
    window = int(now // 60)
    used = count_request(PLATFORM, window)
    return {
        "X-Rate-Limit-Limit": str(RATE_LIMIT),
        "X-Rate-Limit-Remaining": str(max(0, RATE_LIMIT - used)),
        "X-Rate-Limit-Reset": str(max(1, math.ceil((window + 1) * 60 - now))),
    }


def _reply(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(_rate_headers())
    return response


def _unauthorized() -> Response | None:
    auth = request.authorization
    if auth and auth.type == "basic" and auth.username == API_KEY and auth.password == API_SECRET:
        return None
    response = _reply({"Message": "Authorization has been denied for this request."}, 401)
    response.headers["WWW-Authenticate"] = 'Basic realm="ShipStation"'
    return response


def _paging() -> tuple[int, int] | Response:
    try:
        page = int(request.args.get("page") or 1)
        size = int(request.args.get("pageSize") or 100)
    except ValueError:
        return _reply(
            {"Message": "The request is invalid.", "ModelState": {"page": ["must be a number"]}}, 400
        )
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        return _reply(
            {
                "Message": "The request is invalid.",
                "ModelState": {"pageSize": [f"must be between 1 and {MAX_PAGE_SIZE}"]},
            },
            400,
        )
    return page, size


def _page(rows: list[dict[str, Any]], key: str, page: int, size: int) -> dict[str, Any]:
    return {
        key: rows[(page - 1) * size : page * size],
        "total": len(rows),
        "page": page,
        "pages": math.ceil(len(rows) / size),
    }


# ---- API ----------------------------------------------------------------------------------------


@blueprint.get("/orders")
def list_orders():
    denied = _unauthorized()
    if denied:
        return denied
    paging = _paging()
    if isinstance(paging, Response):
        return paging
    args = request.args
    status = args.get("orderStatus")
    if status and status not in ORDER_STATUSES:
        return _reply({"Message": f"Invalid orderStatus '{status}'."}, 400)
    ranges = _date_ranges(args)
    if isinstance(ranges, Response):
        return ranges
    with sandbox_state().lock:
        rows = list(section(PLATFORM).get("orders", {}).values())
    rows = [o for o in rows if _matches(o, args, ranges)]
    if args.get("sortBy") in SORT_FIELDS:
        key = SORT_FIELDS[args["sortBy"]]
        rows.sort(
            key=lambda o: (o[key] or "", o["orderId"]), reverse=(args.get("sortDir") or "").upper() == "DESC"
        )
    else:
        rows.sort(key=lambda o: o["orderId"], reverse=True)
    return _reply(_page(rows, "orders", *paging))


SORT_FIELDS = {"OrderDate": "orderDate", "ModifyDate": "modifyDate", "CreateDate": "createDate"}
DATE_FILTERS = {
    "createDate": "createDate",
    "modifyDate": "modifyDate",
    "orderDate": "orderDate",
    "paymentDate": "paymentDate",
}


def _when(value: str) -> datetime | None:
    """ShipStation's filter dates ("2015-01-01 00:00:00", also a bare date or ISO) and its own stamps."""
    text = value.strip().replace("T", " ").split(".", 1)[0]
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _date_ranges(args: Any) -> dict[str, tuple[datetime | None, datetime | None]] | Response:
    ranges = {}
    for param, field_name in DATE_FILTERS.items():
        bounds = []
        for edge in ("Start", "End"):
            raw = args.get(param + edge)
            moment = _when(raw) if raw else None
            if raw and moment is None:
                return _reply(
                    {"Message": "The request is invalid.", "ModelState": {param + edge: ["not a date"]}}, 400
                )
            bounds.append(moment)
        if any(bounds):
            ranges[field_name] = (bounds[0], bounds[1])
    return ranges


def _matches(
    order: dict[str, Any], args: Any, ranges: dict[str, tuple[datetime | None, datetime | None]]
) -> bool:
    """The documented filters only; a parameter List Orders does not know changes nothing."""
    if args.get("customerName"):
        wanted = args["customerName"].strip().casefold()
        names = ((order.get("billTo") or {}).get("name") or "", (order.get("shipTo") or {}).get("name") or "")
        if not any(wanted in n.casefold() for n in names):
            return False
    if args.get("itemKeyword"):
        keyword = args["itemKeyword"].casefold()
        text = " ".join(f"{i.get('sku')} {i.get('name')}" for i in order.get("items") or []).casefold()
        if keyword not in text:
            return False
    if args.get("orderNumber") and not order["orderNumber"].casefold().startswith(
        args["orderNumber"].casefold()
    ):
        return False
    if args.get("orderStatus") and order["orderStatus"] != args["orderStatus"]:
        return False
    if args.get("storeId") and str((order.get("advancedOptions") or {}).get("storeId")) != args["storeId"]:
        return False
    for field_name, (start, end) in ranges.items():
        moment = _when(order.get(field_name) or "")
        if moment is None or (start and moment < start) or (end and moment > end):
            return False
    return True


@blueprint.get("/orders/<order_id>")
def get_order(order_id: str):
    denied = _unauthorized()
    if denied:
        return denied
    if not order_id.isdigit():
        return _reply({"Message": "The request is invalid."}, 400)
    with sandbox_state().lock:
        order = section(PLATFORM).get("orders", {}).get(int(order_id))
    if order is None:
        return _reply({"Message": f"Order {order_id} not found."}, 404)
    return _reply(order)


@blueprint.get("/shipments")
def list_shipments():
    denied = _unauthorized()
    if denied:
        return denied
    paging = _paging()
    if isinstance(paging, Response):
        return paging
    args = request.args
    with sandbox_state().lock:
        rows = list(section(PLATFORM).get("shipments", {}).values())
    if args.get("orderNumber"):
        rows = [s for s in rows if s["orderNumber"].casefold() == args["orderNumber"].casefold()]
    if args.get("orderId"):
        rows = [s for s in rows if str(s["orderId"]) == args["orderId"]]
    if args.get("trackingNumber"):
        rows = [s for s in rows if s["trackingNumber"] == args["trackingNumber"].strip()]
    if args.get("carrierCode"):
        rows = [s for s in rows if s["carrierCode"] == args["carrierCode"]]
    rows.sort(key=lambda s: s["shipmentId"])
    return _reply(_page(rows, "shipments", *paging))


def fault_response(fault: Fault) -> Response:
    """429 carries X-Rate-Limit-Reset, the seconds until the window resets, as ShipStation does."""
    if fault.status == 429:
        wait = 60 if fault.retry_after is None else max(0, math.ceil(float(fault.retry_after)))
        response = jsonify(fault.body or {"Message": "Too Many Requests"})
        response.status_code = 429
        response.headers.update(
            {
                "X-Rate-Limit-Limit": str(RATE_LIMIT),
                "X-Rate-Limit-Remaining": "0",
                "X-Rate-Limit-Reset": str(wait),
            }
        )
        return response
    response = jsonify(fault.body or {"Message": "An error has occurred."})
    response.status_code = fault.status
    return response


def client_env(base_url: str) -> dict[str, str]:
    return {
        "SHIPSTATION_BASE_URL": f"{base_url}{PREFIX}",
        "SHIPSTATION_API_KEY": API_KEY,
        "SHIPSTATION_API_SECRET": API_SECRET,
    }


# ---- seeded data --------------------------------------------------------------------------------


def _address(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "company": None,
        "street1": "233 S Wacker Dr",
        "street2": "Apt 4B",
        "street3": None,
        "city": "Chicago",
        "state": "IL",
        "postalCode": "60606",
        "country": "US",
        "phone": None,
        "residential": True,
        "addressVerified": "Address validated successfully",
    }


def _order(case: Case) -> dict[str, Any]:
    items = [
        {
            "orderItemId": case.order_id * 10 + i,
            "lineItemKey": f"{case.order_number}-{i}",
            "sku": sku,
            "name": name,
            "imageUrl": None,
            "weight": {"value": 16, "units": "ounces", "WeightUnits": 1},
            "quantity": quantity,
            "unitPrice": price,
            "taxAmount": None,
            "shippingAmount": None,
            "warehouseLocation": None,
            "options": [],
            "productId": 7000 + i + case.order_id % 100,
            "fulfillmentSku": None,
            "adjustment": False,
            "upc": None,
            "createDate": _stamp(-case.ordered, 10),
            "modifyDate": _stamp(-case.ordered, 10),
        }
        for i, (sku, name, quantity, price) in enumerate(case.items, start=1)
    ]
    total = round(sum(q * p for _, _, q, p in case.items) + 5.99, 2)
    parcel = case.parcel
    paid = case.status != "awaiting_payment"
    return {
        "orderId": case.order_id,
        "orderNumber": case.order_number,
        "orderKey": f"key-{case.order_number}",
        "orderDate": _stamp(-case.ordered, 9),
        "createDate": _stamp(-case.ordered, 10),
        "modifyDate": _stamp(parcel.shipped if parcel else -case.ordered, 11),
        "paymentDate": _stamp(-case.ordered, 9) if paid else None,
        "shipByDate": f"{day(case.ship_by).isoformat()}T00:00:00.0000000"
        if case.ship_by is not None
        else None,
        "orderStatus": case.status,
        "customerId": 50000 + case.order_id % 1000,
        "customerUsername": case.email,
        "customerEmail": case.email,
        "billTo": {**_address(case.name), "street2": None},
        "shipTo": _address(case.name),
        "items": items,
        "orderTotal": total,
        "amountPaid": total if paid else 0.0,
        "taxAmount": 0.0,
        "shippingAmount": 5.99,
        "customerNotes": None,
        "internalNotes": None,
        "gift": False,
        "giftMessage": None,
        "paymentMethod": "Credit Card" if paid else None,
        "requestedShippingService": "Standard",
        "carrierCode": parcel.carrier if parcel else None,
        "serviceCode": SERVICE_CODES[parcel.carrier] if parcel else None,
        "packageCode": "package" if parcel else None,
        "confirmation": "none",
        "shipDate": day(parcel.shipped).isoformat() if parcel else None,
        "holdUntilDate": day(2).isoformat() if case.status == "on_hold" else None,
        "weight": {"value": 16.0, "units": "ounces", "WeightUnits": 1},
        "dimensions": None,
        "insuranceOptions": {"provider": None, "insureShipment": False, "insuredValue": 0.0},
        "internationalOptions": {"contents": None, "customsItems": None, "nonDelivery": None},
        "advancedOptions": {"warehouseId": WAREHOUSE_ID, "storeId": STORE_ID, "source": "Shopify"},
        "tagIds": None,
        "userId": None,
        "externallyFulfilled": False,
        "externallyFulfilledBy": None,
        "labelMessages": None,
    }


def _shipment(case: Case, shipment_id: int, number: str, *, voided: bool) -> dict[str, Any]:
    parcel = case.parcel
    assert parcel is not None
    shipped = parcel.shipped - (1 if voided else 0)
    return {
        "shipmentId": shipment_id,
        "orderId": case.order_id,
        "orderKey": f"key-{case.order_number}",
        "userId": "f0b2c9a4-0000-4000-8000-000000000001",
        "customerEmail": case.email,
        "orderNumber": case.order_number,
        "createDate": _stamp(shipped, 14),
        "shipDate": day(shipped).isoformat(),
        "shipmentCost": 8.45,
        "insuranceCost": 0.0,
        "trackingNumber": number,
        "isReturnLabel": False,
        "batchNumber": None,
        "carrierCode": parcel.carrier,
        "serviceCode": SERVICE_CODES[parcel.carrier],
        "packageCode": "package",
        "confirmation": "none",
        "warehouseId": WAREHOUSE_ID,
        "voided": voided,
        "voidDate": _stamp(shipped, 16) if voided else None,
        "marketplaceNotified": not voided,
        "notifyErrorMessage": None,
        "shipTo": _address(case.name),
        "weight": {"value": 16.0, "units": "ounces", "WeightUnits": 1},
        "dimensions": None,
        "insuranceOptions": {"provider": None, "insureShipment": False, "insuredValue": 0.0},
        "advancedOptions": {"warehouseId": WAREHOUSE_ID, "storeId": STORE_ID},
        "shipmentItems": None,
        "labelData": None,
        "formData": None,
    }


BACKFILL_NAMES = ("Alex", "Sam", "Robin", "Kai", "Noor", "Jo", "Ira", "Ren", "Avi", "Mika")


def backfill(data: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Other customers' orders, ordered within the last `days` days and imported after the seeded
    ones (higher orderIds): a store where one page of unsorted orders is not everyone's."""
    count, days = int(spec.get("count", 1000)), int(spec.get("days", 20))
    rng = random.Random(int(spec.get("seed", 7)))
    first = max(data["orders"]) + 1000
    for n in range(count):
        name = f"{rng.choice(BACKFILL_NAMES)} Buyer{n}"
        case = Case(f"buyer{n}@store.example", name, first + n, f"BF-{first + n}", "awaiting_shipment", 0)
        order = _order(case)
        ordered = datetime.now(UTC) - timedelta(minutes=rng.randrange(1, days * 24 * 60))
        stamp = ordered.strftime("%Y-%m-%dT%H:%M:%S.0000000")
        order.update(orderDate=stamp, paymentDate=stamp, shipByDate=None)
        data["orders"][order["orderId"]] = order
    return {"orders": len(data["orders"])}


def seed(data: dict[str, Any]) -> None:
    data.clear()
    data["orders"], data["shipments"] = {}, {}
    next_shipment = 900001
    for case in CASES:
        data["orders"][case.order_id] = _order(case)
        if case.parcel is None:
            continue
        if case.parcel.voided_label:
            data["shipments"][next_shipment] = _shipment(
                case, next_shipment, case.parcel.voided_label, voided=True
            )
            next_shipment += 1
        data["shipments"][next_shipment] = _shipment(
            case, next_shipment, case.parcel.tracking_number, voided=False
        )
        next_shipment += 1
