"""BigCommerce tools against the sandbox over real HTTPS: reads, the reshipment rule and every write."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

import pytest
import requests
import sandbox_calls

from connectors import bigcommerce
from connectors.bigcommerce import (
    bigcommerce_order_details,
    cancel_bigcommerce_order,
    check_reshipment_eligibility,
    create_bigcommerce_coupon,
    create_bigcommerce_order,
    find_bigcommerce_order_by_reference,
    get_bigcommerce_account_details,
    get_bigcommerce_orders,
    set_discount_to_order,
    set_order_to_paid,
    update_bigcommerce_address,
    upgrade_shipping,
)
from connectors.eligibility import OrderFacts, Thresholds, assess
from connectors.errors import AuthFailed, RateLimited, Rejected
from connectors.models import Order
from connectors.tools import load_all_tools

DOMAIN = "bigcommerce.example"


@pytest.fixture
def env(sandbox, sandbox_api, monkeypatch) -> dict[str, str]:
    """This process configured for the sandbox (reset for each test), as a deployment would be."""
    values = sandbox.env()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("POLICYDESK_RESHIP_MAX_AGE_DAYS", "POLICYDESK_RESHIP_MAX_VALUE"):
        monkeypatch.delenv(name, raising=False)
    return values


def email(who: str) -> str:
    return f"{who}@{DOMAIN}"


inject = partial(sandbox_calls.inject, platform="bigcommerce")
recorded = partial(sandbox_calls.log, platform="bigcommerce")


def writes(api: requests.Session, method: str | None = None) -> list[dict[str, Any]]:
    return [w for w in recorded(api) if "fault" not in w and method in (None, w["method"])]


def raw_order(order_id: str | int) -> dict[str, Any]:
    """The order as BigCommerce stores it (fields our Order does not carry)."""
    found = bigcommerce.client().order(int(order_id))
    assert found is not None
    return found


# ---- reads --------------------------------------------------------------------------------------


def test_account_details_by_email_or_none(env):
    customer = get_bigcommerce_account_details(email("delivered.eligible").upper())

    assert customer is not None
    assert (customer.platform, customer.id, customer.name) == ("bigcommerce", "31", "Dana Delivered")
    assert customer.email == email("delivered.eligible")
    assert get_bigcommerce_account_details(email("nobody")) is None
    assert get_bigcommerce_account_details("not an email, x@y.z") is None


def test_orders_newest_first_with_items_and_an_empty_list_for_none(env):
    orders = get_bigcommerce_orders(email("already.reshipped"))

    assert [o.id for o in orders] == ["5006", "5005"]
    assert all(o.items[0].name == "Glass teapot" for o in orders)
    assert orders[0].created_at > orders[1].created_at
    assert get_bigcommerce_orders(email("no.orders")) == []  # the API answers 204 with no body
    assert get_bigcommerce_orders("") == []


@pytest.mark.parametrize(
    ("who", "status", "platform_status"),
    [
        ("delivered.eligible", "delivered", "Completed"),
        ("shipped.eligible", "shipped", "Shipped"),
        ("partially.shipped", "shipped", "Partially Shipped"),
        ("awaiting.fulfillment", "processing", "Awaiting Fulfillment"),
        ("awaiting.shipment", "pending_shipment", "Awaiting Shipment"),
        ("awaiting.payment", "approved", "Awaiting Payment"),
        ("cancelled", "canceled", "Cancelled"),
        ("refunded", "exception", "Refunded"),
    ],
)
def test_statuses_map_to_one_vocabulary_and_keep_the_store_name(env, who, status, platform_status):
    [order] = get_bigcommerce_orders(email(who))

    assert (order.status, order.platform_status) == (status, platform_status)


def test_order_details_have_items_address_pair_id_and_tracking(env):
    order = bigcommerce_order_details("#5001")

    assert order is not None
    assert [(i.name, i.quantity, i.product_id) for i in order.items] == [
        ("Blue ceramic mug", 2, "111"),
        ("Stoneware dinner plate", 1, "112"),
    ]
    assert order.shipping_address is not None
    assert order.shipping_address.id == "5001:7001"
    assert order.shipping_address.city == "Austin"
    [parcel] = order.shipments
    assert (parcel.tracking_number, parcel.carrier, parcel.status) == (
        "9400111899560000005001",
        "usps",
        "delivered",
    )
    assert order.total == pytest.approx(67.99)
    assert order.email == email("delivered.eligible")


def test_unknown_or_malformed_order_ids_are_none(env):
    assert bigcommerce_order_details("99999") is None  # a 404 from the API
    assert bigcommerce_order_details("DROP TABLE") is None
    assert bigcommerce_order_details("") is None


# ---- reshipment eligibility ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "eligible", "reason"),
    [
        ("5001", True, "meets every reshipment rule"),
        ("5002", True, "meets every reshipment rule"),
        ("5003", False, "90 days old; the limit is 60"),
        ("5004", False, "336.99 is above the limit 250.00"),
        ("5005", False, "a replacement already exists (order 5006)"),
        ("5006", False, "itself a replacement"),
        ("5007", False, "has not shipped yet"),
        ("5009", False, "cancelled"),
        ("5010", False, "refunded"),
        ("424242", False, "not found"),
    ],
)
def test_reshipment_eligibility_reasons(env, order_id, eligible, reason):
    verdict = check_reshipment_eligibility(order_id)

    assert verdict["eligible"] is eligible
    assert reason in verdict["reason"]
    assert verdict["rule"]["max_age_days"] == 60 and verdict["rule"]["max_value"] == 250


def test_eligibility_thresholds_come_from_the_environment(env, monkeypatch):
    monkeypatch.setenv("POLICYDESK_RESHIP_MAX_AGE_DAYS", "120")
    monkeypatch.setenv("POLICYDESK_RESHIP_MAX_VALUE", "400")

    assert check_reshipment_eligibility("5003")["eligible"] is True
    assert check_reshipment_eligibility("5004")["eligible"] is True

    monkeypatch.setenv("POLICYDESK_RESHIP_MAX_VALUE", "lots")  # unreadable: the documented default
    assert check_reshipment_eligibility("5004")["eligible"] is False


# ---- replacement orders -------------------------------------------------------------------------


def test_replacement_has_the_same_items_the_reference_and_one_post(env, sandbox_api):
    customer = email("delivered.eligible")
    items = [{"product_id": "111", "quantity": 2}, {"sku": "PLT-STN", "quantity": 1}]

    created = create_bigcommerce_order(items, {}, customer, "fd-4711-reship", "5001")
    again = create_bigcommerce_order(items, {}, customer, "fd-4711-reship", "5001")

    assert again.id == created.id != "5001"
    assert [(i.name, i.quantity) for i in created.items] == [
        ("Blue ceramic mug", 2),
        ("Stoneware dinner plate", 1),
    ]
    assert created.status == "processing" and created.platform_status == "Awaiting Fulfillment"
    assert created.email == customer
    assert created.shipping_address is not None and created.shipping_address.street_1 == "455 Main Street"
    stored = raw_order(created.id)
    assert stored["staff_notes"] == "Replacement for order 5001 (fd-4711-reship)"
    assert stored["external_order_id"] == "fd-4711-reship"
    posts = [w for w in writes(sandbox_api, "POST") if w["path"].endswith("/v2/orders")]
    assert len(posts) == 1
    assert posts[0]["body"]["status_id"] == 11
    assert posts[0]["body"]["products"] == [
        {"product_id": 111, "quantity": 2, "variant_id": 1110},
        {"product_id": 112, "quantity": 1, "variant_id": 1120},
    ]

    found = find_bigcommerce_order_by_reference("fd-4711-reship", customer)
    assert found is not None and found.id == created.id
    assert find_bigcommerce_order_by_reference("fd-0000", customer) is None
    assert find_bigcommerce_order_by_reference("fd-4711-reship", email("shipped.eligible")) is None
    verdict = check_reshipment_eligibility("5001")
    assert verdict["eligible"] is False and verdict["replacement_order_ids"] == [created.id]


def test_replacement_ships_to_a_new_address_when_given(env):
    new = {"name": "Sam Shipped", "street_1": "9 Elm Rd", "city": "Denver", "state": "CO", "zip": "80202"}

    created = create_bigcommerce_order(
        [{"product_id": 114, "quantity": 1}], new, email("shipped.eligible"), "kus-12-reship", "5002"
    )

    address = created.shipping_address
    assert address is not None
    assert (address.street_1, address.street_2, address.city, address.zip) == (
        "9 Elm Rd",
        None,
        "Denver",
        "80202",
    )


@pytest.mark.parametrize(
    ("items", "user", "original", "message"),
    [
        ([{"product_id": 113, "quantity": 1}], "too.old", "5003", "not eligible"),
        ([{"product_id": 115, "quantity": 1}], "too.expensive", "5004", "not eligible"),
        ([{"product_id": 116, "quantity": 1}], "already.reshipped", "5005", "not eligible"),
        ([{"product_id": 115, "quantity": 1}], "delivered.eligible", "5001", "not in the original order"),
        (
            [{"product_id": 111, "quantity": 3}],
            "delivered.eligible",
            "5001",
            "3 requested but the order had 2",
        ),
        ([{"product_id": 111, "quantity": 1}], "shipped.eligible", "5001", "does not belong"),
        ([], "delivered.eligible", "5001", "non-empty list"),
        ("mug", "delivered.eligible", "5001", "non-empty list"),
    ],
)
def test_replacement_refused_creates_nothing(env, sandbox_api, items, user, original, message):
    with pytest.raises(ValueError, match=message):
        create_bigcommerce_order(items, {}, email(user), "ref-refused", original)

    assert writes(sandbox_api) == []


def test_replacement_order_can_be_set_to_paid_and_nothing_else_can(env, sandbox_api):
    created = create_bigcommerce_order(
        [{"product_id": 114, "quantity": 1}], {}, email("shipped.eligible"), "sf-500-reship", "5002"
    )

    result = set_order_to_paid(created.id)

    assert result["paid"] is True
    assert raw_order(created.id)["payment_method"] == "Manual"
    before = len(writes(sandbox_api))
    with pytest.raises(ValueError, match="not a replacement"):
        set_order_to_paid("5007")
    assert len(writes(sandbox_api)) == before


# ---- goodwill writes ----------------------------------------------------------------------------


def test_discount_is_visible_on_the_order_and_replaces_an_earlier_one(env):
    result = set_discount_to_order("5007", 10)
    set_discount_to_order("5007", 10)  # a retry must not give 20%

    assert result["applied"] is True and result["discount_amount"] == pytest.approx(5.70)
    stored = raw_order(5007)
    assert float(stored["discount_amount"]) == pytest.approx(5.70)
    order = bigcommerce_order_details("5007")
    assert order is not None and order.total == pytest.approx(64.99 - 5.70)


@pytest.mark.parametrize("percent", [0, -5, 101, True, "10"])
def test_discount_percent_out_of_range_is_refused(env, sandbox_api, percent):
    with pytest.raises(ValueError, match="percent"):
        set_discount_to_order("5007", percent)

    assert writes(sandbox_api) == []


def test_upgrade_shipping_to_express_at_no_cost_before_shipping_only(env, sandbox_api):
    result = upgrade_shipping("5007")

    assert result["upgraded"] is True
    stored = raw_order(5007)
    assert float(stored["shipping_cost_inc_tax"]) == 0 and float(stored["total_inc_tax"]) == pytest.approx(
        57.0
    )
    [address] = bigcommerce.client().shipping_addresses(5007)
    assert address["shipping_method"] == "Express Shipping"
    made = len(writes(sandbox_api))
    assert upgrade_shipping("5002")["upgraded"] is False
    assert len(writes(sandbox_api)) == made


def test_coupon_is_single_use_percent_off_and_one_per_reference(env, sandbox_api):
    first = create_bigcommerce_coupon(email("delivered.eligible"), 15, "fd-88-goodwill")
    second = create_bigcommerce_coupon(email("delivered.eligible"), 15, "fd-88-goodwill")

    assert first["code"] == second["code"] and first["code"].startswith("PD")
    [coupon] = bigcommerce.client().coupons_by_code(first["code"])
    assert (coupon["type"], float(coupon["amount"]), coupon["max_uses"]) == ("percentage_discount", 15.0, 1)
    assert len([w for w in writes(sandbox_api, "POST") if w["path"].endswith("/v2/coupons")]) == 1
    other = create_bigcommerce_coupon(email("delivered.eligible"), 15, "fd-89-goodwill")
    assert other["code"] != first["code"]


# ---- cancellation and address -------------------------------------------------------------------


def test_cancel_an_unshipped_order(env):
    result = cancel_bigcommerce_order("5007")

    assert result["canceled"] is True
    order = bigcommerce_order_details("5007")
    assert order is not None and (order.status, order.platform_status) == ("canceled", "Cancelled")
    assert cancel_bigcommerce_order("5007")["already_canceled"] is True


@pytest.mark.parametrize("order_id", ["5002", "5008", "5001"])
def test_cancel_is_refused_for_shipped_orders(env, sandbox_api, order_id):
    result = cancel_bigcommerce_order(order_id)

    assert result["canceled"] is False
    assert writes(sandbox_api) == []
    assert raw_order(order_id)["status_id"] in (2, 3, 10)


def test_sandbox_refuses_to_cancel_a_shipped_order_as_a_safety_net(env):
    with pytest.raises(Rejected) as caught:
        bigcommerce.client().update_order(5002, {"status_id": 5})

    assert caught.value.status == 400
    assert '"status": 400' in caught.value.detail or '"status":400' in caught.value.detail
    assert raw_order(5002)["status"] == "Shipped"


def test_sandbox_refuses_read_only_fields(env):
    with pytest.raises(Rejected) as caught:
        bigcommerce.client().update_order(5011, {"payment_status": "paid"})

    assert "cannot be written to" in caught.value.detail


def test_address_change_on_an_unshipped_order(env):
    result = update_bigcommerce_address(
        "5012:7012", {"name": "Shea Shipment", "street_1": "1 Oak Ave", "city": "Dallas", "zip": "75201"}
    )

    assert result["updated"] is True
    order = bigcommerce_order_details("5012")
    assert order is not None and order.shipping_address is not None
    address = order.shipping_address
    assert (address.street_1, address.street_2, address.city, address.zip) == (
        "1 Oak Ave",
        None,
        "Dallas",
        "75201",
    )


def test_address_change_refused_once_shipped(env, sandbox_api):
    result = update_bigcommerce_address("5002:7002", {"street_1": "1 Oak Ave"})

    assert result["updated"] is False
    assert writes(sandbox_api) == []


@pytest.mark.parametrize(
    ("address_id", "new_address"),
    [
        ("7012", {"city": "Dallas"}),
        ("5012:x", {"city": "Dallas"}),
        ("5012:7012", {"planet": "Mars"}),
        ("5012:7012", {}),
        ("5012:7012", {"city": ["Dallas"]}),
        ("5012:7012", "1 Oak Ave, Dallas"),
    ],
)
def test_address_change_with_bad_input_is_refused(env, sandbox_api, address_id, new_address):
    with pytest.raises(ValueError):
        update_bigcommerce_address(address_id, new_address)

    assert writes(sandbox_api) == []


# ---- transport: rate limits, credentials, bad requests ------------------------------------------


def test_rate_limit_headers_on_every_response(env):
    response = bigcommerce.client().http.request("GET", "/v2/orders/5001")

    for name in ("Requests-Left", "Requests-Quota", "Time-Reset-Ms", "Time-Window-Ms"):
        assert f"X-Rate-Limit-{name}" in response.headers
    assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"


def test_429_then_success(env, sandbox_api):
    inject(sandbox_api, status=429, retry_after=0.05)

    [order] = get_bigcommerce_orders(email("shipped.eligible"))

    assert order.id == "5002"
    assert [w["fault"] for w in recorded(sandbox_api) if "fault" in w] == [429]


def test_a_long_wait_is_handed_back_instead_of_slept_through(env, sandbox_api):
    inject(sandbox_api, status=429, retry_after=120)

    with pytest.raises(RateLimited) as caught:
        bigcommerce_order_details("5001")

    assert caught.value.retry_after == 120


def test_a_throttled_create_is_retried_once_the_window_resets(env, sandbox_api):
    inject(sandbox_api, status=429, retry_after=0, method="POST", path_contains="/v2/orders")

    created = create_bigcommerce_order(
        [{"product_id": 114, "quantity": 1}], {}, email("shipped.eligible"), "fd-429-reship", "5002"
    )

    assert created.id != "5002"
    assert len([w for w in writes(sandbox_api, "POST") if w["path"].endswith("/v2/orders")]) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: get_bigcommerce_orders(email("shipped.eligible")),
        lambda: get_bigcommerce_account_details(email("shipped.eligible")),
    ],
)
def test_wrong_token_is_an_auth_failure(env, monkeypatch, call):
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "wrong")

    with pytest.raises(AuthFailed) as caught:
        call()

    assert caught.value.status == 401


def test_malformed_bodies_are_400_not_500(env, sandbox):
    base = env["BIGCOMMERCE_BASE_URL"]
    session = requests.Session()
    session.verify = str(sandbox.cert)
    session.trust_env = False
    headers = {"X-Auth-Token": env["BIGCOMMERCE_ACCESS_TOKEN"], "Content-Type": "application/json"}

    for method, path, data in [
        ("POST", "/v2/orders", "{not json"),
        ("POST", "/v2/orders", "[]"),
        ("PUT", "/v2/orders/5007", '{"status_id": "five"}'),
        ("PUT", "/v2/orders/5007", '{"discount_amount": -3}'),
        (
            "POST",
            "/v2/orders",
            '{"billing_address": {"zip": "78751"}, "products": [{"product_id": 1, "quantity": 1}]}',
        ),
        ("POST", "/v2/coupons", '{"name": "x"}'),
        ("GET", "/v2/orders?limit=9999", None),
    ]:
        response = session.request(method, f"{base}{path}", data=data, headers=headers)
        assert response.status_code == 400, (method, path, response.text)
        assert isinstance(response.json(), list) and "message" in response.json()[0]


# ---- registry -----------------------------------------------------------------------------------


def test_tools_are_registered_with_their_guards(env):
    registry = load_all_tools()

    reads = [
        "get_bigcommerce_account_details",
        "get_bigcommerce_orders",
        "bigcommerce_order_details",
        "check_reshipment_eligibility",
        "find_bigcommerce_order_by_reference",
    ]
    for name in reads:
        tool = registry.resolve(name)
        assert tool is not None and tool.writes is False and tool.platform == "bigcommerce"
    expected_guards = {
        "update_bigcommerce_address": {"verified_customer", "owns_order", "confirmed"},
        "create_bigcommerce_order": {
            "verified_customer",
            "owns_order",
            "confirmed",
            "eligible_for_reshipment",
            "one_replacement_per_order",
        },
        "set_order_to_paid": {"verified_customer", "confirmed", "replacement_only"},
        "set_discount_to_order": {"verified_customer", "owns_order", "confirmed", "max_discount"},
        "upgrade_shipping": {"verified_customer", "owns_order", "confirmed"},
        "cancel_bigcommerce_order": {"verified_customer", "owns_order", "confirmed", "cancellable_status"},
        "create_bigcommerce_coupon": {"verified_customer", "confirmed", "max_coupon"},
    }
    for name, guards in expected_guards.items():
        tool = registry.resolve(name)
        assert tool is not None and tool.writes is True and set(tool.guards) == guards
    assert registry.resolve("@GetBigCommerceAccountDetails") is registry.resolve(
        "get_bigcommerce_account_details"
    )
    create = registry.resolve("create_bigcommerce_order")
    assert create is not None and create.schema["properties"]["items"]["type"] == "array"
    assert create.configured(env) and not create.configured({})


def test_invoke_returns_json_for_an_engine(env):
    result = load_all_tools().invoke("@bigcommerceorderdetails", {"order_id": "5002"})

    assert result["shipping_address"]["id"] == "5002:7002"
    assert result["shipments"][0]["tracking_number"] == "1Z999BC10000005002"


def test_store_hash_alone_points_at_the_real_api():
    config = bigcommerce.bigcommerce_config(
        {"BIGCOMMERCE_STORE_HASH": "abc123", "BIGCOMMERCE_ACCESS_TOKEN": "t"}
    )

    assert config is not None and config.base_url == "https://api.bigcommerce.com/stores/abc123"
    assert bigcommerce.bigcommerce_config({"BIGCOMMERCE_STORE_HASH": "abc123"}) is None


# ---- the rule on its own ------------------------------------------------------------------------


def order_for_rule(**overrides: Any) -> Order:
    values: dict[str, Any] = {
        "platform": "bigcommerce",
        "id": "1",
        "number": "1",
        "status": "delivered",
        "created_at": "2026-01-10T09:00:00+00:00",
        "total": 100.0,
    }
    return Order(**{**values, **overrides})


@pytest.mark.parametrize(
    ("overrides", "facts", "reason"),
    [
        ({}, OrderFacts(), "meets every reshipment rule"),
        ({"status": "exception"}, OrderFacts(), "meets every reshipment rule"),  # e.g. a lost parcel
        ({"status": "exception"}, OrderFacts(never_shipped=True), "has not shipped yet"),  # incomplete
        ({"created_at": None}, OrderFacts(), "date is unknown"),
        ({"created_at": "last week"}, OrderFacts(), "date is unknown"),
        ({"total": None}, OrderFacts(), "total is unknown"),
        ({"created_at": "2025-11-10T09:00:00+00:00"}, OrderFacts(), "61 days old; the limit is 60"),
        ({"total": 250.01}, OrderFacts(), "above the limit 250.00"),
    ],
)
def test_the_rule_on_its_own(overrides, facts, reason):
    verdict = assess(order_for_rule(**overrides), facts, today=date(2026, 1, 10), thresholds=Thresholds())

    assert reason in verdict["reason"]
    assert verdict["eligible"] is (reason == "meets every reshipment rule")
