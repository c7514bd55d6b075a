"""Shopify Admin GraphQL 2025-01: a customer's orders, one order, cancelling it (docs/platforms/shopify.md).

Why it looks the way it does:
- One endpoint, `POST /admin/api/2025-01/graphql.json` with `X-Shopify-Access-Token`. Every query the
  connector sends is a constant below, and tests/test_shopify_schema.py validates each one against
  the vendor's 2025-01 schema, so a renamed field fails a test, not a customer conversation.
- Throttling is in the body, not the status: Shopify answers HTTP 200 with
  `errors[].extensions.code == "THROTTLED"` and `extensions.cost.throttleStatus`. That becomes
  RateLimited with the wait Shopify implies, `(requestedQueryCost - currentlyAvailable) / restoreRate`,
  and the shared retry policy (connectors.http.make_retrying) honours it. HttpClient itself runs one
  attempt per call here, so HTTP-level and body-level retries share one budget instead of multiplying.
- A throttled mutation was not executed, so repeating it is safe; any other ambiguous failure of
  `orderCancel` (5xx, timeout) is OutcomeUnknown and never repeated: `cancellation_of` looks the
  effect up instead (the order's `cancelledAt`).
- `orderCancel` is asynchronous (it returns a Job) and requires `refund` and `restock`; we refund,
  restock, notify the customer and leave a staff note. A fulfilled order is refused by Shopify with
  `orderCancelUserErrors`, which become Rejected (a definite "no": nothing happened).

Status vocabulary (connectors.models.ORDER_STATUSES), first match wins:
    cancelledAt set                                   -> canceled
    displayFulfillmentStatus RESTOCKED                -> canceled
    FULFILLED / PARTIALLY_FULFILLED                   -> the parcels, summed up by parcels.summarize
        fulfillment displayStatus DELIVERED, PICKED_UP                        -> delivered
        IN_TRANSIT, OUT_FOR_DELIVERY, ATTEMPTED_DELIVERY, DELAYED, READY_FOR_PICKUP -> in_transit
        FAILURE, NOT_DELIVERED                                                -> exception
        anything else (FULFILLED, CONFIRMED, LABEL_PRINTED, ..., or none)     -> shipped
        CANCELED / LABEL_VOIDED fulfillments are not parcels and are left out.
        A partially fulfilled order is never "delivered": part of it has not shipped (-> shipped).
    REQUEST_DECLINED                                  -> exception
    ON_HOLD, IN_PROGRESS, PENDING_FULFILLMENT, OPEN, SCHEDULED -> processing
    UNFULFILLED and financial PAID, PARTIALLY_REFUNDED -> pending_shipment
    UNFULFILLED and financial REFUNDED, VOIDED        -> canceled
    UNFULFILLED and financial EXPIRED                 -> exception (the payment authorization lapsed)
    UNFULFILLED otherwise (PENDING, AUTHORIZED, PARTIALLY_PAID) -> approved
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from connectors.config import PlatformConfig, tls_verify
from connectors.errors import (
    NotConfigured,
    NotFound,
    OutcomeUnknown,
    PlatformUnavailable,
    RateLimited,
    Rejected,
)
from connectors.http import HttpClient, make_retrying
from connectors.models import Address, Order, OrderItem, Shipment
from connectors.parcels import newest_first, summarize
from connectors.tools import register_platform, tool

PLATFORM = "shopify"
API_VERSION = "2025-01"
GRAPHQL_PATH = f"/admin/api/{API_VERSION}/graphql.json"
ORDERS_PER_CUSTOMER = 10  # with the fields below, ~580 cost points: under the 1,000 per query cap
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER")
CANCELLABLE_STATUSES = ("approved", "processing", "pending_shipment")
STAFF_NOTE = "Cancelled at the customer's request through a support conversation."
MIN_THROTTLE_WAIT = 0.1

ORDER_FIELDS = """
fragment OrderFields on Order {
  id
  name
  email
  createdAt
  cancelledAt
  cancelReason
  displayFinancialStatus
  displayFulfillmentStatus
  customer { id displayName }
  totalPriceSet { shopMoney { amount currencyCode } }
  shippingAddress { name address1 address2 city provinceCode zip countryCodeV2 }
  lineItems(first: 10) {
    nodes { name quantity sku originalUnitPriceSet { shopMoney { amount } } }
  }
  fulfillments(first: 5) {
    id
    status
    displayStatus
    createdAt
    estimatedDeliveryAt
    inTransitAt
    deliveredAt
    trackingInfo(first: 3) { company number url }
  }
}
"""

ORDERS_QUERY = (
    """
