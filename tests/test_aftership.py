"""AfterShip tools against the sandbox over real HTTPS: what a "where is my order" policy would read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import sandbox_calls

from connectors.aftership import aftership_order_details, get_aftership_orders
from connectors.errors import AuthFailed, RateLimited
from connectors.models import Order
from connectors.tools import load_all_tools

PLATFORM = "aftership"
DOMAIN = "aftership.example"


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


inject = partial(sandbox_calls.inject, platform=PLATFORM)


served_faults = partial(sandbox_calls.served_faults, platform=PLATFORM)


def only_order(email: str) -> Order:
    [order] = get_aftership_orders(email)
    return order


def test_info_received_is_shipped_with_the_courier_estimate(env):
    order = only_order(f"shipped@{DOMAIN}")

    assert (order.platform, order.id, order.number, order.status) == (
        PLATFORM,
        "AS-1001",
        "#AS-1001",
        "shipped",
    )
    assert order.email == f"shipped@{DOMAIN}"
    [parcel] = order.shipments
    assert (parcel.carrier, parcel.carrier_status) == ("ups", "InfoReceived")
    assert parcel.status_detail == "Info Received (InfoReceived_001)"
    assert parcel.estimated_delivery == order.estimated_delivery == day(4)  # courier_estimated_delivery_date
    assert parcel.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10000001001"
    assert order.actual_delivery is None


def test_in_transit_on_time_and_late_differ_only_by_their_estimate(env):
    on_time = only_order(f"in-transit.on-time@{DOMAIN}")
    late = only_order(f"in-transit.late@{DOMAIN}")

    assert on_time.status == late.status == "in_transit"
    assert on_time.estimated_delivery == day(2)
    assert late.estimated_delivery == day(-3)
    assert on_time.shipments[0].status_detail == "Departure Scan (InTransit_007)"


def test_delivered_has_its_delivery_time_and_checkpoints_newest_first(env):
    order = only_order(f"delivered@{DOMAIN}")

    assert order.status == "delivered"
    assert order.actual_delivery is not None and order.actual_delivery.startswith(day(-1))
    assert order.estimated_delivery is None  # nothing left on its way
    [parcel] = order.shipments
    assert parcel.tracking_url == "https://www.fedex.com/fedextrack/?trknbr=770000001004"
    times = [event.occurred_at for event in parcel.events]
    assert times == sorted(times, reverse=True) and len(times) >= 3
    assert parcel.events[0].status == "delivered"
    assert parcel.events[0].location == "Chicago, IL, US"


@pytest.mark.parametrize(
    ("who", "detail", "carrier_status"),
    [
        ("exception", "Incorrect Address (Exception_007)", "Exception"),
        ("lost", "Shipment lost (Exception_013)", "Exception"),
        ("attempt-failed", "Failed Attempt (AttemptFail_001)", "AttemptFail"),
    ],
)
def test_problems_are_exceptions_that_keep_the_subtag(env, who, detail, carrier_status):
    order = only_order(f"{who}@{DOMAIN}")

    assert order.status == "exception"
    [parcel] = order.shipments
    assert (parcel.status, parcel.status_detail, parcel.carrier_status) == (
        "exception",
        detail,
        carrier_status,
    )


def test_several_orders_are_grouped_by_order_and_newest_first(env):
    orders = get_aftership_orders(f"several.orders@{DOMAIN}")

    assert [(o.id, o.status) for o in orders] == [
        ("AS-1012", "in_transit"),
        ("AS-1011", "in_transit"),
        ("AS-1010", "delivered"),
    ]
    split, out_for_delivery, old = orders
    assert sorted(s.carrier_status for s in split.shipments) == ["AvailableForPickup", "InTransit"]
    assert split.estimated_delivery == day(3)  # the later of the two parcels' estimates
    assert out_for_delivery.estimated_delivery == day(0)  # aftership_estimated_delivery_date
    assert old.shipments[0].estimated_delivery == day(-34)  # legacy expected_delivery
    assert old.actual_delivery is not None and old.actual_delivery.startswith(day(-33))


def test_email_match_ignores_case_and_unknown_customers_have_no_orders(env):
    assert only_order("  Delivered@AfterShip.Example ").id == "AS-1004"
    assert get_aftership_orders(f"no-orders@{DOMAIN}") == []
    assert get_aftership_orders("") == []
    assert get_aftership_orders("not an email") == []


def test_a_loose_keyword_match_never_leaks_other_customers_orders(env):
    # "transit.late@aftership.example" is a substring of in-transit.late's email, so AfterShip's keyword
    # search returns that customer's parcel; it must not be reported as this (unknown) customer's order.
    assert get_aftership_orders(f"transit.late@{DOMAIN}") == []


def test_order_details_by_order_id_or_quoted_order_number(env):
    by_id = aftership_order_details("AS-1012")
    by_number = aftership_order_details(" #as-1012 ")

    assert by_id is not None and by_id == by_number
    assert len(by_id.shipments) == 2
    assert aftership_order_details("AS-9999") is None
    assert aftership_order_details("") is None


def test_tools_are_registered_read_only_and_return_json(env):
    registry = load_all_tools()

    result = registry.invoke("@GetAfterShipOrders", {"email": f"lost@{DOMAIN}"})

    assert result[0]["status"] == "exception"
    assert result[0]["shipments"][0]["status_detail"] == "Shipment lost (Exception_013)"
    details = registry.resolve("@aftershiporderdetails")
    assert details is not None and not details.writes and details.platform == PLATFORM
    assert details.configured(env)
    assert not details.configured({})


def test_rate_limit_with_a_short_reset_is_waited_out(env, sandbox_api):
    inject(sandbox_api, status=429, retry_after=0)

    assert only_order(f"delivered@{DOMAIN}").status == "delivered"
    assert served_faults(sandbox_api) == [429]


def test_rate_limit_with_a_long_reset_is_handed_back_with_its_wait(env, sandbox_api):
    inject(sandbox_api, status=429, retry_after=600)

    with pytest.raises(RateLimited) as caught:
        get_aftership_orders(f"delivered@{DOMAIN}")

    assert 590 <= caught.value.retry_after <= 601  # X-RateLimit-Reset is an epoch time
    assert served_faults(sandbox_api) == [429]  # not slept through, not hammered


def test_wrong_api_key_is_an_auth_failure(env, monkeypatch):
    monkeypatch.setenv("AFTERSHIP_API_KEY", "not-the-key")

    with pytest.raises(AuthFailed) as caught:
        get_aftership_orders(f"delivered@{DOMAIN}")

    assert caught.value.status == 401
    assert "Invalid API key" in caught.value.detail


def test_tracking_that_does_not_exist_4004_is_none(env, sandbox_api):
    inject(sandbox_api, status=404, path_contains="/trackings", count=2)  # meta.code 4004, both lookups

    assert aftership_order_details("AS-1004") is None


def test_sandbox_answers_a_missing_tracking_with_meta_4004(env, sandbox_api):
    response = sandbox_api.get(
        f"{env['AFTERSHIP_BASE_URL']}/trackings/0123456789abcdef0123456789abcdef",
        headers={"as-api-key": env["AFTERSHIP_API_KEY"]},
    )

    assert response.status_code == 404
    assert response.json()["meta"] == {
        "code": 4004,
        "message": "Tracking does not exist.",
        "type": "NotFound",
    }
    assert int(response.headers["X-RateLimit-Reset"]) > 1e9
