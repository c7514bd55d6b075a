"""BigCommerce (Orders v2, Customers v3, Coupons v2) as the sandbox serves it (docs/platforms/bigcommerce.md).

Mounted at /bigcommerce, with the store hash in the path as on api.bigcommerce.com, so
BIGCOMMERCE_BASE_URL is https://host:port/bigcommerce/stores/sandboxhash. Faithful where a connector
can get it wrong:
- `X-Auth-Token` auth (401 otherwise) and an unknown store hash is 404;
- v2 answers bare objects and arrays, money as 4-decimal strings, dates in RFC 2822, and
  `204 No Content` (no body at all) for an empty list; v3 answers {data, meta: {pagination}};
- v2 errors are arrays of {status, message}; writing a read-only field (`external_id`,
  `payment_status`, `status`, ...) is 400 "The field 'x' cannot be written to. Please remove it from
  your request before trying again.", as the Orders v2 reference documents;
- an order's products, shipping addresses and shipments are sub-resources (the order carries
  {url, resource} links), and shipping address ids belong to their order;
- X-Rate-Limit-Requests-Left/-Requests-Quota/-Time-Reset-Ms/-Time-Window-Ms on every response (a
  30 s window of 150 requests, counted, never enforced); a throttle (injected as a fault) is 429
  with X-Rate-Limit-Time-Reset-Ms = the fault's wait in milliseconds.
Sandbox-only behaviour, not BigCommerce's: cancelling (status_id 5) an order that is Shipped,
Partially Shipped or Completed is refused with a 400, as a safety net for the demo; totals are
recomputed on every write (subtotal + shipping - discount_amount, no tax); unknown body fields are
refused instead of ignored, so a connector typo shows up in a test.

Seeded data: the web store's part of the sandbox's world (sandbox/world/): every
customer of the world has an account (customer id = the customer's number) and every order placed in
the store (`store: bigcommerce`) is an order here, its number the order id. World statuses map to
status_id: awaiting_payment 7, awaiting_fulfillment 11, on_hold 12, awaiting_shipment 9, shipped 2,
partially_shipped 3, completed 10, cancelled 5, refunded 4, rejected 6. Each parcel is a shipment
with its tracking number (the items it holds are the shipped quantities); a replacement carries
staff_notes "Replacement for order N (reference)" and the reference as external_order_id. Shipping
is 7.99 on every seeded order; the catalogue is the world's products (ids as numbered there).
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import world
from sandbox.app import count_request, record_write, sandbox_state, section
from sandbox.state import Fault

PLATFORM = "bigcommerce"
PREFIX = "/bigcommerce"
HELPDESK = False

STORE_HASH = "sandboxhash"
ACCESS_TOKEN = "sandbox-bigcommerce-access-token"  # noqa: S105 (sandbox only)
RATE_QUOTA = 150
RATE_WINDOW_MS = 30_000
MAX_LIMIT = 250
SHIPPING = 7.99

STATUS_NAMES = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}
SHIPPED_STATUSES = frozenset({2, 3, 10})
COUPON_TYPES = (
    "per_item_discount",
    "per_total_discount",
    "shipping_discount",
    "free_shipping",
    "percentage_discount",
)

ORDER_WRITABLE = frozenset(
    {
        "status_id",
        "customer_id",
        "billing_address",
        "shipping_addresses",
        "products",
        "staff_notes",
        "customer_message",
        "payment_method",
        "external_order_id",
        "external_source",
        "discount_amount",
        "base_shipping_cost",
        "shipping_cost_ex_tax",
        "shipping_cost_inc_tax",
        "date_created",
        "channel_id",
        "customer_locale",
        "is_deleted",
    }
)
ORDER_READ_ONLY = frozenset(
    {
        "id",
        "status",
        "custom_status",
        "payment_status",
        "external_id",
        "date_modified",
        "date_shipped",
        "coupon_discount",
        "subtotal_tax",
        "total_tax",
        "items_shipped",
        "refunded_amount",
        "store_credit_amount",
        "gift_certificate_amount",
        "currency_code",
        "shipping_address_count",
        "cart_id",
    }
)
ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip",
    "country",
    "country_iso2",
    "phone",
    "email",
)
ADDRESS_READ_ONLY = frozenset(
    {"id", "order_id", "items_total", "items_shipped", "base_cost", "cost_ex_tax", "cost_inc_tax", "cost_tax"}
)
MONEY_FIELDS = ("discount_amount", "base_shipping_cost", "shipping_cost_ex_tax", "shipping_cost_inc_tax")
COUPON_CODE = re.compile(r"^[A-Za-z0-9_ \-]{1,50}$")


STATUS_IDS = {
    "awaiting_payment": 7,
    "awaiting_fulfillment": 11,
    "on_hold": 12,
    "awaiting_shipment": 9,
    "shipped": 2,
    "partially_shipped": 3,
    "completed": 10,
    "cancelled": 5,
    "refunded": 4,
    "rejected": 6,
}

blueprint = Blueprint("bigcommerce", __name__)


# ---- helpers ------------------------------------------------------------------------------------


def money(value: float) -> str:
    return f"{value:.4f}"


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=False)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _rate_headers() -> dict[str, str]:
    """A 30 s window counted in the state; it reports, it never throttles (faults do that)."""
    ms = int(time.time() * 1000)
    window = ms // RATE_WINDOW_MS
    used = count_request(PLATFORM, window)
    return {
        "X-Rate-Limit-Requests-Left": str(max(0, RATE_QUOTA - used)),
        "X-Rate-Limit-Requests-Quota": str(RATE_QUOTA),
        "X-Rate-Limit-Time-Reset-Ms": str((window + 1) * RATE_WINDOW_MS - ms),
        "X-Rate-Limit-Time-Window-Ms": str(RATE_WINDOW_MS),
    }


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _v2_error(status: int, message: str) -> Response:
    return _json([{"status": status, "message": message}], status)


def _v3_error(status: int, title: str) -> Response:
    return _json(
        {
            "status": status,
            "title": title,
            "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
            "errors": {},
        },
        status,
    )


def _list(rows: list[Any]) -> Response:
    """v2 lists: a bare array, or 204 with no body when there is nothing."""
    if not rows:
        return Response(status=204)
    return _json(rows)


def _not_written(field: str) -> Response:
    return _v2_error(
        400,
        f"The field '{field}' cannot be written to. Please remove it from your request before trying again.",
    )


def _body() -> dict[str, Any] | Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _v2_error(400, "The request body is not valid JSON or is not an object.")
    return body


def _paging() -> tuple[int, int] | Response:
    try:
        page = int(request.args.get("page") or 1)
        limit = int(request.args.get("limit") or 50)
    except ValueError:
        return _v2_error(400, "The 'page' and 'limit' parameters must be integers.")
    if page < 1 or not 1 <= limit <= MAX_LIMIT:
        return _v2_error(400, f"The 'limit' parameter must be between 1 and {MAX_LIMIT}.")
    return page, limit


def _number(value: Any) -> float | None:
    """BigCommerce money inputs: Float, Float-As-String or Integer, never negative."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _data() -> dict[str, Any]:
    return section(PLATFORM)


