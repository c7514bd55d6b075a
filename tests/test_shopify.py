"""Shopify tools against the sandbox over real HTTPS: lookups, cancelling, throttling, auth."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import sandbox_calls
from sandbox_calls import choose_reading

from connectors import shopify
from connectors.errors import AuthFailed, NotFound, RateLimited, Rejected
from connectors.shopify import cancel_shopify_order, get_shopify_orders, shopify_order_details, throttle_wait
from connectors.tools import load_all_tools

PLATFORM = "shopify"
DOMAIN = "shopify.example"


@pytest.fixture
def env(sandbox, sandbox_api, monkeypatch) -> dict[str, str]:
    """This process configured for the sandbox (reset for each test), as a deployment would be."""
    values = sandbox.env()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SHOPIFY_SHOP", raising=False)
    return values


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


inject = partial(sandbox_calls.inject, platform=PLATFORM)
log = partial(sandbox_calls.log, platform=PLATFORM)


def writes(api: requests.Session) -> list[dict[str, Any]]:
    return [row for row in log(api) if "fault" not in row]


def served_faults(api: requests.Session) -> list[int]:
    return [row["fault"] for row in log(api) if "fault" in row]


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        ("pending", [("#1001", "pending_shipment")]),
        ("awaiting-payment", [("#1002", "approved")]),
        ("on-hold", [("#1003", "processing")]),
        ("in-transit", [("#1004", "in_transit")]),
        ("delivered", [("#1005", "delivered")]),
        ("failed-delivery", [("#1006", "exception")]),
        ("cancelled", [("#1007", "canceled")]),
        ("several.orders", [("#1043", "pending_shipment"), ("#1044", "in_transit"), ("#1040", "delivered")]),
        ("no-orders", []),
    ],
)
def test_each_seeded_customer_sees_their_orders_newest_first(env, customer, expected):
    orders = get_shopify_orders(f"{customer}@{DOMAIN}")

    assert [(o.number, o.status) for o in orders] == expected
    assert all(o.email == f"{customer}@{DOMAIN}" and o.platform == PLATFORM for o in orders)


def test_email_lookup_ignores_case_and_spaces_and_rejects_non_emails(env):
    assert [o.number for o in get_shopify_orders("  Delivered@Shopify.Example ")] == ["#1005"]
    assert get_shopify_orders("") == []
    assert get_shopify_orders("delivered") == []
    assert get_shopify_orders('x" OR email:*@shopify.example') == []


def test_in_transit_order_carries_its_parcel_and_estimate(env):
    order = shopify_order_details("#1004")

    assert order is not None
    assert (order.id, order.status, order.platform_status) == (
        "gid://shopify/Order/550000001004",
        "in_transit",
        "FULFILLED,PAID",
    )
    [parcel] = order.shipments
    assert (parcel.carrier, parcel.tracking_number, parcel.status) == (
        "UPS",
        "1Z999SH10000001004",
        "in_transit",
    )
    assert parcel.tracking_url == "https://www.ups.com/track?tracknum=1Z999SH10000001004"
    assert order.estimated_delivery is not None and order.estimated_delivery.startswith(day(2))
    assert order.ship_date is not None and order.ship_date.startswith(day(-2))
    assert [(i.name, i.quantity, i.price) for i in order.items] == [("Insulated Bottle", 2, 32.0)]
    assert order.total == 64.0
    assert order.shipping_address is not None and order.shipping_address.city == "San Francisco"


def test_delivered_and_failed_orders_report_what_happened(env):
    delivered = shopify_order_details("1005")
    failed = shopify_order_details("gid://shopify/Order/550000001006")

    assert delivered is not None and delivered.status == "delivered"
    assert delivered.actual_delivery is not None and delivered.actual_delivery.startswith(day(-1))
    assert failed is not None and failed.status == "exception"
    assert failed.shipments[0].carrier_status == "FAILURE"


def test_order_lookup_by_name_gid_or_numeric_id_and_misses_are_none(env):
    by_name = shopify_order_details("#1043")
    assert by_name is not None
    assert shopify_order_details(by_name.id) == by_name
    assert shopify_order_details(by_name.id.rsplit("/", 1)[-1]) == by_name

    assert shopify_order_details("#9999") is None
    assert shopify_order_details("gid://shopify/Order/1") is None
    assert shopify_order_details("") is None
    assert shopify_order_details("#") is None


def test_cancel_refunds_restocks_and_records_exactly_one_write(env, sandbox_api):
    result = cancel_shopify_order("#1001")

    assert result["status"] == "canceled"
    assert result["number"] == "#1001"
    assert result["job_id"].startswith("gid://shopify/Job/")
    [write] = writes(sandbox_api)
    variables = write["body"]["variables"]
    assert (variables["reason"], variables["refund"], variables["restock"]) == ("CUSTOMER", True, True)
    assert variables["staffNote"]
    after = shopify_order_details("#1001")
    assert after is not None and after.status == "canceled"
    assert shopify.cancellation_of("#1001") == {**result, "job_id": None, "job_done": None}


def test_cancel_is_refused_for_fulfilled_orders_and_nothing_changes(env, sandbox_api):
    with pytest.raises(Rejected) as refused:
        cancel_shopify_order("#1005")
    assert "fulfilled" in refused.value.detail
    with pytest.raises(Rejected):
        cancel_shopify_order("#1044")  # partially fulfilled

    assert writes(sandbox_api) == []
    order = shopify_order_details("#1005")
    assert order is not None and order.status == "delivered"
    assert shopify.cancellation_of("#1005") is None


def test_cancelling_a_cancelled_order_reports_it_without_writing(env, sandbox_api):
    result = cancel_shopify_order("#1007", reason="customer")

    assert (result["status"], result["reason"]) == ("canceled", "CUSTOMER")
    assert writes(sandbox_api) == []


def test_cancel_of_unknown_order_or_with_a_bad_reason_does_nothing(env, sandbox_api):
    with pytest.raises(NotFound):
        cancel_shopify_order("#9999")
    with pytest.raises(ValueError):
        cancel_shopify_order("#1001", reason="because")
    assert writes(sandbox_api) == []


@pytest.mark.parametrize("throttle_status", ["200", "429"])
def test_throttled_then_success(env, sandbox_api, throttle_status):
    choose_reading(sandbox_api, "shopify", "throttle_status", throttle_status)
    inject(sandbox_api, status=429, count=1)

    orders = get_shopify_orders(f"delivered@{DOMAIN}")

    assert [o.number for o in orders] == ["#1005"]
    assert served_faults(sandbox_api) == [429]


@pytest.mark.parametrize("throttle_status", ["200", "429"])
def test_throttled_lookups_before_a_cancel_still_cancel_exactly_once(env, sandbox_api, throttle_status):
    choose_reading(sandbox_api, "shopify", "throttle_status", throttle_status)
    inject(sandbox_api, status=429, count=2)

    result = cancel_shopify_order("#1043")

    assert result["status"] == "canceled"
    assert served_faults(sandbox_api) == [429, 429]
    assert len(writes(sandbox_api)) == 1


@pytest.mark.parametrize("throttle_status", ["200", "429"])
def test_a_long_throttle_is_handed_up_with_the_wait_shopify_implies(env, sandbox_api, throttle_status):
    choose_reading(sandbox_api, "shopify", "throttle_status", throttle_status)
    body = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 752,
                "actualQueryCost": None,
                "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 2.0, "restoreRate": 5.0},
            }
        },
    }
    inject(sandbox_api, status=429, count=1, body=body)

    with pytest.raises(RateLimited) as limited:
        get_shopify_orders(f"delivered@{DOMAIN}")

    assert limited.value.retry_after == pytest.approx(150.0)
    assert served_faults(sandbox_api) == [429]  # too long to wait in-process: not retried here


def test_wrong_token_is_auth_failed(env, monkeypatch):
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_wrong")

    with pytest.raises(AuthFailed):
        get_shopify_orders(f"delivered@{DOMAIN}")


def test_shop_name_or_base_url_configures_the_platform():
    by_shop = shopify.shopify_config({"SHOPIFY_SHOP": "acme", "SHOPIFY_ACCESS_TOKEN": "t"})
    by_host = shopify.shopify_config({"SHOPIFY_SHOP": "acme.myshopify.com", "SHOPIFY_ACCESS_TOKEN": "t"})
    assert by_shop is not None and by_shop.base_url == "https://acme.myshopify.com"
    assert by_host is not None and by_host.base_url == "https://acme.myshopify.com"
    assert shopify.shopify_config({"SHOPIFY_SHOP": "acme"}) is None


def test_tools_are_registered_with_their_guards(env):
    registry = load_all_tools()

    cancel = registry.resolve("@CancelShopifyOrder")
    assert cancel is not None and cancel.writes
    assert set(cancel.guards) == {"verified_customer", "owns_order", "confirmed", "cancellable_status"}
    assert cancel.arguments == ["order_id", "reason"]
    for name in ("get_shopify_orders", "shopifyorderdetails"):
        found = registry.resolve(name)
        assert found is not None and not found.writes and found.configured()
    [order] = registry.invoke("@getshopifyorders", {"email": f"in-transit@{DOMAIN}"})
    assert order["status"] == "in_transit" and order["shipments"][0]["carrier"] == "UPS"


def test_the_sandbox_answers_bad_requests_like_shopify_without_server_errors(env, sandbox_api):
    url = f"{env['SHOPIFY_BASE_URL']}{shopify.GRAPHQL_PATH}"
    headers = {"X-Shopify-Access-Token": env["SHOPIFY_ACCESS_TOKEN"]}

    def post(**kw: Any) -> requests.Response:
        return sandbox_api.post(url, headers=headers, timeout=10, **kw)

    garbage = sandbox_api.post(
        url, data=b"not json", headers={**headers, "Content-Type": "application/json"}, timeout=10
    )
    assert garbage.status_code == 400
    assert post(json={"query": "{ shop { name } }", "variables": [1]}).status_code == 400
    broken = post(json={"query": "{ orders(first: 1) { nodes { id "})
    unknown = post(json={"query": "{ shop { name } }"})
    unpaged = post(json={"query": "{ orders { nodes { id } } }"})
    for answer in (broken, unknown, unpaged):
        assert answer.status_code == 200 and answer.json()["errors"]
    assert "first or last" in unpaged.json()["errors"][0]["message"]
    assert writes(sandbox_api) == []


def test_the_wait_of_a_throttled_answer_in_the_vendor_shape():
    body = json.loads((Path(__file__).parent / "fixtures" / "shopify" / "throttled.json").read_text())

    assert throttle_wait(body) == pytest.approx(1.5)  # (202 - 52) points at 100 a second
