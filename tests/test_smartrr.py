"""Smartrr tools against the sandbox over real HTTPS: what a skip/pause conversation reads and does."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import sandbox_calls

from connectors.errors import AuthFailed, NotFound, OutcomeUnknown, Rejected
from connectors.models import Subscription
from connectors.smartrr import (
    get_smartrr_account_details,
    get_smartrr_subscription,
    pause_smartrr_subscription,
    skip_smartrr_next_delivery,
    smartrr_order_details,
    to_subscription,
    unskip_smartrr_next_delivery,
)
from connectors.tools import load_all_tools

PLATFORM = "smartrr"
DOMAIN = "smartrr.example"


@pytest.fixture
def env(sandbox, sandbox_api, monkeypatch) -> dict[str, str]:
    """This process configured for the sandbox (reset for each test), as a deployment would be."""
    values = sandbox.env()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def month_after(iso: str) -> str:
    start = date.fromisoformat(iso)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1])).isoformat()


inject = partial(sandbox_calls.inject, platform=PLATFORM)
log = partial(sandbox_calls.log, platform=PLATFORM)


def writes(api: requests.Session) -> list[dict[str, Any]]:
    return [row for row in log(api) if "fault" not in row]


def served_faults(api: requests.Session) -> list[int]:
    return [row["fault"] for row in log(api) if "fault" in row]


def account(customer: str) -> tuple[str | None, list[Subscription]]:
    found = get_smartrr_account_details(f"{customer}@{DOMAIN}")
    assert found is not None
    return found["customer"].email, found["subscriptions"]


# ---- reading -------------------------------------------------------------------------------------


def test_one_active_subscription(env):
    email, [sub] = account("one.active")

    assert email == f"one.active@{DOMAIN}"
    assert (sub.id, sub.status, sub.next_delivery, sub.frequency) == (
        "9100000001",
        "active",
        day(5),
        "every 4 weeks",
    )
    assert sub.products == ("Morning Blend Coffee",)
    assert sub.customer_email == email and sub.skipped_dates == ()


def test_two_active_subscriptions_soonest_first(env):
    _, subs = account("two.active")

    assert [(s.id, s.status, s.next_delivery, s.frequency) for s in subs] == [
        ("9100000003", "active", day(3), "every 2 weeks"),
        ("9100000002", "active", day(10), "every month"),
    ]
    assert [s.items[0].quantity for s in subs] == [1, 2]


def test_paused_and_cancelled_subscriptions(env):
    _, [paused] = account("paused")
    _, [cancelled] = account("cancelled")

    assert (paused.status, paused.platform_status, paused.next_delivery) == ("paused", "PAUSED", day(20))
    assert (cancelled.status, cancelled.next_delivery) == ("cancelled", None)


def test_customer_without_subscriptions_and_unknown_customers(env):
    found = get_smartrr_account_details(f"No.Subscriptions@{DOMAIN} ")

    assert found is not None and found["subscriptions"] == []
    assert found["customer"].name == "Nora Nosub"
    assert get_smartrr_account_details(f"nobody@{DOMAIN}") is None
    assert get_smartrr_account_details("not an email") is None
    assert get_smartrr_account_details("") is None


def test_customer_is_found_through_orders_when_the_email_filter_is_refused(env, sandbox_api):
    inject(sandbox_api, status=400, count=1, path_contains="customer-relationship")

    email, [sub] = account("one.active")

    assert email == f"one.active@{DOMAIN}" and sub.id == "9100000001"
    assert served_faults(sandbox_api) == [400]


def test_subscription_lookup_by_id_or_gid_and_misses_are_none(env):
    sub = get_smartrr_subscription("9100000004")

    assert sub is not None and sub.status == "paused"
    assert get_smartrr_subscription("gid://shopify/SubscriptionContract/9100000004") == sub
    assert get_smartrr_subscription("9999999999") is None
    assert get_smartrr_subscription("../customer-relationship") is None
    assert get_smartrr_subscription("") is None


def test_order_details_by_name_or_shopify_id(env):
    order = smartrr_order_details("#2003")

    assert order is not None
    assert (order.id, order.number, order.status) == ("560000002003", "#2003", "pending_shipment")
    assert order.email == f"two.active@{DOMAIN}"
    assert [(i.name, i.quantity) for i in order.items] == [("Oat Milk Creamer 32oz", 1)]
    shipped = smartrr_order_details("560000002001")
    assert shipped is not None and (shipped.number, shipped.status) == ("#2001", "shipped")
    assert smartrr_order_details("2004") == smartrr_order_details("#2004")
    assert smartrr_order_details("#9999") is None
    assert smartrr_order_details("560000009999") is None
    assert smartrr_order_details("") is None


# ---- writing -------------------------------------------------------------------------------------


def test_skip_moves_the_next_delivery_one_period_and_shows_on_the_subscription(env, sandbox_api):
    updated = skip_smartrr_next_delivery("9100000001")

    assert (updated.next_delivery, updated.skipped_dates) == (day(5 + 28), (day(5),))
    assert get_smartrr_subscription("9100000001") == updated  # what the ledger reconciles with
    [write] = writes(sandbox_api)
    assert (write["method"], write["action"], write["subscription"]) == ("PUT", "skip", "9100000001")


def test_skip_of_a_monthly_subscription_moves_it_a_month(env, sandbox_api):
    updated = skip_smartrr_next_delivery("9100000002")

    assert updated.next_delivery == month_after(day(10))
    _, subs = account("two.active")
    assert {s.id: s.next_delivery for s in subs}["9100000003"] == day(3)  # the other one is untouched
    assert len(writes(sandbox_api)) == 1


def test_unskip_restores_the_skipped_delivery(env, sandbox_api):
    skip_smartrr_next_delivery("9100000003")

    restored = unskip_smartrr_next_delivery("9100000003")

    assert (restored.next_delivery, restored.skipped_dates) == (day(3), ())
    assert [w["action"] for w in writes(sandbox_api)] == ["skip", "unskip"]


def test_unskip_without_a_skip_and_skip_of_inactive_subscriptions_are_refused(env, sandbox_api):
    with pytest.raises(Rejected):
        unskip_smartrr_next_delivery("9100000001")
    with pytest.raises(Rejected):
        skip_smartrr_next_delivery("9100000004")  # paused
    with pytest.raises(Rejected):
        skip_smartrr_next_delivery("9100000005")  # cancelled
    with pytest.raises(NotFound):
        skip_smartrr_next_delivery("9999999999")

    assert writes(sandbox_api) == []
    sub = get_smartrr_subscription("9100000004")
    assert sub is not None and sub.next_delivery == day(20)


def test_pause_stops_an_active_subscription_once(env, sandbox_api):
    paused = pause_smartrr_subscription("9100000001")

    assert paused.status == "paused"
    assert pause_smartrr_subscription("9100000001").status == "paused"  # again: nothing changes
    [write] = writes(sandbox_api)
    assert write["action"] == "pause"
    with pytest.raises(Rejected):
        pause_smartrr_subscription("9100000005")


def test_a_failed_skip_is_never_repeated(env, sandbox_api):
    inject(sandbox_api, status=503, count=1, method="PUT")

    with pytest.raises(OutcomeUnknown):
        skip_smartrr_next_delivery("9100000001")

    assert served_faults(sandbox_api) == [503]
    sub = get_smartrr_subscription("9100000001")
    assert sub is not None and sub.skipped_dates == ()


# ---- limits and auth -----------------------------------------------------------------------------


def test_rate_limited_then_success(env, sandbox_api):
    inject(sandbox_api, status=429, count=1)

    email, [sub] = account("one.active")

    assert sub.status == "active"
    assert served_faults(sandbox_api) == [429]


def test_throttled_skip_is_retried_and_skips_exactly_once(env, sandbox_api):
    inject(sandbox_api, status=429, count=1, method="PUT")

    updated = skip_smartrr_next_delivery("9100000001")

    assert updated.skipped_dates == (day(5),)
    assert served_faults(sandbox_api) == [429]
    assert len(writes(sandbox_api)) == 1


def test_wrong_token_is_auth_failed(env, monkeypatch):
    monkeypatch.setenv("SMARTRR_API_TOKEN", "wrong")

    with pytest.raises(AuthFailed):
        get_smartrr_account_details(f"one.active@{DOMAIN}")


def test_tools_are_registered_with_their_guards(env):
    registry = load_all_tools()

    for name in ("skip_smartrr_next_delivery", "unskip_smartrr_next_delivery", "pause_smartrr_subscription"):
        found = registry.resolve(name)
        assert found is not None and found.writes
        assert set(found.guards) == {"verified_customer", "owns_subscription", "confirmed"}
    for name in ("@GetSmartrrAccountDetails", "get_smartrr_subscription", "smartrrorderdetails"):
        found = registry.resolve(name)
        assert found is not None and not found.writes and found.configured()
    details = registry.invoke("@getsmartrraccountdetails", {"email": f"one.active@{DOMAIN}"})
    assert details["subscriptions"][0]["next_delivery"] == day(5)
    assert details["customer"]["email"] == f"one.active@{DOMAIN}"


def test_the_sandbox_refuses_bad_paging_and_unknown_filters_without_server_errors(env, sandbox_api):
    url = f"{env['SMARTRR_BASE_URL']}/vendor/customer-relationship"
    headers = {"x-smartrr-access-token": env["SMARTRR_API_TOKEN"]}

    for params in ({"pageSize": "many"}, {"pageSize": "0"}, {"filterEquals[password]": "x"}):
        answer = sandbox_api.get(url, headers=headers, params=params, timeout=10)
        assert answer.status_code == 400 and answer.json()["statusCode"] == 400
    assert sandbox_api.get(url, timeout=10).status_code == 401


# ---- what no Smartrr source establishes: each reading the sandbox can play ------------------------


@pytest.mark.parametrize("email_filter", ["honoured", "ignored", "refused"])
@pytest.mark.parametrize("page_envelope", ["object", "list"])
def test_a_customer_without_orders_is_found_in_a_big_shop_whatever_the_email_filter_does(
    env, sandbox_api, email_filter, page_envelope
):
    sandbox_calls.choose_reading(sandbox_api, PLATFORM, "email_filter", email_filter)
    sandbox_calls.choose_reading(sandbox_api, PLATFORM, "page_envelope", page_envelope)
    sandbox_calls.backfill(sandbox_api, PLATFORM, count=300)  # newer customers fill the first pages

    email, [paused] = account("paused")  # paused has no orders: the order search cannot find them

    assert (email, paused.id, paused.status) == (f"paused@{DOMAIN}", "9100000004", "paused")
    assert get_smartrr_account_details(f"nobody@{DOMAIN}") is None


@pytest.mark.parametrize("skipped_field", ["skippedDates", "skippedBillingDates"])
def test_a_skip_shows_on_the_subscription_whatever_the_skipped_dates_are_called(
    env, sandbox_api, skipped_field
):
    sandbox_calls.choose_reading(sandbox_api, PLATFORM, "skipped_field", skipped_field)
    before = get_smartrr_subscription("9100000001")

    skipped = skip_smartrr_next_delivery("9100000001")

    assert skipped.skipped_dates == (before.next_delivery,)
    assert get_smartrr_subscription("9100000001").skipped_dates == (before.next_delivery,)


def test_a_purchase_state_in_the_shape_independent_clients_read():
    raw = json.loads((Path(__file__).parent / "fixtures" / "smartrr" / "purchase_state.json").read_text())

    subscription = to_subscription(raw)

    assert (subscription.id, subscription.status, subscription.next_delivery) == (
        "gid://shopify/SubscriptionContract/9377001",
        "active",
        "2025-04-02",
    )
    assert subscription.customer_email == "mira.sol@example.org"
    assert subscription.skipped_dates == ("2025-03-05",)
    assert subscription.items[0].quantity == 2 and subscription.items[0].sku == "TEA-GREEN-50"
