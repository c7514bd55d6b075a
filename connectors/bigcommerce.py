"""BigCommerce: the store platform for replacements, cancellations, goodwill (docs/platforms/bigcommerce.md).

Base https://api.bigcommerce.com/stores/{BIGCOMMERCE_STORE_HASH} (or BIGCOMMERCE_BASE_URL, which the
sandbox sets), `X-Auth-Token: BIGCOMMERCE_ACCESS_TOKEN`. Orders, their products, shipping addresses
and shipments are v2 (bare JSON, 204 with no body for an empty list); customers are v3 ({data, meta}).
A 429 carries X-Rate-Limit-Time-Reset-Ms, honoured by connectors.http.

Status vocabulary (connectors.models.ORDER_STATUSES); `platform_status` keeps BigCommerce's name:
    1 Pending, 7 Awaiting Payment -> approved
    11 Awaiting Fulfillment, 12 Manual Verification Required -> processing
    8 Awaiting Pickup, 9 Awaiting Shipment -> pending_shipment
    2 Shipped, 3 Partially Shipped -> shipped        10 Completed -> delivered
    5 Cancelled, 6 Declined -> canceled
    0 Incomplete, 4 Refunded, 13 Disputed, 14 Partially Refunded -> exception
0 Incomplete is an abandoned or failed checkout, not an order in progress: "exception" sends it to a
human instead of letting a policy promise a delivery. BigCommerce has no carrier events, so a
shipped order never becomes in_transit here; Completed is the store's "delivered".

Choices the tools make, and why:
- Every list is filtered again here (exact, case-insensitive email; exact reference) because an API
  that ignores a filter returns everything; paging is bounded.
- Shipping address ids belong to their order in v2 (`PUT /v2/orders/{order}/shipping_addresses/{id}`),
  so an address id in this module is the pair "order_id:address_id", as bigcommerce_order_details
  returns it in `shipping_address.id`.
- A replacement is `POST /v2/orders` with the original's catalogue products (product_id, variant_id,
  quantity at most the original's), status 11 Awaiting Fulfillment, staff_notes "Replacement for
  order <original> (<reference>)" and `external_order_id` = reference. Not `external_id`: the Orders
  v2 reference marks it read-only, while `external_order_id` is writable and a documented GET
  /v2/orders filter, so a crashed worker finds its order again by reference before creating another
  (create is idempotent per reference; the POST itself is never retried after an ambiguous failure).
  Orders created through the API take no payment and send no order email (Orders v2 reference).
- "Paid": `payment_status` is read-only in the Orders v2 reference, so set_order_to_paid records the
  payment as `payment_method: "Manual"` and moves an order still waiting for payment (0, 1, 7) to
  11 Awaiting Fulfillment. Whether the control panel then shows the order as paid is UNVERIFIED.
- A discount is `discount_amount` on the order (PUT /v2/orders/{id}): percent of `subtotal_ex_tax`,
  replacing any earlier manual discount so a retry cannot double it. It changes the order's totals,
  not the customer's card: money already captured is only returned by a refund. Whether BigCommerce
  recomputes `total_inc_tax` after this PUT is UNVERIFIED.
- A shipping upgrade sets each shipping address's `shipping_method` to EXPRESS_METHOD and the order's
  shipping cost (base, ex and inc tax) to zero; only for orders that have not shipped.
- A coupon is a v2 `percentage_discount` coupon whose code is derived from the reference (so a retry
  finds it instead of minting a second), single use, valid COUPON_VALID_DAYS days, on all categories.
  v2 coupons cannot be tied to one customer (only `restricted_to.countries`), so single use stands in.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from connectors import eligibility
from connectors.config import PlatformConfig, tls_verify
from connectors.errors import NotConfigured, NotFound, OutcomeUnknown, Rejected
from connectors.http import HttpClient
from connectors.models import Address, Customer, Order, OrderItem, Shipment
from connectors.tools import register_platform, tool

PLATFORM = "bigcommerce"
API_ROOT = "https://api.bigcommerce.com/stores/{store_hash}"
PAGE_LIMIT = 50
MAX_PAGES = 4
LISTED_ORDERS = 10  # get_bigcommerce_orders: the most recent ones, each with its items
EXPRESS_METHOD = "Express Shipping"
MANUAL_PAYMENT = "Manual"
COUPON_VALID_DAYS = 90
MAX_REFERENCE = 100

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
STATUS = {
    0: "exception",
    1: "approved",
    2: "shipped",
    3: "shipped",
    4: "exception",
    5: "canceled",
    6: "canceled",
    7: "approved",
    8: "pending_shipment",
    9: "pending_shipment",
    10: "delivered",
    11: "processing",
    12: "processing",
    13: "exception",
    14: "exception",
}
SHIPPED = frozenset({2, 3, 10})
MONEY_RETURNED = frozenset({4, 13, 14})
CANCELLED = 5
NOT_YET_SHIPPED = frozenset({0, 1, 7, 8, 9, 11, 12})
AWAITING_PAYMENT = frozenset({0, 1, 7})
REPLACEMENT_STATUS = 11

REPLACEMENT_NOTE = "Replacement for order {original} ({reference})"
REPLACEMENT_NOTE_PATTERN = re.compile(r"^Replacement for order #?(\d+) \(")
EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
REFERENCE = re.compile(r"^[\w .:#/@+-]+$")

ADDRESS_KEYS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "company": "company",
    "street_1": "street_1",
    "street1": "street_1",
    "address1": "street_1",
    "street_2": "street_2",
    "street2": "street_2",
    "address2": "street_2",
    "city": "city",
    "state": "state",
    "state_or_province": "state",
    "province": "state",
    "zip": "zip",
    "postal_code": "zip",
    "postcode": "zip",
    "country": "country",
    "country_iso2": "country_iso2",
    "phone": "phone",
}
COUNTRY_NAMES = {
    "US": "United States",
    "CA": "Canada",
    "GB": "United Kingdom",
    "AU": "Australia",
    "NZ": "New Zealand",
    "IE": "Ireland",
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
    "ES": "Spain",
    "IT": "Italy",
}
MAX_FIELD = 255


# ---- configuration and client -------------------------------------------------------------------


def bigcommerce_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    token = env.get("BIGCOMMERCE_ACCESS_TOKEN")
    store = env.get("BIGCOMMERCE_STORE_HASH")
    base = env.get("BIGCOMMERCE_BASE_URL") or (API_ROOT.format(store_hash=store) if store else None)
    if not token or not base:
        return None
    return PlatformConfig(PLATFORM, base, {"access_token": token}, tls_verify(env))


register_platform(PLATFORM, bigcommerce_config)


class BigCommerceClient:
    """The REST calls the tools need, returning BigCommerce's own JSON (normalizing is separate)."""

    def __init__(self, config: PlatformConfig):
        self.http = HttpClient(
            PLATFORM,
            config.base_url,
            headers={"X-Auth-Token": config.secret("access_token"), "Content-Type": "application/json"},
            verify=config.verify,
        )

    def _v2_list(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        body = self.http.get_json(path, params=params)  # None on 204 No Content: an empty list
        return [row for row in body if isinstance(row, dict)] if isinstance(body, list) else []

    def _v2_pages(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            rows = self._v2_list(path, {**params, "page": str(page), "limit": str(PAGE_LIMIT)})
            found.extend(rows)
            if len(rows) < PAGE_LIMIT:
                break
        return found

    def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        body = self.http.get_json("/v3/customers", params={"email:in": email})
        rows = body.get("data") if isinstance(body, dict) else None
        wanted = email.casefold()
        return [
            c for c in rows or [] if isinstance(c, dict) and str(c.get("email") or "").casefold() == wanted
        ]

    def orders_by_email(self, email: str, **filters: str) -> list[dict[str, Any]]:
        """The customer's orders, newest first, whatever order the API answered in."""
        rows = self._v2_pages("/v2/orders", {"email": email, "sort": "date_created:desc", **filters})
        wanted = email.casefold()
        mine = [o for o in rows if billing_email(o) == wanted and o.get("id") is not None]
        return sorted(mine, key=lambda o: (created_sort_key(o), _int(o.get("id")) or 0), reverse=True)

    def order(self, order_id: int) -> dict[str, Any] | None:
        try:
            body = self.http.get_json(f"/v2/orders/{order_id}")
        except NotFound:
            return None
        return body if isinstance(body, dict) and body.get("id") is not None else None

    def products(self, order_id: int) -> list[dict[str, Any]]:
        return self._v2_pages(f"/v2/orders/{order_id}/products", {})

    def shipping_addresses(self, order_id: int) -> list[dict[str, Any]]:
        return self._v2_list(f"/v2/orders/{order_id}/shipping_addresses")

    def shipments(self, order_id: int) -> list[dict[str, Any]]:
        return self._v2_list(f"/v2/orders/{order_id}/shipments")

    def create_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.http.send_json("POST", "/v2/orders", dict(body))  # not idempotent: never retried

    def update_order(self, order_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.http.send_json("PUT", f"/v2/orders/{order_id}", dict(body))

    def update_shipping_address(
        self, order_id: int, address_id: int, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self.http.send_json(
            "PUT", f"/v2/orders/{order_id}/shipping_addresses/{address_id}", dict(body)
        )

    def coupons_by_code(self, code: str) -> list[dict[str, Any]]:
        return [c for c in self._v2_list("/v2/coupons", {"code": code}) if c.get("code") == code]

    def create_coupon(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.http.send_json("POST", "/v2/coupons", dict(body))


def client(env: Mapping[str, str] = os.environ) -> BigCommerceClient:
    config = bigcommerce_config(env)
    if config is None:
        raise NotConfigured(PLATFORM, "BIGCOMMERCE_ACCESS_TOKEN and BIGCOMMERCE_STORE_HASH are not set")
    return BigCommerceClient(config)


# ---- reading BigCommerce's values ---------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def amount(value: Any) -> float | None:
    """Money arrives as "12.9900" strings (or numbers)."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def timestamp(value: Any) -> datetime | None:
    """v2 dates are RFC 2822 ("Tue, 20 Nov 2012 00:00:00 +0000"); an empty string means none."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def created_sort_key(order: Mapping[str, Any]) -> str:
    moment = timestamp(order.get("date_created"))
    return moment.isoformat() if moment else ""


def billing_email(order: Mapping[str, Any]) -> str:
    billing = order.get("billing_address")
    return str(billing.get("email") or "").strip().casefold() if isinstance(billing, dict) else ""


def replaced_order_id(order: Mapping[str, Any]) -> str | None:
    """The original order a replacement was made for, read from its staff notes."""
    match = REPLACEMENT_NOTE_PATTERN.match(str(order.get("staff_notes") or ""))
    return match.group(1) if match else None


def order_id_of(value: Any) -> int | None:
    """ "5001", "#5001", " 5001 " or 5001 -> 5001; anything else is not a BigCommerce order id."""
    if isinstance(value, bool):
        return None
    text = str(value).strip().lstrip("#").strip() if isinstance(value, str | int) else ""
    if not text.isdigit() or len(text) > 12 or int(text) == 0:
        return None
    return int(text)


def clean_email(value: Any) -> str | None:
    """An email fit for a query (no commas: `email:in` is a comma list), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if len(text) <= 254 and EMAIL.match(text) else None


# ---- normalizing --------------------------------------------------------------------------------


def to_address(raw: Mapping[str, Any], order_id: Any) -> Address:
    name = " ".join(str(raw.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return Address(
        name=name or None,
        street_1=raw.get("street_1") or None,
        street_2=raw.get("street_2") or None,
        city=raw.get("city") or None,
        state=raw.get("state") or None,
        zip=raw.get("zip") or None,
        country=raw.get("country_iso2") or raw.get("country") or None,
        id=f"{order_id}:{raw['id']}" if raw.get("id") is not None else None,
    )


def to_items(products: Iterable[Mapping[str, Any]]) -> tuple[OrderItem, ...]:
    return tuple(
        OrderItem(
            name=str(p.get("name") or p.get("sku") or ""),
            quantity=_int(p.get("quantity")) or 1,
            sku=p.get("sku") or None,
            product_id=str(p["product_id"]) if _int(p.get("product_id")) else None,
            price=amount(p.get("price_inc_tax")),
        )
        for p in products
    )


def to_shipments(shipments: Iterable[Mapping[str, Any]], status_id: int | None) -> tuple[Shipment, ...]:
    result = []
    for s in sorted(shipments, key=lambda s: _int(s.get("id")) or 0):
        created = timestamp(s.get("date_created"))
        result.append(
            Shipment(
                tracking_number=str(s.get("tracking_number") or ""),
                carrier=s.get("shipping_provider") or s.get("tracking_carrier") or None,
                status="delivered" if status_id == 10 else "shipped",
                tracking_url=s.get("tracking_link") or s.get("generated_tracking_link") or None,
                ship_date=created.date().isoformat() if created else None,
            )
        )
    return tuple(result)


def to_order(
    raw: Mapping[str, Any],
    *,
    products: Iterable[Mapping[str, Any]] = (),
    addresses: Iterable[Mapping[str, Any]] = (),
    shipments: Iterable[Mapping[str, Any]] = (),
) -> Order:
    status_id = _int(raw.get("status_id"))
    created = timestamp(raw.get("date_created"))
    shipped = timestamp(raw.get("date_shipped"))
    parcels = to_shipments(shipments, status_id)
    first_address = next(iter(addresses), None)
    customer_id = _int(raw.get("customer_id"))
    return Order(
        platform=PLATFORM,
        id=str(raw["id"]),
        number=str(raw["id"]),
        status=STATUS.get(status_id, "exception") if status_id is not None else "exception",
        email=billing_email(raw) or None,
        customer_id=str(customer_id) if customer_id else None,
        created_at=created.isoformat() if created else None,
        ship_date=shipped.date().isoformat() if shipped else (parcels[0].ship_date if parcels else None),
        items=to_items(products),
        shipments=parcels,
        shipping_address=to_address(first_address, raw["id"]) if first_address else None,
        total=amount(raw.get("total_inc_tax")),
        platform_status=raw.get("status") or STATUS_NAMES.get(status_id or -1),
    )


def to_customer(raw: Mapping[str, Any]) -> Customer:
    first, last = raw.get("first_name") or "", raw.get("last_name") or ""
    return Customer(
        platform=PLATFORM,
        id=str(raw.get("id")),
        email=raw.get("email"),
        name=f"{first} {last}".strip() or None,
        extra={
            "first_name": first or None,
            "last_name": last or None,
            "phone": raw.get("phone") or None,
            "company": raw.get("company") or None,
            "customer_group_id": raw.get("customer_group_id"),
            "date_created": raw.get("date_created"),
        },
    )


def full_order(api: BigCommerceClient, raw: Mapping[str, Any]) -> Order:
    order_id = int(raw["id"])
    return to_order(
        raw,
        products=api.products(order_id),
        addresses=api.shipping_addresses(order_id),
        shipments=api.shipments(order_id),
    )


# ---- input checks for the write tools -----------------------------------------------------------


def _required_order_id(value: Any, name: str = "order_id") -> int:
    order_id = order_id_of(value)
    if order_id is None:
        raise ValueError(f"{name} must be a BigCommerce order number")
    return order_id


def _required_email(value: Any) -> str:
    email = clean_email(value)
    if email is None:
        raise ValueError("user_email must be an email address")
    return email


def _required_reference(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_REFERENCE or not REFERENCE.match(text):
        raise ValueError(f"reference must be 1-{MAX_REFERENCE} letters, digits or . : # / @ + - _ characters")
    return text


def _required_percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise ValueError("percent must be a number above 0 and at most 100")
    return float(value)


def _existing_order(api: BigCommerceClient, order_id: int) -> dict[str, Any]:
    raw = api.order(order_id)
    if raw is None:
        raise NotFound(PLATFORM, f"order {order_id} not found", status=404)
    return raw


def address_fields(new_address: Any) -> dict[str, str]:
    """Our Address fields (name, street_1, ..., country) or BigCommerce's, as a v2 address body."""
    if not isinstance(new_address, Mapping) or not new_address:
        raise ValueError("the address must be an object with at least one field")
    fields: dict[str, str] = {}
    for key, value in new_address.items():
        if key == "id" or value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or len(value) > MAX_FIELD:
            raise ValueError(f"address field {key!r} must be text of at most {MAX_FIELD} characters")
        value = value.strip()
        if key == "name":
            first, _, last = value.partition(" ")
            fields["first_name"], fields["last_name"] = first, last.strip()
        elif key in ADDRESS_KEYS:
            fields[ADDRESS_KEYS[key]] = value
        else:
            raise ValueError(
                f"unknown address field {key!r}; use name, street_1, street_2, city, state, zip, country"
            )
    if "street_1" in fields:  # a new street line replaces the whole street, so an old "Apt 2" goes
        fields.setdefault("street_2", "")
    country = fields.get("country", "")
    if len(country) == 2 and country.isalpha():
        fields["country_iso2"] = country.upper()
        fields["country"] = COUNTRY_NAMES.get(country.upper(), country.upper())
    if not any(fields.values()):
        raise ValueError("the address has no fields to change")
    return fields


def replacement_products(items: Any, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requested items as catalogue lines of the original order, never more than it had."""
    if not isinstance(items, list) or not items:
        raise ValueError("items must be a non-empty list of {product_id or sku, quantity}")
    by_product: dict[int, dict[str, Any]] = {}
    by_sku: dict[str, int] = {}
    ordered: dict[int, int] = {}
    for line in lines:
        product_id = _int(line.get("product_id"))
        if not product_id:
            continue  # custom products are not in the catalogue and cannot be re-ordered from it
        by_product.setdefault(product_id, line)
        ordered[product_id] = ordered.get(product_id, 0) + (_int(line.get("quantity")) or 0)
        if line.get("sku"):
            by_sku[str(line["sku"]).casefold()] = product_id
    wanted: dict[int, int] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise ValueError("each item must be an object with product_id (or sku) and quantity")
        product_id = _int(item.get("product_id")) or by_sku.get(str(item.get("sku") or "").casefold())
        if not product_id or product_id not in by_product:
            label = item.get("name") or item.get("sku") or item.get("product_id")
            raise ValueError(f"item {label!r} is not in the original order")
        quantity = item.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValueError("each item's quantity must be a whole number of at least 1")
        wanted[product_id] = wanted.get(product_id, 0) + quantity
    products = []
    for product_id, quantity in wanted.items():
        if quantity > ordered[product_id]:
            raise ValueError(
                f"product {product_id}: {quantity} requested but the order had {ordered[product_id]}"
            )
        row: dict[str, Any] = {"product_id": product_id, "quantity": quantity}
        variant = _int(by_product[product_id].get("variant_id"))
        if variant:
            row["variant_id"] = variant
        products.append(row)
    return products


def _address_body(raw: Mapping[str, Any]) -> dict[str, str]:
    keys = (
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
    return {k: str(raw.get(k) or "") for k in keys}


# ---- eligibility --------------------------------------------------------------------------------


def _facts(api: BigCommerceClient, raw: Mapping[str, Any]) -> eligibility.OrderFacts:
    """Money returned, and replacements found among the same customer's orders (not cancelled ones)."""
    status_id = _int(raw.get("status_id"))
    email = billing_email(raw)
    siblings = api.orders_by_email(email) if clean_email(email) else []
    replacements = [
        str(o["id"])
        for o in siblings
        if replaced_order_id(o) == str(raw["id"]) and _int(o.get("status_id")) not in (CANCELLED, 6)
    ]
    return eligibility.OrderFacts(
        money_returned=status_id in MONEY_RETURNED or (amount(raw.get("refunded_amount")) or 0) > 0,
        never_shipped=status_id in NOT_YET_SHIPPED,  # 0 Incomplete is "exception" but never left
        is_replacement=replaced_order_id(raw) is not None,
        replacement_ids=tuple(replacements),
    )


def _assess(api: BigCommerceClient, raw: Mapping[str, Any]) -> dict[str, Any]:
    return eligibility.assess(
        to_order(raw),
        _facts(api, raw),
        today=datetime.now(UTC).date(),
        thresholds=eligibility.Thresholds.from_env(),
    )


def _by_reference(api: BigCommerceClient, reference: str, email: str) -> dict[str, Any] | None:
    rows = api.orders_by_email(email, external_order_id=reference)
    note_tail = f"({reference})"
    for row in rows:
        notes = str(row.get("staff_notes") or "")
        if row.get("external_order_id") == reference or (
            replaced_order_id(row) and notes.endswith(note_tail)
        ):
            return row
    return None


# ---- tools: reads -------------------------------------------------------------------------------


@tool(platform=PLATFORM)
def get_bigcommerce_account_details(email: str) -> Customer | None:
    """The BigCommerce customer account with this email (name, phone, company), or null."""
    wanted = clean_email(email)
    if wanted is None:
        return None
    found = client().customers_by_email(wanted)
    return to_customer(found[0]) if found else None


@tool(platform=PLATFORM)
def get_bigcommerce_orders(email: str) -> list[Order]:
    """The customer's most recent BigCommerce orders (up to 10), newest first, with their items.

    Each has a status (approved, processing, pending_shipment, shipped, delivered, canceled,
    exception), the store's own status name, date and total. Shipping address and tracking are in
    bigcommerce_order_details. An empty list when there are none.
    """
    wanted = clean_email(email)
    if wanted is None:
        return []
    api = client()
    recent = api.orders_by_email(wanted)[:LISTED_ORDERS]
    return [to_order(raw, products=api.products(int(raw["id"]))) for raw in recent]


@tool(platform=PLATFORM)
def bigcommerce_order_details(order_id: str) -> Order | None:
    """One BigCommerce order by number: items, shipping address (its id is "order_id:address_id",
    the id update_bigcommerce_address takes), shipments with tracking numbers; null when not found."""
    wanted = order_id_of(order_id)
    if wanted is None:
        return None
    api = client()
    raw = api.order(wanted)
    return full_order(api, raw) if raw else None


@tool(platform=PLATFORM)
def check_reshipment_eligibility(order_id: str) -> dict[str, Any]:
    """Whether a BigCommerce order may be reshipped for free, with the reason and the rule applied.

    Eligible only if it shipped (or the carrier had an exception), was not cancelled, refunded or
    disputed, is recent and inexpensive enough and has no replacement yet (connectors.eligibility).
    """
    thresholds = eligibility.Thresholds.from_env()
    wanted = order_id_of(order_id)
    if wanted is None:
        return eligibility.not_found(str(order_id), thresholds)
    api = client()
    raw = api.order(wanted)
    if raw is None:
        return eligibility.not_found(str(wanted), thresholds)
    return _assess(api, raw)


@tool(platform=PLATFORM)
def find_bigcommerce_order_by_reference(reference: str, user_email: str) -> Order | None:
    """The order this system created with this reference for this customer, or null (reconciliation)."""
    email = clean_email(user_email)
    text = reference.strip() if isinstance(reference, str) else ""
    if email is None or not text:
        return None
    api = client()
    raw = _by_reference(api, text, email)
    return full_order(api, raw) if raw else None


# ---- tools: writes ------------------------------------------------------------------------------


@tool(platform=PLATFORM, writes=True, guards=("verified_customer", "owns_order", "confirmed"))
def update_bigcommerce_address(address_id: str, new_address: dict) -> dict[str, Any]:
    """Change an unshipped order's shipping address. address_id is "order_id:address_id" as
    bigcommerce_order_details returns it; new_address has name, street_1, street_2, city, state,
    zip, country (any subset). Refused (updated false) once the order has shipped."""
    order_part, _, address_part = str(address_id).partition(":")
    order_id, shipping_id = order_id_of(order_part), order_id_of(address_part)
    if order_id is None or shipping_id is None:
        raise ValueError('address_id must be "order_id:address_id" as bigcommerce_order_details returns it')
    fields = address_fields(new_address)
    api = client()
    raw = _existing_order(api, order_id)
    if _int(raw.get("status_id")) not in NOT_YET_SHIPPED:
        return {
            "updated": False,
            "reason": f"the order is {raw.get('status') or 'closed'}; its address can no longer change",
        }
    updated = api.update_shipping_address(order_id, shipping_id, fields)
    return {"updated": True, "address": to_address(updated if isinstance(updated, dict) else {}, order_id)}


@tool(
    platform=PLATFORM,
    writes=True,
    guards=(
        "verified_customer",
        "owns_order",
        "confirmed",
        "eligible_for_reshipment",
        "one_replacement_per_order",
    ),
)
def create_bigcommerce_order(
    items: list[dict], address: dict, user_email: str, reference: str, original_order_id: str
) -> Order:
    """Create a free replacement order for items of an eligible original order.

    items: [{product_id or sku, quantity}] from the original order (never more than it had);
    address: the shipping address fields, or {} for the original's; reference: the ticket/step
    reference, so calling again with the same reference returns the same order instead of a second.
    """
    reference = _required_reference(reference)
    email = _required_email(user_email)
    original_id = _required_order_id(original_order_id, "original_order_id")
    api = client()
    existing = _by_reference(api, reference, email)
    if existing is not None:
        return full_order(api, existing)
    original = _existing_order(api, original_id)
    if billing_email(original) != email.casefold():
        raise ValueError(f"order {original_id} does not belong to this customer")
    products = replacement_products(items, api.products(original_id))
    addresses = api.shipping_addresses(original_id)
    ship_to = _address_body(addresses[0] if addresses else original.get("billing_address") or {})
    if address:
        ship_to.update(address_fields(address))
    ship_to["email"] = email
    verdict = _assess(api, original)
    if not verdict["eligible"]:
        raise ValueError(f"order {original_id} is not eligible for reshipment: {verdict['reason']}")
    billing = {**_address_body(original.get("billing_address") or {}), "email": email}
    created = api.create_order(
        {
            "customer_id": _int(original.get("customer_id")) or 0,
            "status_id": REPLACEMENT_STATUS,
            "billing_address": billing,
            "shipping_addresses": [ship_to],
            "products": products,
            "staff_notes": REPLACEMENT_NOTE.format(original=original_id, reference=reference),
            "external_order_id": reference,
            "external_source": "policydesk",
        }
    )
    if isinstance(created, dict) and _int(created.get("id")):
        return full_order(api, created)
    found = _by_reference(api, reference, email)  # a 2xx without the order: look it up by reference
    if found is None:
        raise OutcomeUnknown(PLATFORM, "order creation answered without an order; look it up by reference")
    return full_order(api, found)


@tool(platform=PLATFORM, writes=True, guards=("verified_customer", "confirmed", "replacement_only"))
def set_order_to_paid(order_id: str) -> dict[str, Any]:
    """Record a replacement order as paid (payment method "Manual") so it is fulfilled without a charge.

    Only replacement orders. An order still waiting for payment moves to Awaiting Fulfillment.
    """
    wanted = _required_order_id(order_id)
    api = client()
    raw = _existing_order(api, wanted)
    if replaced_order_id(raw) is None:
        raise ValueError(f"order {wanted} is not a replacement order")
    status_id = _int(raw.get("status_id"))
    if status_id in (CANCELLED, 6):
        return {"order_id": str(wanted), "paid": False, "reason": "the order is cancelled"}
    body: dict[str, Any] = {}
    if raw.get("payment_method") != MANUAL_PAYMENT:
        body["payment_method"] = MANUAL_PAYMENT
    if status_id in AWAITING_PAYMENT:
        body["status_id"] = REPLACEMENT_STATUS
    if body:
        raw = api.update_order(wanted, body)
    return {
        "order_id": str(wanted),
        "paid": True,
        "payment_method": MANUAL_PAYMENT,
        "status": STATUS.get(_int(raw.get("status_id")) or -1, "exception"),
        "platform_status": raw.get("status"),
    }


@tool(platform=PLATFORM, writes=True, guards=("verified_customer", "owns_order", "confirmed", "max_discount"))
def set_discount_to_order(order_id: str, percent: float) -> dict[str, Any]:
    """Give a percent discount on an order's items (its discount amount; setting it again replaces it).

    This lowers the order's total; it does not refund money already charged.
    """
    share = _required_percent(percent)
    wanted = _required_order_id(order_id)
    api = client()
    raw = _existing_order(api, wanted)
    status_id = _int(raw.get("status_id"))
    if status_id in (CANCELLED, 6) or status_id in MONEY_RETURNED:
        return {"order_id": str(wanted), "applied": False, "reason": f"the order is {raw.get('status')}"}
    subtotal = amount(raw.get("subtotal_ex_tax")) or 0.0
    discount = round(subtotal * share / 100, 2)
    updated = api.update_order(wanted, {"discount_amount": f"{discount:.2f}"})
    return {
        "order_id": str(wanted),
        "applied": True,
        "percent": share,
        "discount_amount": discount,
        "total": amount(updated.get("total_inc_tax")) if isinstance(updated, dict) else None,
    }


@tool(platform=PLATFORM, writes=True, guards=("verified_customer", "owns_order", "confirmed"))
def upgrade_shipping(order_id: str) -> dict[str, Any]:
    """Upgrade an unshipped BigCommerce order to express shipping at no shipping cost."""
    wanted = _required_order_id(order_id)
    api = client()
    raw = _existing_order(api, wanted)
    if _int(raw.get("status_id")) not in NOT_YET_SHIPPED:
        return {"order_id": str(wanted), "upgraded": False, "reason": f"the order is {raw.get('status')}"}
    for address in api.shipping_addresses(wanted):
        shipping_id = _int(address.get("id"))
        if shipping_id and address.get("shipping_method") != EXPRESS_METHOD:
            api.update_shipping_address(wanted, shipping_id, {"shipping_method": EXPRESS_METHOD})
    updated = api.update_order(
        wanted,
        {"base_shipping_cost": "0.00", "shipping_cost_ex_tax": "0.00", "shipping_cost_inc_tax": "0.00"},
    )
    return {
        "order_id": str(wanted),
        "upgraded": True,
        "shipping_method": EXPRESS_METHOD,
        "shipping_cost": 0.0,
        "total": amount(updated.get("total_inc_tax")) if isinstance(updated, dict) else None,
    }


@tool(
    platform=PLATFORM,
    writes=True,
    guards=("verified_customer", "owns_order", "confirmed", "cancellable_status"),
)
def cancel_bigcommerce_order(order_id: str) -> dict[str, Any]:
    """Cancel a BigCommerce order that has not shipped (status Cancelled); shipped orders are refused."""
    wanted = _required_order_id(order_id)
    api = client()
    raw = _existing_order(api, wanted)
    status_id = _int(raw.get("status_id"))
    if status_id == CANCELLED:
        return {"order_id": str(wanted), "canceled": True, "already_canceled": True}
    if status_id in SHIPPED:
        return {"order_id": str(wanted), "canceled": False, "reason": f"the order is {raw.get('status')}"}
    if status_id in MONEY_RETURNED:
        return {"order_id": str(wanted), "canceled": False, "reason": f"the order is {raw.get('status')}"}
    updated = api.update_order(wanted, {"status_id": CANCELLED})
    return {
        "order_id": str(wanted),
        "canceled": True,
        "status": "canceled",
        "platform_status": updated.get("status") if isinstance(updated, dict) else STATUS_NAMES[CANCELLED],
    }


@tool(platform=PLATFORM, writes=True, guards=("verified_customer", "confirmed", "max_coupon"))
def create_bigcommerce_coupon(email: str, percent: float, reference: str) -> dict[str, Any]:
    """Create a single-use percent-off coupon code for the customer's next order and return the code.

    The same reference always yields the same code, so a retry returns it instead of minting another.
    """
    _required_email(email)  # the code is for this verified customer; v2 coupons cannot name one
    share = _required_percent(percent)
    reference = _required_reference(reference)
    code = coupon_code(reference)
    api = client()
    found = api.coupons_by_code(code)
    if not found:
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=COUPON_VALID_DAYS)
        body = {
            "name": f"policydesk {reference}"[:100],
            "code": code,
            "type": "percentage_discount",
            "amount": f"{share:g}",
            "min_purchase": "0",
            "expires": format_datetime(expires),
            "enabled": True,
            "applies_to": {"entity": "categories", "ids": [0]},
            "max_uses": 1,
            "max_uses_per_customer": 1,
        }
        try:
            found = [api.create_coupon(body)]
        except Rejected as exc:  # 409: created meanwhile by another attempt with this reference
            found = api.coupons_by_code(code) if exc.status == 409 else []
            if not found:
                raise
    coupon = found[0]
    expiry = timestamp(coupon.get("expires"))
    return {
        "code": coupon.get("code", code),
        "percent": amount(coupon.get("amount")) or share,
        "coupon_id": str(coupon.get("id")),
        "expires": expiry.date().isoformat() if expiry else None,
        "single_use": True,
    }


def coupon_code(reference: str) -> str:
    """A short code derived from the reference: unique per reference, stable across retries."""
    return "PD" + hashlib.sha256(reference.encode()).hexdigest()[:10].upper()
