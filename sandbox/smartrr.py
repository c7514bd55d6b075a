"""Smartrr's vendor API (subscriptions on Shopify) as the sandbox serves it (docs/platforms/smartrr.md).

Mounted at /smartrr, so SMARTRR_BASE_URL is https://host:port/smartrr and the paths below it are
Smartrr's own /vendor/... paths. Smartrr's OpenAPI document could not be obtained: the paths are
the vendor's (through a third-party copy of its spec), the field names those independent client
code reads (id, shopifyId, purchaseStateStatus, nextBillingDate, custRel, stLineItems, pageNumber
from 0, pageSize, filterEquals[purchaseStateStatus], filterLike[emailOrName]). What no source
establishes is played as READINGS, each with a test per reading:
- "email_filter": `filterEquals[email]` on customer relationships is "honoured" (the default),
  "ignored" (every customer comes back, newest first) or "refused" (400 for an unknown field);
- "page_envelope": pages are {data, pageNumber, pageSize, totalCount, totalPages} ("object", the
  default) or a bare list ("list");
- "skipped_field": a subscription's skipped dates are in `skippedDates` (the default) or
  `skippedBillingDates`.
`POST /_sandbox/smartrr/backfill` adds other customers, newer than the seeded ones. What the
sandbox serves:
    GET /vendor/customer-relationship                 paged; filterEquals[email|...], filterLike[...]
    GET /vendor/customer-relationship/{customerShopifyId}
    GET /vendor/purchase-state                        paged; filterEquals[purchaseStateStatus|shopifyId]
    GET /vendor/purchase-state/{shopifySubscriptionId}
    GET /vendor/customer/{custRelId}/purchase-state/  the customer's subscriptions (a plain list)
    PUT /vendor/customer/{custRelId}/purchase-state/{purchaseStateId}/skip|unskip|pause|activate|cancel
    GET /vendor/order, /vendor/order/formatted        paged; filterLike[emailOrName] (email, name, order name)
    GET /vendor/orders/{shopifyId}, /vendor/customer/{custRelId}/orders
Pages are as "page_envelope" says (pageNumber from 0, pageSize at most 250). An unknown filter field
is 400 (but see "email_filter"). Errors are {statusCode, message, error}.

Lifecycle: skip moves nextBillingDate one billing period later and appends the skipped date to
the skipped dates; unskip restores the most recent skipped date if it is still ahead; both need an
ACTIVE subscription (else 400). pause/activate switch ACTIVE <-> PAUSED (repeating one is a 200
that changes nothing); a CANCELLED subscription refuses all of them. Only changes are recorded as
writes. No rate-limit headers exist: a throttle (injected as a fault) is a bare 429.

Seeded data: the subscription app's part of the sandbox's world (sandbox/world/). Smartrr
holds a customer relationship for every customer (shopifyId 6100000000 + the customer's number, the
Shopify customer id), every subscription of subscriptions.yaml as a purchase state (its id the
`shopifyId`; ACTIVE, PAUSED or CANCELLED) and every Shopify order that names a subscription (its
`shopifyId` the Shopify order id, `orderName` "#" + its number; FULFILLED once shipped).
"""

from __future__ import annotations

import calendar
import math
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import world
from sandbox.app import reading, record_write, sandbox_state, section
from sandbox.state import Fault

PLATFORM = "smartrr"
PREFIX = "/smartrr"
HELPDESK = False

ACCESS_TOKEN = "smartrr_sandbox_token_0123456789abcdef"  # noqa: S105 (sandbox only)
DEFAULT_PAGE_SIZE = 50
READINGS = {
    "email_filter": ("honoured", "ignored", "refused"),
    "page_envelope": ("object", "list"),
    "skipped_field": ("skippedDates", "skippedBillingDates"),
}
MAX_PAGE_SIZE = 250
NAMESPACE = uuid.UUID("5d6c1f1e-5a1b-4d35-9c3e-70a1c0ffee00")

STATUSES = {"active": "ACTIVE", "paused": "PAUSED", "cancelled": "CANCELLED"}
FULFILLMENT = {"shipped": "FULFILLED", "completed": "FULFILLED", "partially_shipped": "PARTIALLY_FULFILLED"}
FINANCIAL = {"awaiting_payment": "PENDING", "cancelled": "REFUNDED", "refunded": "REFUNDED"}

