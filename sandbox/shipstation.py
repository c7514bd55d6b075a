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

Seeded data: the sandbox's world (sandbox/world/) as ShipStation sees it. Every order of
every store is imported (orderNumber = the store's number; advancedOptions.source names the store,
"Manual" for phone and wholesale orders keyed in here), with orderId the world's id for manual
orders and 420001... in file order for the others. World statuses map to orderStatus:
awaiting_payment, pending_fulfillment (awaiting_fulfillment), on_hold, awaiting_shipment (with its
shipByDate), shipped (shipped, partially shipped, completed, and refunded after shipping), cancelled
(cancelled, refunded before shipping), rejected_fulfillment. Each parcel is a shipment, with a voided
label listed before it when the world names one; carrier codes are ShipEngine's (usps labels are
stamps_com). The parcels' live status is served by the ShipEngine module
(sandbox/shipengine.py) from the same world, so a shipment's tracking number always
resolves there.
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import world
from sandbox.app import count_request, sandbox_state, section
from sandbox.state import Fault

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
SERVICE_CODES = {
    "ups": "ups_ground",
    "stamps_com": "usps_priority_mail",
    "fedex": "fedex_ground",
    "dhl_express": "dhl_express_worldwide",
}


CARRIER_CODES = {"ups": "ups", "usps": "stamps_com", "fedex": "fedex", "dhl": "dhl_express"}
ORDER_STATUS = {
    "awaiting_payment": "awaiting_payment",
    "awaiting_fulfillment": "pending_fulfillment",
    "on_hold": "on_hold",
    "awaiting_shipment": "awaiting_shipment",
    "shipped": "shipped",
    "partially_shipped": "shipped",
    "completed": "shipped",
    "cancelled": "cancelled",
    "rejected": "rejected_fulfillment",
}
SOURCES = {"bigcommerce": "BigCommerce", "shopify": "Shopify", "manual": "Manual"}
FIRST_IMPORTED_ID = 420001


blueprint = Blueprint("shipstation", __name__)


# ---- helpers ------------------------------------------------------------------------------------


def _stamp(offset: int, hour: int) -> str:
    """ShipStation's naive timestamp with seven fractional digits."""
    return f"{world.day(offset).isoformat()}T{hour:02d}:15:00.0000000"


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


def _address(customer: world.Customer) -> dict[str, Any]:
    address = customer.address
    return {
        "name": customer.name,
        "company": None,
        "street1": address.street,
        "street2": address.street2 or None,
        "street3": None,
        "city": address.city,
        "state": address.state,
        "postalCode": address.zip,
        "country": address.country,
        "phone": customer.phone or None,
        "residential": True,
        "addressVerified": "Address validated successfully",
    }


def _status(order: world.Order) -> str:
    if order.status == "refunded":
        return "shipped" if order.parcels else "cancelled"
    return ORDER_STATUS[order.status]


def _order(order: world.Order, order_id: int) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {
            "orderItemId": order_id * 10 + i,
            "lineItemKey": f"{order.number}-{i}",
            "sku": line.product.sku,
            "name": line.product.name,
            "imageUrl": None,
            "weight": {"value": 16, "units": "ounces", "WeightUnits": 1},
            "quantity": line.quantity,
            "unitPrice": line.product.price,
            "taxAmount": None,
            "shippingAmount": None,
            "warehouseLocation": None,
            "options": [],
            "productId": line.product.id,
            "fulfillmentSku": None,
            "adjustment": False,
            "upc": None,
            "createDate": _stamp(order.placed, 10),
            "modifyDate": _stamp(order.placed, 10),
        }
        for i, line in enumerate(order.items, start=1)
    ]
    total = round(order.total + 5.99, 2)
    parcel = order.parcels[0] if order.parcels else None
    carrier = CARRIER_CODES[parcel.carrier] if parcel else None
    status = _status(order)
    paid = status != "awaiting_payment"
    customer = order.customer
    return {
        "orderId": order_id,
        "orderNumber": order.number,
        "orderKey": f"key-{order.number}",
        "orderDate": _stamp(order.placed, 9),
        "createDate": _stamp(order.placed, 10),
        "modifyDate": _stamp(parcel.shipped if parcel else order.placed, 11),
        "paymentDate": _stamp(order.placed, 9) if paid else None,
        "shipByDate": f"{world.day(order.ship_by).isoformat()}T00:00:00.0000000"
        if order.ship_by is not None
        else None,
        "orderStatus": status,
        "customerId": 50000 + customer.id,
        "customerUsername": customer.email,
        "customerEmail": customer.email,
        "billTo": {**_address(customer), "street2": None},
        "shipTo": _address(customer),
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
        "carrierCode": carrier,
        "serviceCode": SERVICE_CODES[carrier] if carrier else None,
        "packageCode": "package" if parcel else None,
        "confirmation": "none",
        "shipDate": world.day(parcel.shipped).isoformat() if parcel else None,
        "holdUntilDate": world.day(2).isoformat() if status == "on_hold" else None,
        "weight": {"value": 16.0, "units": "ounces", "WeightUnits": 1},
        "dimensions": None,
        "insuranceOptions": {"provider": None, "insureShipment": False, "insuredValue": 0.0},
        "internationalOptions": {"contents": None, "customsItems": None, "nonDelivery": None},
        "advancedOptions": {"warehouseId": WAREHOUSE_ID, "storeId": STORE_ID, "source": SOURCES[order.store]},
        "tagIds": None,
        "userId": None,
        "externallyFulfilled": False,
        "externallyFulfilledBy": None,
        "labelMessages": None,
    }