query OrdersBySearch($query: String!, $first: Int!) {
  orders(first: $first, query: $query, sortKey: CREATED_AT, reverse: true) {
    nodes { ...OrderFields }
  }
}
"""
    + ORDER_FIELDS
)

ORDER_QUERY = (
    """
query OrderById($id: ID!) {
  order(id: $id) { ...OrderFields }
}
"""
    + ORDER_FIELDS
)

CANCELLATION_QUERY = """
query OrderCancellation($id: ID!) {
  order(id: $id) { id name cancelledAt cancelReason displayFulfillmentStatus }
}
"""

CANCEL_MUTATION = """
mutation CancelOrder($orderId: ID!, $reason: OrderCancelReason!, $staffNote: String) {
  orderCancel(
    orderId: $orderId
    reason: $reason
    refund: true
    restock: true
    notifyCustomer: true
    staffNote: $staffNote
  ) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""

OPERATIONS = {
    "orders": ORDERS_QUERY,
    "order": ORDER_QUERY,
    "cancellation": CANCELLATION_QUERY,
    "cancel": CANCEL_MUTATION,
}
"""Every document the connector sends (tests validate each against the vendor schema)."""

FULFILLMENT_STATUS = {
    "DELIVERED": "delivered",
    "PICKED_UP": "delivered",
    "IN_TRANSIT": "in_transit",
    "OUT_FOR_DELIVERY": "in_transit",
    "ATTEMPTED_DELIVERY": "in_transit",
    "DELAYED": "in_transit",
    "READY_FOR_PICKUP": "in_transit",
    "FAILURE": "exception",
    "NOT_DELIVERED": "exception",
}
NOT_A_PARCEL = frozenset({"CANCELED", "LABEL_VOIDED"})
IN_FULFILLMENT = frozenset({"ON_HOLD", "IN_PROGRESS", "PENDING_FULFILLMENT", "OPEN", "SCHEDULED"})
SHIPPED = frozenset({"FULFILLED", "PARTIALLY_FULFILLED"})

GID = re.compile(r"^gid://shopify/Order/(\d+)$")
NUMERIC_ID_MIN_DIGITS = 10  # Shopify order ids are long; shorter numbers are order names ("1043")


def shopify_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    """SHOPIFY_BASE_URL (the shop's origin) wins; else SHOPIFY_SHOP, as "acme" or "acme.myshopify.com"."""
    token = env.get("SHOPIFY_ACCESS_TOKEN")
    base = env.get("SHOPIFY_BASE_URL")
    shop = (env.get("SHOPIFY_SHOP") or "").strip().lower()
    if not base and shop:
        host = shop if shop.endswith(".myshopify.com") else f"{shop}.myshopify.com"
        base = f"https://{host}"
    if not token or not base:
        return None
    return PlatformConfig(PLATFORM, base, {"access_token": token}, tls_verify(env))


register_platform(PLATFORM, shopify_config)


def throttle_wait(body: Mapping[str, Any]) -> float | None:
    """Seconds until the bucket holds enough points for the query Shopify just refused."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        restore = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    if restore <= 0:
        return None
    return max(MIN_THROTTLE_WAIT, (requested - available) / restore)


def _json_or_empty(text: str | None) -> dict[str, Any]:
    try:
        body = json.loads(text or "")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _is_throttled(errors: Any) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    )


class ShopifyClient:
    """GraphQL over the shared HTTP layer, with Shopify's in-body throttling turned into RateLimited."""

    def __init__(self, config: PlatformConfig, *, attempts: int = 4, max_wait: float = 30.0):
        self.http = HttpClient(
            PLATFORM,
            config.base_url,
            headers={"X-Shopify-Access-Token": config.secret("access_token")},
            verify=config.verify,
            attempts=1,
        )
        self.attempts = attempts
        self.max_wait = max_wait

    def execute(
        self, document: str, variables: Mapping[str, Any], *, mutation: bool = False
    ) -> dict[str, Any]:
        """The `data` of one operation; retried on throttling (and, for queries, on 5xx)."""
        retrying = make_retrying(attempts=self.attempts, max_wait=self.max_wait)
        return retrying(self._once, document, dict(variables), mutation)

    def _once(self, document: str, variables: dict[str, Any], mutation: bool) -> dict[str, Any]:
        try:
            response = self.http.request(
                "POST",
                GRAPHQL_PATH,
                json={"query": document, "variables": variables},
                idempotent=not mutation,
            )
        except RateLimited as limited:
            # Throttling may come as HTTP 429 too (the status is not documented): the body's bucket
            # still says how long to wait, when the response carries no Retry-After.
            if limited.retry_after is None:
                limited.retry_after = throttle_wait(_json_or_empty(limited.detail))
            raise
        try:
            body = response.json()
        except ValueError as exc:
            if mutation:
                raise OutcomeUnknown(PLATFORM, "unreadable answer to a mutation; effect unknown") from exc
            raise PlatformUnavailable(PLATFORM, "unreadable GraphQL answer") from exc
        if not isinstance(body, dict):
            raise Rejected(PLATFORM, "GraphQL answer is not an object")
        errors = body.get("errors")
        if _is_throttled(errors):
            raise RateLimited(PLATFORM, "query cost throttled", retry_after=throttle_wait(body))
        if errors:
            messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
            raise Rejected(PLATFORM, "GraphQL errors", detail=messages)
        data = body.get("data")
        return data if isinstance(data, dict) else {}


def client(env: Mapping[str, str] = os.environ) -> ShopifyClient:
    config = shopify_config(env)
    if config is None:
        raise NotConfigured(
            PLATFORM, "SHOPIFY_ACCESS_TOKEN and SHOPIFY_SHOP (or SHOPIFY_BASE_URL) are not set"
        )
    return ShopifyClient(config)


# ---- normalizing ------------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def order_status(
    fulfillment: str | None,
    financial: str | None,
    cancelled_at: str | None,
    shipments: tuple[Shipment, ...] = (),
) -> str:
    """Shopify's display statuses in our vocabulary (the table in the module docstring).

    Also used for Smartrr orders, which mirror the Shopify order they were created as.
    """
    fulfillment = (fulfillment or "").upper()
    financial = (financial or "").upper()
    if cancelled_at or fulfillment == "RESTOCKED":
        return "canceled"
    if fulfillment in SHIPPED:
        summary = summarize(shipments)
        status = summary.status if summary else "shipped"
        if fulfillment == "PARTIALLY_FULFILLED" and status == "delivered":
            return "shipped"
        return status
    if fulfillment == "REQUEST_DECLINED":
        return "exception"
    if fulfillment in IN_FULFILLMENT:
        return "processing"
    if financial in ("PAID", "PARTIALLY_REFUNDED"):
        return "pending_shipment"
    if financial in ("REFUNDED", "VOIDED"):
        return "canceled"
    if financial == "EXPIRED":
        return "exception"
    return "approved"