def _order_or_404(order_id: str) -> dict[str, Any] | Response:
    order = _data()["orders"].get(int(order_id)) if order_id.isdigit() else None
    if order is None:
        return _v2_error(404, "The requested resource was not found.")
    return order


def _links(order_id: int) -> dict[str, Any]:
    base = f"{request.url_root.rstrip('/')}{PREFIX}/stores/{STORE_HASH}/v2/orders/{order_id}"
    return {
        name: {"url": f"{base}/{name}", "resource": f"/orders/{order_id}/{name}"}
        for name in ("products", "shipping_addresses", "coupons")
    }


def _render(order: dict[str, Any]) -> dict[str, Any]:
    return {**order, **_links(order["id"])}


def _recalculate(data: dict[str, Any], order: dict[str, Any]) -> None:
    """Sandbox totals: subtotal + shipping - discount_amount, no tax, never below zero."""
    lines = data["order_products"].get(order["id"], [])
    subtotal = sum(float(p["price_ex_tax"]) * p["quantity"] for p in lines)
    shipping = float(order["shipping_cost_inc_tax"])
    total = max(0.0, subtotal + shipping - float(order["discount_amount"]))
    order.update(
        subtotal_ex_tax=money(subtotal),
        subtotal_inc_tax=money(subtotal),
        total_ex_tax=money(total),
        total_inc_tax=money(total),
        items_total=sum(p["quantity"] for p in lines),
        items_shipped=sum(p["quantity_shipped"] for p in lines),
        date_modified=rfc2822(now()),
    )


# ---- auth and headers ---------------------------------------------------------------------------


