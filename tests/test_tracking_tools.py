"""@get_tracking_info: one question, answered by whichever tracker the store has configured."""

from __future__ import annotations

import pytest

from connectors.errors import NotConfigured
from connectors.models import Order, Shipment
from connectors.parcels import summarize
from connectors.tools import load_all_tools
from connectors.tracking import chosen_tracker, get_tracking_info

AFTERSHIP_VARS = ("AFTERSHIP_API_KEY", "AFTERSHIP_BASE_URL")
SHIPENGINE_VARS = ("SHIPENGINE_API_KEY", "SHIPENGINE_BASE_URL")
SHIPSTATION_VARS = ("SHIPSTATION_API_KEY", "SHIPSTATION_API_SECRET", "SHIPSTATION_BASE_URL")


@pytest.fixture
def env(sandbox, sandbox_api, monkeypatch) -> dict[str, str]:
    values = sandbox.env()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POLICYDESK_TRACKER", raising=False)
    return values


def without(env: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def test_aftership_is_the_default_when_both_trackers_are_configured(env):
    info = get_tracking_info("AS-1003")

    assert isinstance(info, Order)
    assert (info.platform, info.status) == ("aftership", "in_transit")


def test_policydesk_tracker_selects_shipengine(env, monkeypatch):
    monkeypatch.setenv("POLICYDESK_TRACKER", "ShipEngine")

    info = get_tracking_info("SS-1014")

    assert isinstance(info, Order)
    assert (info.platform, info.status) == ("shipengine", "exception")
    assert info.shipments[0].status_detail == "Package lost in transit (PARCEL_LOST)"


def test_the_only_configured_tracker_is_used_whatever_the_setting(env, monkeypatch):
    for name in AFTERSHIP_VARS:
        monkeypatch.delenv(name)
    monkeypatch.setenv("POLICYDESK_TRACKER", "aftership")

    info = get_tracking_info("#SS-1009")

    assert isinstance(info, Order) and info.status == "delivered"


def test_a_tracking_number_returns_the_parcel(env, monkeypatch):
    parcel = get_tracking_info("9400111200000000001006")

    assert isinstance(parcel, Shipment)
    assert (parcel.status, parcel.status_detail) == ("exception", "Shipment lost (Exception_013)")

    monkeypatch.setenv("POLICYDESK_TRACKER", "shipengine")
    parcel = get_tracking_info("771000001008")

    assert isinstance(parcel, Shipment)
    assert (parcel.carrier, parcel.status, parcel.carrier_status) == ("fedex", "in_transit", "AT")


@pytest.mark.parametrize("tracker", ["aftership", "shipengine"])
def test_nothing_matching_is_none(env, monkeypatch, tracker):
    monkeypatch.setenv("POLICYDESK_TRACKER", tracker)

    assert get_tracking_info("NO-SUCH-ORDER-42") is None
    assert get_tracking_info("   ") is None


def test_choice_of_tracker_from_the_environment(env):
    assert chosen_tracker(env) == "aftership"
    assert chosen_tracker({**env, "POLICYDESK_TRACKER": "shipengine"}) == "shipengine"
    assert chosen_tracker({**env, "POLICYDESK_TRACKER": "fedex"}) == "aftership"
    assert chosen_tracker(without(env, AFTERSHIP_VARS)) == "shipengine"
    assert chosen_tracker(without(env, SHIPSTATION_VARS)) == "aftership"  # ShipEngine alone has no orders
    assert chosen_tracker(without(env, AFTERSHIP_VARS + SHIPENGINE_VARS)) is None


def test_tool_is_off_without_any_tracker_and_says_so(env, monkeypatch):
    tool = load_all_tools().resolve("@GetTrackingInfo")
    assert tool is not None and tool.platform == "tracking" and not tool.writes
    assert tool.configured(env)
    assert not tool.configured(without(env, AFTERSHIP_VARS + SHIPENGINE_VARS))

    for name in AFTERSHIP_VARS + SHIPENGINE_VARS:
        monkeypatch.delenv(name)
    with pytest.raises(NotConfigured):
        get_tracking_info("AS-1003")


def test_registry_returns_json_for_either_answer(env):
    registry = load_all_tools()

    order = registry.invoke("get_tracking_info", {"order_id_or_tracking_number": "AS-1004"})
    parcel = registry.invoke("get_tracking_info", {"order_id_or_tracking_number": "770000001004"})

    assert order["status"] == "delivered" and order["shipments"][0]["tracking_number"] == "770000001004"
    assert parcel["status"] == "delivered" and "shipments" not in parcel


def test_an_order_is_as_far_along_as_its_slowest_parcel_and_any_problem_wins():
    delivered = Shipment("A", status="delivered", actual_delivery="2026-03-02T10:00:00Z")
    moving = Shipment("B", status="in_transit", estimated_delivery="2026-03-05")
    lost = Shipment("C", status="exception")

    assert summarize([]) is None
    mixed = summarize([delivered, moving])
    assert mixed is not None
    assert (mixed.status, mixed.estimated_delivery, mixed.actual_delivery) == (
        "in_transit",
        "2026-03-05",
        None,
    )
    trouble = summarize([delivered, lost])
    assert trouble is not None and trouble.status == "exception"
    done = summarize([delivered, Shipment("D", status="delivered", actual_delivery="2026-03-04")])
    assert done is not None and (done.status, done.actual_delivery) == ("delivered", "2026-03-04")