blueprint = Blueprint("smartrr", __name__)


# ---- helpers ------------------------------------------------------------------------------------


def _today() -> date:
    return datetime.now(UTC).date()


def _stamp(day: date, hour: int = 14) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00.000Z"


def _day_of(stamp: str | None) -> date | None:
    return date.fromisoformat(stamp[:10]) if stamp else None


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def add_period(day: date, interval: str, count: int) -> date:
    """One billing period later; months keep the day where the month has it (Jan 31 -> Feb 28)."""
    if interval == "DAY":
        return day + timedelta(days=count)
    if interval == "WEEK":
        return day + timedelta(weeks=count)
    months = count * (12 if interval == "YEAR" else 1)
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _error(status: int, message: str) -> Response:
    names = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
    response = jsonify({"statusCode": status, "message": message, "error": names.get(status, "Error")})
    response.status_code = status
    return response


@blueprint.before_request
def _unauthorized() -> Response | None:
    """Every Smartrr route needs the access token; a wrong or missing one is 401."""
    if request.headers.get("x-smartrr-access-token") == ACCESS_TOKEN:
        return None
    return _error(401, "Unauthorized")


def _data() -> dict[str, Any]:
    return section(PLATFORM)


def _filters(allowed: set[str]) -> tuple[dict[str, str], dict[str, str]] | Response:
    """filterEquals[field]=v and filterLike[field]=v query parameters, or a 400 for unknown fields."""
    equals: dict[str, str] = {}
    like: dict[str, str] = {}
    for key, value in request.args.items():
        for prefix, target in (("filterEquals[", equals), ("filterLike[", like)):
            if key.startswith(prefix) and key.endswith("]"):
                field = key[len(prefix) : -1]
                if field not in allowed:
                    return _error(400, f"Invalid filter field: {field}")
                target[field] = value
    return equals, like