@blueprint.before_request
def _authenticate() -> Response | None:
    path = request.path[len(PREFIX) :]
    if not path.startswith(f"/stores/{STORE_HASH}/"):
        return _v2_error(404, "The requested resource was not found.")
    if request.headers.get("X-Auth-Token") != ACCESS_TOKEN:
        if "/v3/" in path:
            return _v3_error(401, "You are not authorized to access this resource.")
        return _v2_error(401, "You are not authorized to access this resource.")
    return None


@blueprint.after_request
def _add_rate_headers(response: Response) -> Response:
    for name, value in _rate_headers().items():
        response.headers.setdefault(name, value)
    return response


def fault_response(fault: Fault) -> Response:
    """429 carries X-Rate-Limit-Time-Reset-Ms (milliseconds), as BigCommerce does."""
    headers = _rate_headers()
    if fault.status == 429:
        wait_ms = 15_000 if fault.retry_after is None else max(0, math.ceil(float(fault.retry_after) * 1000))
        response = _json(
            fault.body or [{"status": 429, "message": "You have exceeded your request quota."}], 429
        )
        headers.update({"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": str(wait_ms)})
    else:
        response = _json(fault.body or [{"status": fault.status, "message": "Injected fault."}], fault.status)
    response.headers.update(headers)
    return response


def client_env(base_url: str) -> dict[str, str]:
    return {
        "BIGCOMMERCE_BASE_URL": f"{base_url}{PREFIX}/stores/{STORE_HASH}",
        "BIGCOMMERCE_STORE_HASH": STORE_HASH,
        "BIGCOMMERCE_ACCESS_TOKEN": ACCESS_TOKEN,
    }


# ---- v3 customers -------------------------------------------------------------------------------


@blueprint.get("/stores/<store_hash>/v3/customers")
def list_customers(store_hash: str):
    try:
        page = int(request.args.get("page") or 1)
        limit = int(request.args.get("limit") or 50)
    except ValueError:
        return _v3_error(422, "The 'page' and 'limit' parameters must be integers.")
    if page < 1 or not 1 <= limit <= MAX_LIMIT:
        return _v3_error(422, f"The 'limit' parameter must be between 1 and {MAX_LIMIT}.")
    with sandbox_state().lock:
        rows = list(_data()["customers"].values())
    if request.args.get("email:in") is not None:
        wanted = {e.strip().casefold() for e in request.args["email:in"].split(",") if e.strip()}
        rows = [c for c in rows if c["email"].casefold() in wanted]
    if request.args.get("id:in") is not None:
        ids = {i.strip() for i in request.args["id:in"].split(",")}
        rows = [c for c in rows if str(c["id"]) in ids]
    rows.sort(key=lambda c: c["id"])
    chunk = rows[(page - 1) * limit : page * limit]
    pages = math.ceil(len(rows) / limit)
    return _json(
        {
            "data": chunk,
            "meta": {
                "pagination": {
                    "total": len(rows),
                    "count": len(chunk),
                    "per_page": limit,
                    "current_page": page,
                    "total_pages": pages,
                    "links": {"current": f"?page={page}&limit={limit}"},
                }
            },
        }
    )


# ---- v2 orders ----------------------------------------------------------------------------------


@blueprint.get("/stores/<store_hash>/v2/order_statuses")
def order_statuses(store_hash: str):
    return _json(
        [
            {"id": i, "name": name, "system_label": name, "custom_label": name, "order": n}
            for n, (i, name) in enumerate(STATUS_NAMES.items())
        ]
    )


@blueprint.get("/stores/<store_hash>/v2/orders")
def list_orders(store_hash: str):
    paging = _paging()
    if isinstance(paging, Response):
        return paging
    args = request.args
    with sandbox_state().lock:
        rows = [o for o in _data()["orders"].values() if not o.get("is_deleted")]
    if args.get("email"):
        wanted = args["email"].strip().casefold()
        rows = [o for o in rows if (o["billing_address"].get("email") or "").casefold() == wanted]
    for name in ("customer_id", "status_id"):
        if args.get(name) is not None:
            rows = [o for o in rows if str(o[name]) == args[name].strip()]
    if args.get("external_order_id") is not None:
        rows = [o for o in rows if o.get("external_order_id") == args["external_order_id"]]
    field, _, direction = (args.get("sort") or "id").partition(":")
    if field not in ("id", "customer_id", "date_created", "date_modified", "status_id"):
        return _v2_error(400, f"The sort field '{field}' is not supported.")
    if field in ("date_created", "date_modified"):
        rows.sort(key=lambda o: (_parse_rfc2822(o[field]), o["id"]), reverse=direction == "desc")
    else:
        rows.sort(key=lambda o: o[field], reverse=direction == "desc")
    page, limit = paging
    return _list([_render(o) for o in rows[(page - 1) * limit : page * limit]])


