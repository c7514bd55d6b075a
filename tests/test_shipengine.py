"""ShipEngine tools (orders from ShipStation v1, tracking from ShipEngine) against the sandbox over HTTPS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sandbox_calls import backfill, inject, served_faults

from connectors import shipengine
from connectors.errors import AuthFailed, RateLimited, Rejected
from connectors.models import Order
from connectors.shipengine import get_shipengine_orders, shipengine_order_details
from connectors.tools import load_all_tools

DOMAIN = "shipengine.example"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def env(sandbox, sandbox_api, monkeypatch) -> dict[str, str]:
    """This process configured for the sandbox (reset for each test), as a deployment would be."""
    values = sandbox.env()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POLICYDESK_TRACKER", raising=False)
    return values


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def only_order(who: str) -> Order:
    [order] = get_shipengine_orders(f"{who}@{DOMAIN}")
    return order


@pytest.mark.parametrize(
    ("who", "number", "status", "platform_status"),
    [
        ("approved", "SS-1001", "approved", "awaiting_payment"),
        ("processing", "SS-1002", "processing", "pending_fulfillment"),
        ("on-hold", "SS-1003", "processing", "on_hold"),
        ("canceled", "SS-1011", "canceled", "cancelled"),
        ("rejected", "SS-1012", "exception", "rejected_fulfillment"),
    ],
)
def test_unshipped_orders_take_their_status_from_shipstation(env, who, number, status, platform_status):
    order = only_order(who)

    assert (order.number, order.status, order.platform_status) == (number, status, platform_status)
    assert order.shipments == () and order.estimated_delivery is None
    assert order.email == f"{who}@{DOMAIN}"
    assert order.items and order.items[0].sku == "MUG-11" and order.items[0].quantity == 2
    assert order.shipping_address is not None and order.shipping_address.city == "Chicago"
    assert order.created_at is not None and "." not in order.created_at


def test_awaiting_shipment_is_pending_shipment_with_its_ship_by_date(env):
    order = only_order("pending-shipment")

    assert (order.status, order.ship_date) == ("pending_shipment", day(1))


@pytest.mark.parametrize(
    ("who", "status", "carrier_status", "estimate", "delivered"),
    [
        ("shipped", "shipped", "AC", day(3), None),
        ("in-transit.on-time", "in_transit", "IT", day(2), None),
        ("in-transit.late", "in_transit", "IT", day(-3), None),
        ("delivered", "delivered", "DE", None, day(-1)),
        ("pickup-point", "delivered", "SP", None, day(-1)),
    ],
)
def test_shipped_orders_take_their_status_from_shipengine_tracking(
    env, who, status, carrier_status, estimate, delivered
):
    order = only_order(who)

    assert (order.status, order.platform_status) == (status, "shipped")
    [parcel] = order.shipments
    assert parcel.carrier_status == carrier_status
    assert (order.estimated_delivery or "")[:10] == (estimate or "")
    assert (order.actual_delivery or "")[:10] == (delivered or "")
    assert parcel.tracking_url and parcel.tracking_number in parcel.tracking_url
    times = [event.occurred_at for event in parcel.events]
    assert times == sorted(times, reverse=True) and len(times) >= 1


def test_a_delivery_attempt_is_in_transit_with_the_attempt_noted(env):
    order = only_order("attempted")

    [parcel] = order.shipments
    assert (order.status, parcel.carrier_status) == ("in_transit", "AT")
    assert parcel.status_detail is not None and parcel.status_detail.startswith("delivery attempted")
    assert parcel.events[0].location == "CHICAGO, IL, 60606, US"


@pytest.mark.parametrize(
    ("who", "detail"),
    [
        ("exception", "No access to delivery location (NO_ACCESS_TO_RECIPIENTS_ADDRESS)"),
        ("lost", "Package lost in transit (PARCEL_LOST)"),
    ],
)
def test_carrier_exceptions_and_lost_parcels_are_exceptions(env, who, detail):
    order = only_order(who)

    [parcel] = order.shipments
    assert (order.status, parcel.status, parcel.carrier_status) == ("exception", "exception", "EX")
    assert parcel.status_detail == detail


def test_three_orders_newest_first_and_a_voided_label_is_not_a_parcel(env):
    orders = get_shipengine_orders(f"three.orders@{DOMAIN}")

    assert [(o.number, o.status) for o in orders] == [
        ("SS-1022", "processing"),
        ("SS-1021", "shipped"),  # label created, not yet in the carrier's system (NY)
        ("SS-1020", "delivered"),
    ]
    [parcel] = orders[2].shipments
    assert parcel.tracking_number == "1Z999SE10000001020"
    assert [item.sku for item in orders[2].items] == ["TEA-50", "MUG-11"]


def test_unknown_customers_and_bad_input_have_no_orders(env):
    assert get_shipengine_orders(f"no-orders@{DOMAIN}") == []
    assert get_shipengine_orders("DELIVERED@ShipEngine.Example")[0].number == "SS-1009"
    assert get_shipengine_orders("") == []
    assert get_shipengine_orders("nobody") == []


def test_order_details_by_number_or_shipstation_order_id(env):
    by_number = shipengine_order_details("SS-1007")
    by_id = shipengine_order_details("410007")

    assert by_number is not None and by_number == by_id
    assert by_number.status == "in_transit" and by_number.id == "410007"
    assert shipengine_order_details("#SS-1007") == by_number
    assert shipengine_order_details("SS-10") is None  # ShipStation's "starts with" match is not an answer
    assert shipengine_order_details("999999") is None  # ShipStation 404
    assert shipengine_order_details("  ") is None


def test_tools_are_registered_read_only_and_need_both_apis(env):
    registry = load_all_tools()

    result = registry.invoke("get_shipengine_orders", {"email": f"in-transit.late@{DOMAIN}"})

    assert result[0]["status"] == "in_transit" and result[0]["estimated_delivery"].startswith(day(-3))
    tool = registry.resolve("@ShipEngineOrderDetails")
    assert tool is not None and not tool.writes and tool.platform == "shipengine"
    assert tool.configured(env)
    without_shipstation = {k: v for k, v in env.items() if not k.startswith("SHIPSTATION_")}
    assert not tool.configured(without_shipstation)


def test_unknown_parcel_at_shipengine_is_none_but_a_malformed_request_is_an_error(env):
    assert shipengine.client().track("ups", "1Z000000000000000") is None
    assert shipengine.client().track("pigeon_post", "123") is None
    with pytest.raises(Rejected) as caught:
        shipengine.client().track("", "123")
    assert caught.value.status == 400 and "field_value_required" in caught.value.detail


def test_shipped_order_whose_parcel_shipengine_cannot_find_stays_shipped(env, sandbox_api):
    inject(sandbox_api, "shipengine", status=404, path_contains="/v1/tracking")

    order = only_order("delivered")

    assert order.status == "shipped"
    [parcel] = order.shipments
    assert (parcel.tracking_number, parcel.carrier) == ("9405511899220000001009", "stamps_com")


def test_shipengine_rate_limit_retry_after_is_honoured(env, sandbox_api):
    inject(sandbox_api, "shipengine", status=429, retry_after=0)

    assert only_order("in-transit.on-time").status == "in_transit"
    assert served_faults(sandbox_api, "shipengine") == [429]


def test_shipstation_rate_limit_reset_is_honoured(env, sandbox_api):
    inject(sandbox_api, "shipstation", status=429, retry_after=0, path_contains="/orders")

    assert only_order("approved").status == "approved"
    assert served_faults(sandbox_api, "shipstation") == [429]


@pytest.mark.parametrize("platform", ["shipstation", "shipengine"])
def test_a_long_wait_is_handed_back_instead_of_slept_through(env, sandbox_api, platform):
    inject(sandbox_api, platform, status=429, retry_after=120)

    with pytest.raises(RateLimited) as caught:
        get_shipengine_orders(f"delivered@{DOMAIN}")

    assert caught.value.retry_after == 120
    assert served_faults(sandbox_api, platform) == [429]


@pytest.mark.parametrize("variable", ["SHIPSTATION_API_SECRET", "SHIPENGINE_API_KEY"])
def test_wrong_credentials_are_an_auth_failure(env, monkeypatch, variable):
    monkeypatch.setenv(variable, "wrong")

    with pytest.raises(AuthFailed) as caught:
        get_shipengine_orders(f"delivered@{DOMAIN}")

    assert caught.value.status == 401


# ---- finding one customer's orders in a store of many (ShipStation has no email filter) ----------


def shipstation_orders(env: dict[str, str], **params: str) -> dict:
    response = requests.get(
        f"{env['SHIPSTATION_BASE_URL']}/orders",
        params=params,
        auth=(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"]),
        verify=env["POLICYDESK_CA_BUNDLE"],
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def test_the_sandbox_ignores_a_filter_list_orders_does_not_document(env):
    everyone = shipstation_orders(env, pageSize="500")
    with_email = shipstation_orders(env, customerEmail=f"delivered@{DOMAIN}", pageSize="500")

    assert with_email["total"] == everyone["total"] > 1
    assert shipstation_orders(env, customerName="Del Ivered")["total"] == 1


def test_a_customer_is_found_among_more_orders_than_one_page_holds(env, sandbox_api):
    backfill(sandbox_api, "shipstation", count=1200, days=20)

    [late] = get_shipengine_orders(f"in-transit.late@{DOMAIN}")
    orders = get_shipengine_orders(f"three.orders@{DOMAIN}")

    assert (late.number, late.status) == ("SS-1007", "in_transit")
    assert [o.number for o in orders] == ["SS-1022", "SS-1021", "SS-1020"]


def test_the_name_the_helpdesk_holds_narrows_the_search_and_the_email_still_decides(env, sandbox_api):
    backfill(sandbox_api, "shipstation", count=1200, days=20)

    [by_name] = get_shipengine_orders(f"in-transit.late@{DOMAIN}", "Lee Late")
    other_spelling = get_shipengine_orders(f"in-transit.late@{DOMAIN}", "L. Late")
    someone_elses_name = get_shipengine_orders(f"no-orders@{DOMAIN}", "Lee Late")

    assert by_name.number == "SS-1007"
    assert [o.number for o in other_spelling] == ["SS-1007"]  # found by the scan instead
    assert someone_elses_name == []


def test_a_list_orders_page_in_the_vendor_shape_reads_as_an_order():
    page = json.loads((FIXTURES / "shipstation" / "list_orders_page.json").read_text())

    [order] = [shipengine.to_order(row) for row in page["orders"]]

    assert (order.number, order.email, order.platform_status) == ("1048", "rowan.ash@example.org", "shipped")
    assert order.created_at == "2025-03-02T08:41:17" and order.total == 41.5
    assert order.items[0].sku == "CANDLE-01" and order.shipping_address.city == "Portland"