def to_shipments(fulfillment: Mapping[str, Any]) -> list[Shipment]:
    """One parcel per tracking number (a fulfillment without tracking is still one parcel)."""
    display = fulfillment.get("displayStatus")
    if display in NOT_A_PARCEL or fulfillment.get("status") == "CANCELLED":
        return []
    status = FULFILLMENT_STATUS.get(display or "", "shipped")
    trackings = [t for t in fulfillment.get("trackingInfo") or [] if isinstance(t, dict)] or [{}]
    return [
        Shipment(
            tracking_number=str(t.get("number") or ""),
            carrier=t.get("company"),
            status=status,
            carrier_status=display,
            status_detail=(display or "").replace("_", " ").lower() or None,
            tracking_url=t.get("url"),
            ship_date=fulfillment.get("createdAt"),
            estimated_delivery=fulfillment.get("estimatedDeliveryAt"),
            actual_delivery=fulfillment.get("deliveredAt"),
        )
        for t in trackings
    ]


def _address(raw: Mapping[str, Any] | None) -> Address | None:
    if not raw:
        return None
    return Address(
        name=raw.get("name"),
        street_1=raw.get("address1"),
        street_2=raw.get("address2"),
        city=raw.get("city"),
        state=raw.get("provinceCode"),
        zip=raw.get("zip"),
        country=raw.get("countryCodeV2"),
    )