def _parse_rfc2822(value: str) -> datetime:
    return parsedate_to_datetime(value)


@blueprint.get("/stores/<store_hash>/v2/orders/<order_id>")
def get_order(store_hash: str, order_id: str):
    with sandbox_state().lock:
        order = _order_or_404(order_id)
    if isinstance(order, Response):
        return order
    return _json(_render(order))


@blueprint.get("/stores/<store_hash>/v2/orders/<order_id>/<resource>")
def order_resource(store_hash: str, order_id: str, resource: str):
    tables = {"products": "order_products", "shipping_addresses": "addresses", "shipments": "shipments"}
    with sandbox_state().lock:
        order = _order_or_404(order_id)
        if isinstance(order, Response):
            return order
        if resource == "coupons":
            return _list([])
        if resource not in tables:
            return _v2_error(404, "The requested resource was not found.")
        rows = list(_data()[tables[resource]].get(order["id"], []))
    return _list(rows)


@blueprint.get("/stores/<store_hash>/v2/orders/<order_id>/shipping_addresses/<address_id>")
def get_shipping_address(store_hash: str, order_id: str, address_id: str):
    with sandbox_state().lock:
        found = _address_or_404(order_id, address_id)
    return found if isinstance(found, Response) else _json(found)


def _address_or_404(order_id: str, address_id: str) -> dict[str, Any] | Response:
    order = _order_or_404(order_id)
    if isinstance(order, Response):
        return order
    for address in _data()["addresses"].get(order["id"], []):
        if str(address["id"]) == address_id:
            return address
    return _v2_error(404, "The requested resource was not found.")


@blueprint.put("/stores/<store_hash>/v2/orders/<order_id>/shipping_addresses/<address_id>")
def update_shipping_address(store_hash: str, order_id: str, address_id: str):
    body = _body()
    if isinstance(body, Response):
        return body
    for field, value in body.items():
        if field in ADDRESS_READ_ONLY:
            return _not_written(field)
        if field not in (*ADDRESS_FIELDS, "shipping_method", "form_fields"):
            return _v2_error(400, f"The field '{field}' is not supported by this resource.")
        if field != "form_fields" and not isinstance(value, str):
            return _v2_error(400, f"The field '{field}' must be a string.")
    with sandbox_state().lock:
        address = _address_or_404(order_id, address_id)
        if isinstance(address, Response):
            return address
        address.update({k: v for k, v in body.items() if k != "form_fields"})
        response = _json(dict(address))
    record_write(PLATFORM, body, status=200)
    return response


def _check_order_fields(body: dict[str, Any]) -> Response | None:
    for field in body:
        if field in ORDER_READ_ONLY:
            return _not_written(field)
        if field not in ORDER_WRITABLE:
            return _v2_error(400, f"The field '{field}' is not supported by this resource.")
    for field in MONEY_FIELDS:
        if field in body and _number(body[field]) is None:
            return _v2_error(400, f"The field '{field}' must be a number that is not negative.")
    if ("shipping_cost_ex_tax" in body) != ("shipping_cost_inc_tax" in body):
        return _v2_error(400, "shipping_cost_ex_tax and shipping_cost_inc_tax must be given together.")
    if "status_id" in body and (
        isinstance(body["status_id"], bool)
        or not isinstance(body["status_id"], int)
        or body["status_id"] not in STATUS_NAMES
    ):
        return _v2_error(400, "The field 'status_id' must be a valid order status id.")
    for field in (
        "staff_notes",
        "customer_message",
        "payment_method",
        "external_order_id",
        "external_source",
    ):
        if field in body and body[field] is not None and not isinstance(body[field], str):
            return _v2_error(400, f"The field '{field}' must be a string.")
    return None


def _set_status(order: dict[str, Any], status_id: int) -> None:
    order["status_id"] = status_id
    order["status"] = order["custom_status"] = STATUS_NAMES[status_id]
    if status_id in (2, 10) and not order.get("date_shipped"):
        order["date_shipped"] = rfc2822(now())


