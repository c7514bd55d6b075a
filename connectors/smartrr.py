"""Smartrr subscriptions (Shopify): subscriptions, skip/unskip/pause, orders (docs/platforms/smartrr.md).

Why the calls look the way they do:
- Smartrr calls a subscription a "purchase state". Its actions live under the customer:
  `PUT /vendor/customer/{custRelId}/purchase-state/{purchaseStateId}/skip` (UUIDs), while the
  documented single lookup is by Shopify subscription-contract id, `GET /vendor/purchase-state/{shopifyId}`.
  So a Subscription's `id` is the contract id (what Shopify and the customer portal show): one GET
  turns it into the two UUIDs a write needs, and the same GET is how a skip is reconciled.
- Finding a customer by email is UNVERIFIED: we ask `GET /vendor/customer-relationship` with
  `filterEquals[email]` (the filter form independent client code uses for purchase states). If
  Smartrr rejects that filter (4xx), or ignores it (the page holds other customers), the pages are
  read on, at most SCAN_PAGES of MAX_PAGE_SIZE; then `GET /vendor/order/formatted?filterLike[emailOrName]=`
  (seen in real client code) and the order's `custRel`. Every answer is checked for the exact email
  (case-insensitive): a filter the server ignores must never hand us another customer.
- Skip and unskip are not idempotent (each moves the next delivery by a period), so they are sent
  with idempotent=False: a timeout or 5xx is OutcomeUnknown, never repeated; the ledger reconciles
  with `get_smartrr_subscription` (a skip shows in `skipped_dates`). Pause/activate repeat safely.
- No rate-limit headers are published: 429 gets the shared exponential back-off.
- Pages may come as a bare list or as {data: [...]} (UNVERIFIED: independent code reads both); both
  are read, and so are both names seen for the skipped dates (`skippedDates`, `skippedBillingDates`).

Status vocabulary: purchaseStateStatus ACTIVE -> active, PAUSED -> paused, CANCELLED/CANCELED ->
cancelled; any other value (the full enum is UNVERIFIED) -> paused (not delivering), with the raw
value kept in `platform_status`. Orders mirror the Shopify order, so their status uses
connectors.shopify.order_status on `fulfillmentStatus`, `financialStatus` and `cancelledAt`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from connectors.config import PlatformConfig, tls_verify
from connectors.errors import NotConfigured, NotFound, Rejected
from connectors.http import HttpClient
from connectors.models import Address, Customer, Order, OrderItem, Subscription
from connectors.parcels import parse_instant
from connectors.shopify import order_status
from connectors.tools import register_platform, tool

PLATFORM = "smartrr"
DEFAULT_BASE_URL = "https://api.smartrr.com"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 250
SCAN_PAGES = 20  # an ignored email filter: read at most 5,000 customers before the order search
STATUS = {"ACTIVE": "active", "PAUSED": "paused", "CANCELLED": "cancelled", "CANCELED": "cancelled"}
SKIPPED_FIELDS = ("skippedDates", "skippedBillingDates")  # UNVERIFIED name: both are read
UNITS = {"DAY": "day", "WEEK": "week", "MONTH": "month", "YEAR": "year"}
WRITE_GUARDS = ("verified_customer", "owns_subscription", "confirmed")
CONTRACT_GID = re.compile(r"^gid://shopify/SubscriptionContract/(\d+)$")
ORDER_GID = re.compile(r"^gid://shopify/Order/(\d+)$")
SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")  # an id goes into a URL path: nothing that could change the path
NUMERIC_ID_MIN_DIGITS = 10  # Shopify order ids are long; shorter numbers are order names ("2001")


def smartrr_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    token = env.get("SMARTRR_API_TOKEN")
    if not token:
        return None
    base = env.get("SMARTRR_BASE_URL") or DEFAULT_BASE_URL
    return PlatformConfig(PLATFORM, base, {"api_token": token}, tls_verify(env))


register_platform(PLATFORM, smartrr_config)


def _rows(body: Any) -> list[dict[str, Any]]:
    """A page as a bare list or wrapped in {data: [...]} (or items/results)."""
    if isinstance(body, dict):
        for key in ("data", "items", "results"):
            if isinstance(body.get(key), list):
                body = body[key]
                break
    return [row for row in body if isinstance(row, dict)] if isinstance(body, list) else []


def _same_email(a: Any, b: str) -> bool:
    return isinstance(a, str) and a.strip().casefold() == b


class SmartrrClient:
    """The vendor API calls a subscription conversation needs."""

    def __init__(self, config: PlatformConfig):
        self.http = HttpClient(
            PLATFORM,
            config.base_url,
            headers={"x-smartrr-access-token": config.secret("api_token")},
            verify=config.verify,
        )

    def _get(self, path: str, **params: Any) -> Any:
        """The body, or None for a 404."""
        try:
            return self.http.get_json(path, params=params or None)
        except NotFound:
            return None

    def customer_by_email(self, email: str) -> dict[str, Any] | None:
        found = self._customer_relationship(email)
        if found is not None:
            return found
        orders = _rows(self._get("/vendor/order/formatted", **{"filterLike[emailOrName]": email}))
        for order in orders:
            customer = order.get("custRel") or {}
            if _same_email(customer.get("email"), email):
                return customer
        return None

    def _customer_relationship(self, email: str) -> dict[str, Any] | None:
        """By the email filter; read on through the pages when Smartrr ignores or refuses it."""
        try:
            rows = _rows(
                self._get(
                    "/vendor/customer-relationship", **{"filterEquals[email]": email, "pageSize": PAGE_SIZE}
                )
            )
        except Rejected:  # the filter is not supported: scan unfiltered
            rows = None
        if rows is not None:
            match = next((row for row in rows if _same_email(row.get("email"), email)), None)
            if match is not None or not rows:
                return match  # the filter worked (or nobody has this email)
        for number in range(SCAN_PAGES):
            page = _rows(
                self._get("/vendor/customer-relationship", pageNumber=number, pageSize=MAX_PAGE_SIZE)
            )
            match = next((row for row in page if _same_email(row.get("email"), email)), None)
            if match is not None or len(page) < MAX_PAGE_SIZE:
                return match
        return None

    def purchase_states(self, cust_rel_id: str) -> list[dict[str, Any]]:
        return _rows(self._get(f"/vendor/customer/{cust_rel_id}/purchase-state/"))

    def purchase_state(self, shopify_id: str) -> dict[str, Any] | None:
        found = self._get(f"/vendor/purchase-state/{shopify_id}")
        return found if isinstance(found, dict) and found else None

    def act(self, state: Mapping[str, Any], action: str, *, idempotent: bool) -> dict[str, Any]:
        """PUT one lifecycle action; the answer is the updated purchase state."""
        cust_rel_id = (state.get("custRel") or {}).get("id") or state.get("custRelId")
        if not cust_rel_id or not state.get("id"):
            raise Rejected(PLATFORM, "subscription has no customer relationship to act through")
        path = f"/vendor/customer/{cust_rel_id}/purchase-state/{state['id']}/{action}"
        body = self.http.send_json("PUT", path, {}, idempotent=idempotent)
        return body if isinstance(body, dict) else {}

    def order(self, reference: str) -> dict[str, Any] | None:
        """By Shopify order id (documented path), else by order name through the order search."""
        gid = ORDER_GID.match(reference)
        number = gid.group(1) if gid else reference
        if number.isdigit():
            found = self._get(f"/vendor/orders/{number}")
            if isinstance(found, dict) and found:
                return found
            if gid or len(number) >= NUMERIC_ID_MIN_DIGITS:
                return None
        name = "#" + reference.lstrip("#").strip()
        rows = _rows(self._get("/vendor/order/formatted", **{"filterLike[emailOrName]": name}))
        return next((r for r in rows if str(r.get("orderName") or "").casefold() == name.casefold()), None)


def client(env: Mapping[str, str] = os.environ) -> SmartrrClient:
    config = smartrr_config(env)
    if config is None:
        raise NotConfigured(PLATFORM, "SMARTRR_API_TOKEN is not set")
    return SmartrrClient(config)


# ---- normalizing ------------------------------------------------------------------------------


def _iso_date(value: Any) -> str | None:
    when = parse_instant(value) if isinstance(value, str) else None
    return when.date().isoformat() if when else None


def _frequency(state: Mapping[str, Any]) -> str | None:
    policy = state.get("deliveryPolicy") or state.get("billingPolicy") or {}
    unit = UNITS.get(str(policy.get("interval") or "").upper())
    if not unit:
        return None
    try:
        count = int(policy.get("intervalCount") or 1)
    except (TypeError, ValueError):
        count = 1
    return f"every {unit}" if count == 1 else f"every {count} {unit}s"


def _item_name(item: Mapping[str, Any]) -> str:
    variant = item.get("vnt") or {}
    purchasable = variant.get("purchasable") or {}
    product = variant.get("product") or {}
    return str(
        item.get("productName")
        or purchasable.get("purchasableName")
        or product.get("title")
        or variant.get("variantTitle")
        or ""
    )


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _name(person: Mapping[str, Any]) -> str | None:
    return " ".join(p for p in (person.get("firstName"), person.get("lastName")) if p) or None


def to_customer(raw: Mapping[str, Any]) -> Customer:
    return Customer(
        platform=PLATFORM,
        id=str(raw.get("id") or ""),
        email=raw.get("email"),
        name=_name(raw),
        extra={"shopify_id": raw.get("shopifyId")} if raw.get("shopifyId") else {},
    )


def to_subscription(state: Mapping[str, Any]) -> Subscription:
    raw_status = str(state.get("purchaseStateStatus") or "").upper()
    status = STATUS.get(raw_status, "paused")
    customer = state.get("custRel") or {}
    items = tuple(
        OrderItem(
            name=_item_name(item),
            quantity=int(item.get("quantity") or 1),
            sku=item.get("sku") or (item.get("vnt") or {}).get("sku"),
            product_id=(item.get("vnt") or {}).get("shopifyId"),
            price=_float(item.get("basePrice")),
        )
        for item in state.get("stLineItems") or []
        if isinstance(item, dict)
    )
    skipped: list[Any] = next((state[f] for f in SKIPPED_FIELDS if isinstance(state.get(f), list)), [])
    return Subscription(
        platform=PLATFORM,
        id=str(state.get("shopifyId") or state.get("id") or ""),
        status=status,
        customer_id=customer.get("id") or state.get("custRelId"),
        customer_email=customer.get("email"),
        next_delivery=_iso_date(state.get("nextBillingDate")) if status != "cancelled" else None,
        frequency=_frequency(state),
        items=items,
        products=tuple(i.name for i in items if i.name),
        skipped_dates=tuple(d for d in (_iso_date(s) for s in skipped) if d),
        platform_status=raw_status or None,
        extra={"purchase_state_id": state.get("id"), "customer_relationship_id": customer.get("id")},
    )


def to_order(raw: Mapping[str, Any]) -> Order:
    customer = raw.get("custRel") or {}
    address = raw.get("shippingAddress") or {}
    items = tuple(
        OrderItem(
            name=" ".join(p for p in (i.get("productName"), i.get("variantName")) if p)
            or str(i.get("name") or ""),
            quantity=int(i.get("quantity") or 1),
            sku=i.get("sku"),
            price=_float(i.get("price")),
        )
        for i in raw.get("items") or []
        if isinstance(i, dict)
    )
    fulfillment, financial = raw.get("fulfillmentStatus"), raw.get("financialStatus")
    return Order(
        platform=PLATFORM,
        id=str(raw.get("shopifyId") or raw.get("id") or ""),
        number=str(raw.get("orderName") or raw.get("shopifyId") or ""),
        status=order_status(fulfillment, financial, raw.get("cancelledAt")),
        email=customer.get("email"),
        customer_id=customer.get("id"),
        created_at=raw.get("orderProcessedDate") or raw.get("createdDate"),
        items=items,
        shipping_address=Address(
            name=_name(address),
            street_1=address.get("address1"),
            street_2=address.get("address2"),
            city=address.get("city"),
            state=address.get("provinceCode") or address.get("province"),
            zip=address.get("zip"),
            country=address.get("countryCode") or address.get("country"),
        )
        if address
        else None,
        total=_float(raw.get("totalPrice")),
        platform_status=",".join(str(s) for s in (fulfillment, financial) if s) or None,
    )


# ---- operations -------------------------------------------------------------------------------


def _contract_id(subscription_id: str) -> str:
    reference = (subscription_id or "").strip()
    gid = CONTRACT_GID.match(reference)
    return gid.group(1) if gid else reference


def _state_or_raise(api: SmartrrClient, subscription_id: str) -> dict[str, Any]:
    contract = _contract_id(subscription_id)
    state = api.purchase_state(contract) if SAFE_ID.fullmatch(contract) else None
    if state is None:
        raise NotFound(PLATFORM, "no such subscription", status=404)
    return state


def _write(subscription_id: str, action: str, *, idempotent: bool) -> Subscription:
    api = client()
    state = _state_or_raise(api, subscription_id)
    updated = api.act(state, action, idempotent=idempotent)
    if not updated.get("purchaseStateStatus"):  # an empty or partial answer: read the outcome back
        updated = api.purchase_state(str(state.get("shopifyId"))) or state
    if not updated.get("custRel"):
        updated = {**updated, "custRel": state.get("custRel")}
    return to_subscription(updated)


def account_details(email: str, env: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
    wanted = (email or "").strip().casefold()
    if not wanted or "@" not in wanted:
        return None
    api = client(env)
    raw = api.customer_by_email(wanted)
    if raw is None or not raw.get("id"):
        return None
    states = api.purchase_states(str(raw["id"]))
    subscriptions = [to_subscription({**s, "custRel": s.get("custRel") or raw}) for s in states]
    order = {"active": 0, "paused": 1, "cancelled": 2}
    subscriptions.sort(key=lambda s: (order.get(s.status, 3), s.next_delivery or "9999"))
    return {"customer": to_customer(raw), "subscriptions": subscriptions}


# ---- tools ------------------------------------------------------------------------------------


@tool(platform=PLATFORM)
def get_smartrr_account_details(email: str) -> dict[str, Any] | None:
    """The Smartrr customer with this email and their subscriptions (active first).

    Returns {customer, subscriptions}; each subscription has its id, status (active, paused,
    cancelled), next delivery date, frequency, products and skipped dates. Null when Smartrr has
    no customer with this email.
    """
    return account_details(email)


@tool(platform=PLATFORM)
def get_smartrr_subscription(subscription_id: str) -> Subscription | None:
    """One Smartrr subscription by id: status, next delivery, frequency, products, skipped dates.

    Null when there is no such subscription.
    """
    try:
        return to_subscription(_state_or_raise(client(), subscription_id))
    except NotFound:
        return None


@tool(platform=PLATFORM)
def smartrr_order_details(order_id: str) -> Order | None:
    """One subscription order by Shopify order id or order number ("#2001"). Null when unknown."""
    reference = (order_id or "").strip()
    if not reference:
        return None
    found = client().order(reference)
    return to_order(found) if found else None


@tool(platform=PLATFORM, writes=True, guards=WRITE_GUARDS)
def skip_smartrr_next_delivery(subscription_id: str) -> Subscription:
    """Skip the next delivery of an active subscription; it moves one period later.

    Returns the updated subscription: the new next delivery date, and the skipped date in
    skipped_dates. Smartrr refuses paused or cancelled subscriptions (an error; nothing changes).
    """
    return _write(subscription_id, "skip", idempotent=False)


@tool(platform=PLATFORM, writes=True, guards=WRITE_GUARDS)
def unskip_smartrr_next_delivery(subscription_id: str) -> Subscription:
    """Undo the last skip of an active subscription: the skipped date becomes the next delivery again.

    Returns the updated subscription. Smartrr refuses when there is no upcoming skipped delivery.
    """
    return _write(subscription_id, "unskip", idempotent=False)


@tool(platform=PLATFORM, writes=True, guards=WRITE_GUARDS)
def pause_smartrr_subscription(subscription_id: str) -> Subscription:
    """Pause a subscription: no deliveries until it is resumed. Returns the updated subscription.

    Pausing a paused subscription changes nothing; a cancelled one is refused (an error).
    """
    return _write(subscription_id, "pause", idempotent=True)