def _page(rows: list[dict[str, Any]]) -> Response:
    try:
        number = int(request.args.get("pageNumber", 0))
        size = int(request.args.get("pageSize", DEFAULT_PAGE_SIZE))
    except ValueError:
        return _error(400, "pageNumber and pageSize must be integers")
    if number < 0 or not 1 <= size <= MAX_PAGE_SIZE:
        return _error(400, f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    if reading(PLATFORM, "page_envelope") == "list":
        return jsonify(rows[number * size : (number + 1) * size])
    return jsonify(
        {
            "data": rows[number * size : (number + 1) * size],
            "pageNumber": number,
            "pageSize": size,
            "totalCount": len(rows),
            "totalPages": math.ceil(len(rows) / size),
        }
    )


def _field(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def _apply(rows: list[dict[str, Any]], equals: dict[str, str], like: dict[str, str], fields: dict[str, Any]):
    """`fields` maps a filter name to a function reading it from a row."""
    for name, wanted in equals.items():
        rows = [r for r in rows if fields[name](r).casefold() == wanted.casefold()]
    for name, wanted in like.items():
        rows = [r for r in rows if wanted.casefold() in fields[name](r).casefold()]
    return rows


def _cust_rel(cust_rel_id: str) -> dict[str, Any] | None:
    return _data().get("customers", {}).get(cust_rel_id)


def _purchase_state_view(state: dict[str, Any]) -> dict[str, Any]:
    """A purchase state as served: its customer relationship embedded as `custRel`, its skipped dates
    under the field READINGS "skipped_field" names."""
    view = {k: v for k, v in state.items() if k != "skippedDates"}
    view[reading(PLATFORM, "skipped_field")] = list(state.get("skippedDates") or [])
    return {**view, "custRel": dict(_cust_rel(state["custRelId"]) or {})}


def _order_view(order: dict[str, Any]) -> dict[str, Any]:
    return {**order, "custRel": dict(_cust_rel(order["custRelId"]) or {})}


# ---- API: customers -----------------------------------------------------------------------------

CUSTOMER_FIELDS = {
    "email": lambda r: _field(r, "email"),
    "shopifyId": lambda r: _field(r, "shopifyId"),
    "firstName": lambda r: _field(r, "firstName"),
    "lastName": lambda r: _field(r, "lastName"),
}


@blueprint.get("/vendor/customer-relationship")
def list_customers():
    """Newest first. The email filter does what READINGS "email_filter" says."""
    email_filter = reading(PLATFORM, "email_filter")
    fields = (
        CUSTOMER_FIELDS
        if email_filter != "refused"
        else {k: v for k, v in CUSTOMER_FIELDS.items() if k != "email"}
    )
    parsed = _filters(set(fields) | ({"email"} if email_filter == "ignored" else set()))
    if isinstance(parsed, Response):
        return parsed
    equals, like = parsed
    if email_filter == "ignored":
        equals.pop("email", None)
    with sandbox_state().lock:
        rows = [dict(c) for c in _data().get("customers", {}).values()]
    rows.sort(key=lambda c: c["createdDate"], reverse=True)
    return _page(_apply(rows, equals, like, fields))


@blueprint.get("/vendor/customer-relationship/<customer_shopify_id>")
def get_customer(customer_shopify_id: str):
    with sandbox_state().lock:
        found = [
            dict(c) for c in _data().get("customers", {}).values() if c["shopifyId"] == customer_shopify_id
        ]
    return jsonify(found[0]) if found else _error(404, "Customer relationship not found")


# ---- API: purchase states -----------------------------------------------------------------------

STATE_FIELDS = {
    "purchaseStateStatus": lambda r: _field(r, "purchaseStateStatus"),
    "shopifyId": lambda r: _field(r, "shopifyId"),
}


@blueprint.get("/vendor/purchase-state")
def list_purchase_states():
    parsed = _filters(set(STATE_FIELDS))
    if isinstance(parsed, Response):
        return parsed
    with sandbox_state().lock:
        rows = [_purchase_state_view(s) for s in _data().get("purchase_states", {}).values()]
    return _page(_apply(rows, *parsed, STATE_FIELDS))


@blueprint.get("/vendor/purchase-state/<shopify_subscription_id>")
def get_purchase_state(shopify_subscription_id: str):
    with sandbox_state().lock:
        found = [
            _purchase_state_view(s)
            for s in _data().get("purchase_states", {}).values()
            if s["shopifyId"] == shopify_subscription_id
        ]
    return jsonify(found[0]) if found else _error(404, "Purchase state not found")


@blueprint.get("/vendor/customer/<cust_rel_id>/purchase-state/", strict_slashes=False)
def customer_purchase_states(cust_rel_id: str):
    with sandbox_state().lock:
        if _cust_rel(cust_rel_id) is None:
            return _error(404, "Customer relationship not found")
        rows = [
            _purchase_state_view(s)
            for s in _data().get("purchase_states", {}).values()
            if s["custRelId"] == cust_rel_id
        ]
    return jsonify(rows)


def _skip(state: dict[str, Any], _body: dict[str, Any]) -> str | None:
    if state["purchaseStateStatus"] != "ACTIVE":
        return "Only an active subscription can skip a delivery"
    current = _day_of(state.get("nextBillingDate"))
    if current is None:
        return "The subscription has no upcoming order to skip"
    policy = state["billingPolicy"]
    state["nextBillingDate"] = _stamp(add_period(current, policy["interval"], policy["intervalCount"]))
    state["skippedDates"] = [*state.get("skippedDates", []), current.isoformat()]
    return None


def _unskip(state: dict[str, Any], _body: dict[str, Any]) -> str | None:
    if state["purchaseStateStatus"] != "ACTIVE":
        return "Only an active subscription can unskip a delivery"
    skipped = state.get("skippedDates") or []
    if not skipped or date.fromisoformat(skipped[-1]) < _today():
        return "There is no upcoming skipped delivery to restore"
    state["nextBillingDate"] = _stamp(date.fromisoformat(skipped[-1]))
    state["skippedDates"] = skipped[:-1]
    return None


def _pause(state: dict[str, Any], body: dict[str, Any]) -> str | None:
    if state["purchaseStateStatus"] == "CANCELLED":
        return "A cancelled subscription cannot be paused"
    state["purchaseStateStatus"] = "PAUSED"
    state["unpauseDate"] = body.get("unpauseDate")
    return None


def _activate(state: dict[str, Any], _body: dict[str, Any]) -> str | None:
    if state["purchaseStateStatus"] == "CANCELLED":
        return "A cancelled subscription cannot be activated"
    state["purchaseStateStatus"] = "ACTIVE"
    state["unpauseDate"] = None
    upcoming = _day_of(state.get("nextBillingDate"))
    if upcoming is None or upcoming <= _today():
        state["nextBillingDate"] = _stamp(_today() + timedelta(days=1))
    return None


def _cancel(state: dict[str, Any], _body: dict[str, Any]) -> str | None:
    if state["purchaseStateStatus"] == "CANCELLED":
        return "The subscription is already cancelled"
    state["purchaseStateStatus"] = "CANCELLED"
    state["nextBillingDate"] = None
    state["cancelledDate"] = _stamp(_today())
    return None


ACTIONS = {"skip": _skip, "unskip": _unskip, "pause": _pause, "activate": _activate, "cancel": _cancel}


@blueprint.put("/vendor/customer/<cust_rel_id>/purchase-state/<purchase_state_id>/<action>")
def act_on_purchase_state(cust_rel_id: str, purchase_state_id: str, action: str):
    change = ACTIONS.get(action)
    if change is None:
        return _error(404, f"Cannot PUT {action}")
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    with sandbox_state().lock:
        state = _data().get("purchase_states", {}).get(purchase_state_id)
        if state is None or state["custRelId"] != cust_rel_id:
            return _error(404, "Purchase state not found")
        before = dict(state)
        problem = change(state, body)
        if problem:
            return _error(400, problem)
        if state != before:
            state["updatedDate"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            record_write(PLATFORM, body, action=action, subscription=state["shopifyId"])
        return jsonify(_purchase_state_view(state))


# ---- API: orders --------------------------------------------------------------------------------

ORDER_FIELDS = {
    "emailOrName": lambda r: " ".join(
        [
            _field(r["custRel"], "email"),
            f"{_field(r['custRel'], 'firstName')} {_field(r['custRel'], 'lastName')}",
            _field(r, "orderName"),
        ]
    ),
    "shopifyId": lambda r: _field(r, "shopifyId"),
    "orderName": lambda r: _field(r, "orderName"),
}


def _order_rows() -> list[dict[str, Any]]:
    with sandbox_state().lock:
        rows = [_order_view(o) for o in _data().get("orders", {}).values()]
    return sorted(rows, key=lambda r: r["orderProcessedDate"], reverse=True)


@blueprint.get("/vendor/order")
@blueprint.get("/vendor/order/formatted")
def list_orders():
    parsed = _filters(set(ORDER_FIELDS))
    if isinstance(parsed, Response):
        return parsed
    return _page(_apply(_order_rows(), *parsed, ORDER_FIELDS))


@blueprint.get("/vendor/orders/<shopify_id>")
def get_order(shopify_id: str):
    found = [o for o in _order_rows() if o["shopifyId"] == shopify_id]
    return jsonify(found[0]) if found else _error(404, "Order not found")


@blueprint.get("/vendor/customer/<cust_rel_id>/orders")
def customer_orders(cust_rel_id: str):
    with sandbox_state().lock:
        if _cust_rel(cust_rel_id) is None:
            return _error(404, "Customer relationship not found")
    return _page([o for o in _order_rows() if o["custRelId"] == cust_rel_id])


def fault_response(fault: Fault) -> Response:
    """Smartrr publishes no rate-limit headers, so a throttle is a bare 429."""
    if fault.body is not None:
        response = jsonify(fault.body)
        response.status_code = fault.status
        return response
    messages = {429: "ThrottlerException: Too Many Requests", 401: "Unauthorized"}
    return _error(fault.status, messages.get(fault.status, "Internal server error"))


def client_env(base_url: str) -> dict[str, str]:
    return {"SMARTRR_BASE_URL": f"{base_url}{PREFIX}", "SMARTRR_API_TOKEN": ACCESS_TOKEN}


# ---- seeded data --------------------------------------------------------------------------------


def _customer(customer: world.Customer) -> dict[str, Any]:
    return {
        "id": _id("custRel", str(customer.id)),
        "shopifyId": str(6100000000 + customer.id),
        "email": customer.email,
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "phone": customer.phone or None,
        "createdDate": _stamp(_today() - timedelta(days=120), 9),
    }


def _line_item(contract: str, line: world.Line) -> dict[str, Any]:
    product = line.product
    price = f"{product.price:.2f}"
    return {
        "id": _id("line", contract, product.sku),
        "quantity": line.quantity,
        "basePrice": price,
        "productName": product.name,
        "variantName": product.variant,
        "sku": product.sku,
        "vnt": {
            "shopifyId": f"gid://shopify/ProductVariant/{product.id}",
            "sku": product.sku,
            "variantTitle": product.variant,
            "purchasable": {"purchasableName": product.name},
        },
    }


def _purchase_state(cust_rel_id: str, subscription: world.Subscription) -> dict[str, Any]:
    today = _today()
    count, interval = subscription.every
    policy = {"interval": interval, "intervalCount": count}
    contract = subscription.id
    cancelled = subscription.cancelled if subscription.status == "cancelled" else None
    upcoming = subscription.next if subscription.status != "cancelled" else None
    return {
        "id": _id("purchaseState", contract),
        "shopifyId": contract,
        "custRelId": cust_rel_id,
        "purchaseStateStatus": STATUSES[subscription.status],
        "nextBillingDate": _stamp(today + timedelta(days=upcoming)) if upcoming is not None else None,
        "createdDate": _stamp(today + timedelta(days=subscription.created), 9),
        "updatedDate": _stamp(today - timedelta(days=1), 9),
        "cancelledDate": _stamp(today + timedelta(days=cancelled)) if cancelled is not None else None,
        "unpauseDate": None,
        "sellingPlanId": f"gid://shopify/SellingPlan/{interval.lower()}-{count}",
        "billingPolicy": dict(policy),
        "deliveryPolicy": dict(policy),
        "stLineItems": [_line_item(contract, line) for line in subscription.items],
        "skippedDates": [],
    }


def _order(order: world.Order, customer: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    processed = _stamp(_today() + timedelta(days=order.placed), 10)
    cancelled = _stamp(_today() + timedelta(days=order.cancelled)) if order.cancelled is not None else None
    address = order.customer.address
    return {
        "id": _id("order", order.number),
        "shopifyId": order.id or f"55000000{order.number}",
        "orderName": f"#{order.number}",
        "orderProcessedDate": processed,
        "createdDate": processed,
        "custRelId": customer["id"],
        "fulfillmentStatus": FULFILLMENT.get(order.status, "UNFULFILLED"),
        "financialStatus": FINANCIAL.get(order.status, "PAID"),
        "cancelledAt": cancelled,
        "totalPrice": f"{order.total:.2f}",
        "currency": "USD",
        "items": [
            {
                "productName": line.product.name,
                "variantName": line.product.variant,
                "sku": line.product.sku,
                "quantity": line.quantity,
                "price": f"{line.product.price:.2f}",
            }
            for line in order.items
        ],
        "shippingAddress": {
            "firstName": customer["firstName"],
            "lastName": customer["lastName"],
            "address1": address.street,
            "address2": address.street2 or None,
            "city": address.city,
            "province": address.state_name,
            "provinceCode": address.state,
            "zip": address.zip,
            "country": address.country_name,
            "countryCode": address.country,
        },
        "sts": [{"id": state["id"], "shopifyId": state["shopifyId"]}],
    }


BUYER_ADDRESS = world.Address("1 Roast Avenue", "Portland", "OR", "97205", "US")


def backfill(data: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Other customers (no subscriptions), created after the seeded ones: a shop bigger than a page."""
    for n in range(int(spec.get("count", 300))):
        email = f"buyer{n}@smartrr.example"
        buyer = world.Customer(1_000_000 + n, f"Buyer Number{n}", email, "", BUYER_ADDRESS)
        customer = _customer(buyer)
        customer["createdDate"] = _stamp(_today() - timedelta(days=1), 9)
        data["customers"][customer["id"]] = customer
    return {"customers": len(data["customers"])}


def seed(data: dict[str, Any]) -> None:
    data.clear()
    the_world = world.load()
    customers: dict[str, dict[str, Any]] = {}
    by_email: dict[str, dict[str, Any]] = {}
    for person in the_world.customers:
        customer = _customer(person)
        customers[customer["id"]] = by_email[person.email] = customer
    states: dict[str, dict[str, Any]] = {}
    by_contract: dict[str, dict[str, Any]] = {}
    for subscription in the_world.subscriptions:
        state = _purchase_state(by_email[subscription.customer.email]["id"], subscription)
        states[state["id"]] = by_contract[state["shopifyId"]] = state
    orders = {}
    for order in the_world.orders_in("shopify"):
        if order.subscription:
            row = _order(order, by_email[order.customer.email], by_contract[order.subscription])
            orders[row["id"]] = row
    data.update(customers=customers, purchase_states=states, orders=orders)