def _items(order: Mapping[str, Any]) -> tuple[OrderItem, ...]:
    nodes = (order.get("lineItems") or {}).get("nodes") or []
    return tuple(
        OrderItem(
            name=str(n.get("name") or ""),
            quantity=int(n.get("quantity") or 0),
            sku=n.get("sku"),
            price=_float(((n.get("originalUnitPriceSet") or {}).get("shopMoney") or {}).get("amount")),
        )
        for n in nodes
        if isinstance(n, dict)
    )


def to_order(order: Mapping[str, Any]) -> Order:
    shipments = tuple(
        s for f in order.get("fulfillments") or [] if isinstance(f, dict) for s in to_shipments(f)
    )
    fulfillment = order.get("displayFulfillmentStatus")
    financial = order.get("displayFinancialStatus")
    status = order_status(fulfillment, financial, order.get("cancelledAt"), shipments)
    summary = summarize(shipments) if status != "canceled" else None
    money = (order.get("totalPriceSet") or {}).get("shopMoney") or {}
    return Order(
        platform=PLATFORM,
        id=str(order.get("id") or ""),
        number=str(order.get("name") or ""),
        status=status,
        email=order.get("email"),
        customer_id=(order.get("customer") or {}).get("id"),
        created_at=order.get("createdAt"),
        ship_date=summary.ship_date if summary else None,
        estimated_delivery=summary.estimated_delivery if summary else None,
        actual_delivery=summary.actual_delivery if summary else None,
        items=_items(order),
        shipments=shipments,
        shipping_address=_address(order.get("shippingAddress")),
        total=_float(money.get("amount")),
        platform_status=",".join(s for s in (fulfillment, financial) if s) or None,
    )


# ---- lookups ----------------------------------------------------------------------------------