def _apply_money(order: dict[str, Any], body: dict[str, Any]) -> None:
    for field in MONEY_FIELDS:
        if field in body:
            order[field] = money(_number(body[field]) or 0.0)


@blueprint.put("/stores/<store_hash>/v2/orders/<order_id>")
def update_order(store_hash: str, order_id: str):
    body = _body()
    if isinstance(body, Response):
        return body
    invalid = _check_order_fields(body)
    if invalid:
        return invalid
    if "products" in body or "shipping_addresses" in body:
        return _v2_error(400, "Use the order products and shipping addresses endpoints to change them.")
    with sandbox_state().lock:
        order = _order_or_404(order_id)
        if isinstance(order, Response):
            return order
        if body.get("status_id") == 5 and order["status_id"] in SHIPPED_STATUSES:
            return _v2_error(
                400,
                f"Order {order['id']} is {order['status']} and cannot be cancelled (sandbox safety net).",
            )
        if "status_id" in body:
            _set_status(order, body["status_id"])
        _apply_money(order, body)
        for field in (
            "staff_notes",
            "customer_message",
            "payment_method",
            "external_order_id",
            "external_source",
            "customer_id",
            "is_deleted",
        ):
            if field in body:
                order[field] = body[field]
        if "date_created" in body:  # writable in v2 (migrations set it); must be an RFC 2822 date
            try:
                order["date_created"] = rfc2822(_parse_rfc2822(str(body["date_created"])))
            except (TypeError, ValueError):
                return _v2_error(400, "The field 'date_created' must be an RFC 2822 date.")
        if isinstance(body.get("billing_address"), dict):
            order["billing_address"].update(
                {k: v for k, v in body["billing_address"].items() if k in ADDRESS_FIELDS}
            )
        _recalculate(_data(), order)
        response = _json(_render(order))
    record_write(PLATFORM, body, status=200)
    return response


def _product_lines(order_id: int, address_id: int, products: Any) -> list[dict[str, Any]] | Response:
    if not isinstance(products, list) or not products:
        return _v2_error(400, "The required field 'products' was not supplied.")
    catalogue = _data()["products"]
    lines = []
    for n, item in enumerate(products):
        if not isinstance(item, dict):
            return _v2_error(400, "Each product must be an object.")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            return _v2_error(400, "The field 'quantity' must be a positive integer.")
        if "product_id" in item:
            product = catalogue.get(item["product_id"]) if isinstance(item["product_id"], int) else None
            if product is None:
                return _v2_error(400, f"The product with id '{item['product_id']}' could not be found.")
            name, sku, price = product["name"], product["sku"], product["price"]
            product_id = product["id"]
        else:
            name, sku, product_id = item.get("name"), "", 0
            price = _number(item.get("price_ex_tax"))
            if not isinstance(name, str) or not name or price is None:
                return _v2_error(400, "A custom product needs 'name', 'price_ex_tax' and 'price_inc_tax'.")
        if "price_ex_tax" in item and product_id:
            override = _number(item["price_ex_tax"])
            if override is None:
                return _v2_error(400, "The field 'price_ex_tax' must be a number that is not negative.")
            price = override
        lines.append(
            _line(
                order_id,
                order_id * 10 + n + 1,
                address_id,
                product_id,
                name,
                sku,
                price,
                quantity,
                variant_id=item.get("variant_id") if isinstance(item.get("variant_id"), int) else None,
            )
        )
    return lines


def _address_rows(order_id: int, body: dict[str, Any]) -> list[dict[str, Any]] | Response:
    billing = body.get("billing_address")
    if not isinstance(billing, dict):
        return _v2_error(400, "The required field 'billing_address' was not supplied.")
    if not isinstance(billing.get("zip"), str) or len(billing["zip"].strip()) < 2:
        return _v2_error(400, "The billing address must include the ZIP code.")
    given = body.get("shipping_addresses") or [billing]
    if not isinstance(given, list) or not all(isinstance(a, dict) for a in given):
        return _v2_error(400, "The field 'shipping_addresses' must be an array of addresses.")
    rows = []
    for address in given:
        for field, value in address.items():
            if field not in (*ADDRESS_FIELDS, "shipping_method") or not isinstance(value, str):
                return _v2_error(400, f"The shipping address field '{field}' is not valid.")
        row = _shipping_address(sandbox_state().next_id("bigcommerce.address", 7100), order_id, address)
        rows.append(row)
    return rows