def _shipment(
    order: world.Order, order_id: int, parcel: world.Parcel, shipment_id: int, number: str, *, voided: bool
) -> dict[str, Any]:
    shipped = parcel.shipped - (1 if voided else 0)
    carrier = CARRIER_CODES[parcel.carrier]
    return {
        "shipmentId": shipment_id,
        "orderId": order_id,
        "orderKey": f"key-{order.number}",
        "userId": "f0b2c9a4-0000-4000-8000-000000000001",
        "customerEmail": order.customer.email,
        "orderNumber": order.number,
        "createDate": _stamp(shipped, 14),
        "shipDate": world.day(shipped).isoformat(),
        "shipmentCost": 8.45,
        "insuranceCost": 0.0,
        "trackingNumber": number,
        "isReturnLabel": False,
        "batchNumber": None,
        "carrierCode": carrier,
        "serviceCode": SERVICE_CODES[carrier],
        "packageCode": "package",
        "confirmation": "none",
        "warehouseId": WAREHOUSE_ID,
        "voided": voided,
        "voidDate": _stamp(shipped, 16) if voided else None,
        "marketplaceNotified": not voided,
        "notifyErrorMessage": None,
        "shipTo": _address(order.customer),
        "weight": {"value": 16.0, "units": "ounces", "WeightUnits": 1},
        "dimensions": None,
        "insuranceOptions": {"provider": None, "insureShipment": False, "insuredValue": 0.0},
        "advancedOptions": {"warehouseId": WAREHOUSE_ID, "storeId": STORE_ID},
        "shipmentItems": None,
        "labelData": None,
        "formData": None,
    }


BACKFILL_NAMES = ("Alex", "Sam", "Robin", "Kai", "Noor", "Jo", "Ira", "Ren", "Avi", "Mika")
BACKFILL_ADDRESS = world.Address("233 S Wacker Dr", "Chicago", "IL", "60606", "US")
BACKFILL_LINE = world.Line(world.Product(118, "MUG-11", "Ceramic Mug 11oz", 14.0), 2)


def backfill(data: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Other customers' orders, ordered within the last `days` days and imported after the seeded
    ones (higher orderIds): a store where one page of unsorted orders is not everyone's."""
    count, days = int(spec.get("count", 1000)), int(spec.get("days", 20))
    rng = random.Random(int(spec.get("seed", 7)))
    first = max(data["orders"]) + 1000
    for n in range(count):
        name = f"{rng.choice(BACKFILL_NAMES)} Buyer{n}"
        buyer = world.Customer(10_000 + n, name, f"buyer{n}@store.example", "", BACKFILL_ADDRESS)
        placed = world.Order(f"BF-{first + n}", buyer, "manual", 0, "awaiting_shipment", (BACKFILL_LINE,))
        order = _order(placed, first + n)
        ordered = datetime.now(UTC) - timedelta(minutes=rng.randrange(1, days * 24 * 60))
        stamp = ordered.strftime("%Y-%m-%dT%H:%M:%S.0000000")
        order.update(orderDate=stamp, paymentDate=stamp, shipByDate=None)
        data["orders"][order["orderId"]] = order
    return {"orders": len(data["orders"])}


def seed(data: dict[str, Any]) -> None:
    data.clear()
    data["orders"], data["shipments"] = {}, {}
    next_shipment, next_imported = 900001, FIRST_IMPORTED_ID
    for order in world.load().orders:
        if order.id and order.store == "manual":
            order_id = int(order.id)
        else:
            order_id, next_imported = next_imported, next_imported + 1
        data["orders"][order_id] = _order(order, order_id)
        for parcel in order.parcels:
            labels = [(parcel.voided_label, True)] if parcel.voided_label else []
            for number, voided in [*labels, (parcel.tracking, False)]:
                data["shipments"][next_shipment] = _shipment(
                    order, order_id, parcel, next_shipment, number, voided=voided
                )
                next_shipment += 1