def _search_value(value: str) -> str:
    """Quoted for Shopify's search syntax, so an address with spaces or OR cannot change the query."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def order_gid(reference: str) -> str | None:
    """A GID, or a long number that can only be an order id; None for order names."""
    if GID.match(reference):
        return reference
    if reference.isdigit() and len(reference) >= NUMERIC_ID_MIN_DIGITS:
        return f"gid://shopify/Order/{reference}"
    return None


def _raw_order(api: ShopifyClient, reference: str) -> dict[str, Any] | None:
    """The order by GID / numeric id, else by its name ("#1043", "1043")."""
    gid = order_gid(reference)
    if gid:
        found = api.execute(ORDER_QUERY, {"id": gid}).get("order")
        return found if isinstance(found, dict) else None
    name = "#" + reference.lstrip("#").strip()
    if name == "#":
        return None
    data = api.execute(ORDERS_QUERY, {"query": f"name:{_search_value(name)}", "first": 5})
    for node in (data.get("orders") or {}).get(
        "nodes"
    ) or []:  # the search is loose; only the exact name is this order
        if isinstance(node, dict) and str(node.get("name") or "").casefold() == name.casefold():
            return node
    return None


def orders_for_email(email: str, env: Mapping[str, str] = os.environ) -> list[Order]:
    wanted = (email or "").strip().casefold()
    if not wanted or "@" not in wanted:
        return []
    data = client(env).execute(
        ORDERS_QUERY, {"query": f"email:{_search_value(wanted)}", "first": ORDERS_PER_CUSTOMER}
    )
    nodes = (data.get("orders") or {}).get("nodes") or []
    mine = [n for n in nodes if isinstance(n, dict) and (n.get("email") or "").strip().casefold() == wanted]
    return newest_first((to_order(n) for n in mine), lambda o: o.created_at)


def order_details(order_id: str, env: Mapping[str, str] = os.environ) -> Order | None:
    reference = (order_id or "").strip()
    if not reference:
        return None
    found = _raw_order(client(env), reference)
    return to_order(found) if found else None


def _cancel_result(order: Mapping[str, Any], job: Mapping[str, Any] | None = None) -> dict[str, Any]:
    cancelled_at = order.get("cancelledAt")
    return {
        "order_id": order.get("id"),
        "number": order.get("name"),
        "status": "canceled" if cancelled_at else "cancel_requested",
        "cancelled_at": cancelled_at,
        "reason": order.get("cancelReason"),
        "job_id": (job or {}).get("id"),
        "job_done": bool((job or {}).get("done")) if job else None,
    }


def cancellation_of(order_id: str, env: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
    """How the action ledger reconciles an ambiguous cancel: the cancel result if the order shows
    `cancelledAt`, else None (the earlier attempt never took effect)."""
    api = client(env)
    found = _raw_order(api, (order_id or "").strip())
    if not found:
        return None
    current = api.execute(CANCELLATION_QUERY, {"id": found["id"]}).get("order") or {}
    return _cancel_result(current) if current.get("cancelledAt") else None


def cancel_order(
    order_id: str, reason: str = "CUSTOMER", env: Mapping[str, str] = os.environ
) -> dict[str, Any]:
    wanted_reason = (reason or "CUSTOMER").strip().upper()
    if wanted_reason not in CANCEL_REASONS:
        raise ValueError(f"reason must be one of {', '.join(CANCEL_REASONS)}")
    reference = (order_id or "").strip()
    api = client(env)
    found = _raw_order(api, reference) if reference else None
    if not found:
        raise NotFound(PLATFORM, "no such order", status=404)
    if found.get("cancelledAt"):  # already done (perhaps by us): report it, write nothing
        return _cancel_result(found)
    data = api.execute(
        CANCEL_MUTATION,
        {"orderId": found["id"], "reason": wanted_reason, "staffNote": STAFF_NOTE},
        mutation=True,
    )
    payload = data.get("orderCancel") or {}
    problems = [e for e in payload.get("orderCancelUserErrors") or [] if isinstance(e, dict)]
    if problems:
        detail = "; ".join(f"{e.get('code') or 'ERROR'}: {e.get('message')}" for e in problems)
        raise Rejected(PLATFORM, "Shopify refused to cancel the order", detail=detail)
    current = api.execute(CANCELLATION_QUERY, {"id": found["id"]}).get("order") or found
    return _cancel_result(current, payload.get("job"))


# ---- tools ------------------------------------------------------------------------------------


@tool(platform=PLATFORM)
def get_shopify_orders(email: str) -> list[Order]:
    """The customer's Shopify orders (the 10 most recent), newest first.

    Each order has its number ("#1043"), status (approved, processing, pending_shipment, shipped,
    in_transit, delivered, canceled, exception), items, total, shipping address and parcels with
    carrier, tracking number and link, estimated and actual delivery. Empty when there are none.
    """
    return orders_for_email(email)


@tool(platform=PLATFORM)
def shopify_order_details(order_id: str) -> Order | None:
    """One Shopify order by its id (gid://shopify/Order/...) or its number ("#1043").

    Null when the shop has no such order.
    """
    return order_details(order_id)


@tool(
    platform=PLATFORM,
    writes=True,
    guards=("verified_customer", "owns_order", "confirmed", "cancellable_status"),
)
def cancel_shopify_order(order_id: str, reason: str = "CUSTOMER") -> dict[str, Any]:
    """Cancel an unfulfilled Shopify order: refund the payment, restock the items, email the customer.

    `reason` is one of CUSTOMER, DECLINED, FRAUD, INVENTORY, STAFF, OTHER. Returns the order id and
    number and `status`: "canceled" (done) or "cancel_requested" (Shopify is still processing it).
    Shopify refuses orders that have shipped; that is an error, and nothing is changed.
    """
    return cancel_order(order_id, reason)