@blueprint.post("/stores/<store_hash>/v2/orders")
def create_order(store_hash: str):
    body = _body()
    if isinstance(body, Response):
        return body
    invalid = _check_order_fields(body)
    if invalid:
        return invalid
    with sandbox_state().lock:
        order_id = sandbox_state().next_id("bigcommerce.order", 5100)
        addresses = _address_rows(order_id, body)
        if isinstance(addresses, Response):
            return addresses
        lines = _product_lines(order_id, addresses[0]["id"], body.get("products"))
        if isinstance(lines, Response):
            return lines
        billing = {field: str(body["billing_address"].get(field) or "") for field in ADDRESS_FIELDS}
        given = body.get("customer_id")
        customer_id = given if isinstance(given, int) else 0
        order = _order_row(order_id, customer_id, billing, created=now())
        _set_status(order, body.get("status_id", 1))
        order.update(
            payment_method=body.get("payment_method") or "",
            payment_status="",
            order_source="external",
            staff_notes=body.get("staff_notes") or "",
            customer_message=body.get("customer_message") or "",
            external_order_id=body.get("external_order_id"),
            external_source=body.get("external_source"),
        )
        for field in ("shipping_cost_ex_tax", "shipping_cost_inc_tax", "base_shipping_cost"):
            order[field] = money(0.0)
        _apply_money(order, body)
        data = _data()
        data["orders"][order_id] = order
        data["order_products"][order_id] = lines
        data["addresses"][order_id] = addresses
        data["shipments"][order_id] = []
        order["shipping_address_count"] = len(addresses)
        _recalculate(data, order)
        response = _json(_render(order), 201)
    record_write(PLATFORM, body, status=201, order_id=order_id)
    return response


# ---- v2 coupons ---------------------------------------------------------------------------------


@blueprint.get("/stores/<store_hash>/v2/coupons")
def list_coupons(store_hash: str):
    paging = _paging()
    if isinstance(paging, Response):
        return paging
    with sandbox_state().lock:
        rows = sorted(_data()["coupons"].values(), key=lambda c: c["id"])
    for name in ("code", "name", "type"):
        if request.args.get(name) is not None:
            rows = [c for c in rows if c[name] == request.args[name]]
    page, limit = paging
    return _list(rows[(page - 1) * limit : page * limit])


@blueprint.post("/stores/<store_hash>/v2/coupons")
def create_coupon(store_hash: str):
    body = _body()
    if isinstance(body, Response):
        return body
    for field in ("id", "num_uses", "date_created"):
        if field in body:
            return _not_written(field)
    for field in ("name", "code", "type", "amount", "applies_to"):
        if field not in body:
            return _v2_error(400, f"The required field '{field}' was not supplied.")
    if body["type"] not in COUPON_TYPES:
        return _v2_error(400, "The field 'type' is not a valid coupon type.")
    if not isinstance(body["code"], str) or not COUPON_CODE.match(body["code"]):
        return _v2_error(
            400, "The field 'code' may hold only letters, numbers, spaces, underscores and hyphens."
        )
    if not isinstance(body["name"], str) or not 0 < len(body["name"]) <= 100:
        return _v2_error(400, "The field 'name' must be 1 to 100 characters.")
    amount = _number(body["amount"])
    if amount is None or (body["type"] == "percentage_discount" and amount > 100):
        return _v2_error(400, "The field 'amount' is not valid for this coupon type.")
    for field in ("max_uses", "max_uses_per_customer"):
        value = body.get(field, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return _v2_error(400, f"The field '{field}' must be a whole number that is not negative.")
    applies = body["applies_to"]
    if not isinstance(applies, dict) or applies.get("entity") not in ("categories", "products"):
        return _v2_error(400, "The field 'applies_to' needs an entity (categories or products) and ids.")
    with sandbox_state().lock:
        coupons = _data()["coupons"]
        for existing in coupons.values():
            if existing["code"].casefold() == body["code"].casefold():
                return _v2_error(409, f"The coupon code '{body['code']}' is already in use.")
            if existing["name"] == body["name"]:
                return _v2_error(409, f"The coupon name '{body['name']}' is already in use.")
        coupon_id = sandbox_state().next_id("bigcommerce.coupon", 300)
        coupon = {
            "id": coupon_id,
            "name": body["name"],
            "type": body["type"],
            "amount": money(amount),
            "min_purchase": money(_number(body.get("min_purchase")) or 0.0),
            "expires": body.get("expires") or "",
            "enabled": bool(body.get("enabled", True)),
            "code": body["code"],
            "applies_to": applies,
            "num_uses": 0,
            "max_uses": int(body.get("max_uses") or 0),
            "max_uses_per_customer": int(body.get("max_uses_per_customer") or 0),
            "restricted_to": body.get("restricted_to") or {},
            "shipping_methods": body.get("shipping_methods") or [],
            "date_created": rfc2822(now()),
        }
        coupons[coupon_id] = coupon
        response = _json(coupon, 201)
    record_write(PLATFORM, body, status=201)
    return response


# ---- seeded data --------------------------------------------------------------------------------


def _line(
    order_id: int,
    line_id: int,
    address_id: int,
    product_id: int,
    name: str,
    sku: str,
    price: float,
    quantity: int,
    *,
    shipped: int = 0,
    variant_id: int | None = None,
) -> dict[str, Any]:
    return {
        "id": line_id,
        "order_id": order_id,
        "product_id": product_id,
        "variant_id": variant_id if variant_id is not None else (product_id * 10 if product_id else 0),
        "order_address_id": address_id,
        "name": name,
        "name_customer": name,
        "name_merchant": name,
        "sku": sku,
        "type": "physical",
        "base_price": money(price),
        "price_ex_tax": money(price),
        "price_inc_tax": money(price),
        "price_tax": money(0.0),
        "base_total": money(price * quantity),
        "total_ex_tax": money(price * quantity),
        "total_inc_tax": money(price * quantity),
        "total_tax": money(0.0),
        "quantity": quantity,
        "is_refunded": False,
        "quantity_refunded": 0,
        "refund_amount": money(0.0),
        "quantity_shipped": shipped,
        "applied_discounts": [],
        "product_options": [],
    }


def _shipping_address(address_id: int, order_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": address_id,
        "order_id": order_id,
        **{field: str(fields.get(field) or "") for field in ADDRESS_FIELDS},
        "items_total": 0,
        "items_shipped": 0,
        "shipping_method": fields.get("shipping_method") or "Flat Rate",
        "base_cost": money(SHIPPING),
        "cost_ex_tax": money(SHIPPING),
        "cost_inc_tax": money(SHIPPING),
        "cost_tax": money(0.0),
        "shipping_zone_id": 1,
        "shipping_zone_name": "United States",
        "form_fields": [],
    }


def _order_row(
    order_id: int, customer_id: int, billing: dict[str, Any], *, created: datetime
) -> dict[str, Any]:
    return {
        "id": order_id,
        "customer_id": customer_id,
        "date_created": rfc2822(created),
        "date_modified": rfc2822(created),
        "date_shipped": "",
        "status_id": 1,
        "status": STATUS_NAMES[1],
        "custom_status": STATUS_NAMES[1],
        "subtotal_ex_tax": money(0.0),
        "subtotal_inc_tax": money(0.0),
        "subtotal_tax": money(0.0),
        "base_shipping_cost": money(SHIPPING),
        "shipping_cost_ex_tax": money(SHIPPING),
        "shipping_cost_inc_tax": money(SHIPPING),
        "shipping_cost_tax": money(0.0),
        "total_ex_tax": money(0.0),
        "total_inc_tax": money(0.0),
        "total_tax": money(0.0),
        "items_total": 0,
        "items_shipped": 0,
        "payment_method": "Credit Card",
        "payment_status": "captured",
        "refunded_amount": money(0.0),
        "store_credit_amount": money(0.0),
        "gift_certificate_amount": money(0.0),
        "currency_code": "USD",
        "staff_notes": "",
        "customer_message": "",
        "discount_amount": money(0.0),
        "coupon_discount": money(0.0),
        "shipping_address_count": 1,
        "is_deleted": False,
        "billing_address": billing,
        "order_source": "www",
        "channel_id": 1,
        "external_source": None,
        "external_id": None,
        "external_order_id": None,
        "cart_id": None,
    }


def _address_fields(customer: world.Customer) -> dict[str, str]:
    address = customer.address
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company": "",
        "street_1": address.street,
        "street_2": address.street2,
        "city": address.city,
        "state": address.state_name,
        "zip": address.zip,
        "country": address.country_name,
        "country_iso2": address.country,
        "phone": customer.phone,
        "email": customer.email,
    }


PAYMENT_STATUS = {0: "", 7: "pending", 4: "refunded", 14: "partially refunded", 5: "void", 6: "declined"}


def _shipped_quantities(order: world.Order) -> dict[str, int]:
    shipped: dict[str, int] = {}
    for parcel in order.parcels:
        for line in order.parcel_items(parcel):
            shipped[line.product.sku] = shipped.get(line.product.sku, 0) + line.quantity
    return shipped


def _seed_order(data: dict[str, Any], seeded: world.Order, today: datetime, next_shipment: int) -> int:
    order_id = int(seeded.number)
    customer = seeded.customer
    fields = _address_fields(customer)
    order = _order_row(order_id, customer.id, dict(fields), created=today + timedelta(days=seeded.placed))
    status_id = STATUS_IDS[seeded.status]
    _set_status(order, status_id)
    first_shipped = min((p.shipped for p in seeded.parcels), default=None)
    if first_shipped is not None:
        order["date_shipped"] = rfc2822(today + timedelta(days=first_shipped))
    replaced = ""
    if seeded.replacement_of:
        replaced = f"Replacement for order {seeded.replacement_of} ({seeded.reference})"
    order.update(
        payment_status=PAYMENT_STATUS.get(status_id, "captured"),
        staff_notes=replaced,
        external_order_id=seeded.reference if seeded.replacement_of else None,
    )
    address_id = 7000 + order_id % 1000
    shipped = _shipped_quantities(seeded)
    lines = []
    for n, item in enumerate(seeded.items):
        product = item.product
        line = _line(
            order_id,
            order_id * 10 + n + 1,
            address_id,
            product.id,
            product.name,
            product.sku,
            product.price,
            item.quantity,
            shipped=min(item.quantity, shipped.get(product.sku, 0)),
        )
        lines.append(line)
    address = _shipping_address(address_id, order_id, fields)
    address["items_total"] = sum(item.quantity for item in seeded.items)
    address["items_shipped"] = sum(line["quantity_shipped"] for line in lines)
    data["orders"][order_id] = order
    data["order_products"][order_id] = lines
    data["addresses"][order_id] = [address]
    data["shipments"][order_id] = []
    by_sku = {line["sku"]: line for line in lines}
    for parcel in seeded.parcels:
        data["shipments"][order_id].append(
            {
                "id": next_shipment,
                "order_id": order_id,
                "customer_id": customer.id,
                "order_address_id": address_id,
                "date_created": rfc2822(today + timedelta(days=parcel.shipped)),
                "tracking_number": parcel.tracking,
                "merchant_shipping_cost": money(0.0),
                "shipping_method": "Flat Rate",
                "comments": "",
                "shipping_provider": parcel.carrier,
                "tracking_carrier": "",
                "tracking_link": "",
                "generated_tracking_link": f"https://track.example/{parcel.carrier}/{parcel.tracking}",
                "shipping_provider_display_name": parcel.carrier.upper(),
                "billing_address": dict(fields),
                "shipping_address": dict(fields),
                "items": [
                    {
                        "order_product_id": by_sku[line.product.sku]["id"],
                        "product_id": line.product.id,
                        "quantity": line.quantity,
                    }
                    for line in seeded.parcel_items(parcel)
                ],
            }
        )
        next_shipment += 1
    return next_shipment


def _customer(customer: world.Customer, created: datetime) -> dict[str, Any]:
    return {
        "id": customer.id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company": "",
        "phone": customer.phone,
        "notes": "",
        "tax_exempt_category": "",
        "customer_group_id": 0,
        "date_created": created.isoformat().replace("+00:00", "Z"),
        "date_modified": created.isoformat().replace("+00:00", "Z"),
        "registration_ip_address": "",
        "accepts_product_review_abandoned_cart_emails": True,
        "channel_ids": [1],
    }


def seed(data: dict[str, Any]) -> None:
    data.clear()
    today = now()
    the_world = world.load()
    data.update(orders={}, order_products={}, addresses={}, shipments={}, coupons={}, customers={})
    data["products"] = {
        p.id: {"id": p.id, "name": p.name, "sku": p.sku, "price": p.price} for p in the_world.products
    }
    next_shipment = 9001
    for seeded in the_world.orders_in("bigcommerce"):
        next_shipment = _seed_order(data, seeded, today, next_shipment)
        order = data["orders"][int(seeded.number)]
        _recalculate(data, order)
        order["date_modified"] = order["date_created"]
        if seeded.status == "refunded":
            order["refunded_amount"] = order["total_inc_tax"]
    for customer in the_world.customers:
        data["customers"][customer.id] = _customer(customer, today - timedelta(days=400))
