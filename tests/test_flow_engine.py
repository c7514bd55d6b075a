"""The deterministic flow engine on the WISMO policies: every branch, multi-turn, replays after a crash.

The port below is a real implementation of PolicyPort (the worker's contract): it calls tools through
a ToolRegistry and records each action under its step key the way the worker's action ledger does,
so a replay from the same saved state performs nothing twice. The first tests use a registry of
small in-memory shop functions under the real tool names; the last ones run the library policies
against the real connectors and the HTTPS sandbox.
"""

from __future__ import annotations

import importlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from recording_port import RecordingPort

from connectors.errors import AuthFailed, PlatformUnavailable
from connectors.tools import REGISTRY, ToolRegistry
from policies.document.library import PolicyLibrary
from policies.engines.flow import FlowEngine
from policies.engines.runtime import PolicyPort, PolicyState

ADDRESS = {"street_1": "1 Main St", "city": "Austin", "state": "TX", "zip": "78701", "country": "US"}


def order(number: str, status: str, **extra: Any) -> dict[str, Any]:
    shipments = extra.pop("shipments", [])
    return {
        "id": f"id-{number}",
        "number": number,
        "status": status,
        "created_at": "2025-03-01",
        "ship_date": None,
        "estimated_delivery": None,
        "actual_delivery": None,
        "shipments": shipments,
        "shipping_address": None,
        "items": [],
        **extra,
    }


TRACK = [
    {
        "tracking_number": "1Z1",
        "tracking_url": "https://track.example/1Z1",
        "status_detail": "Lost in transit",
    }
]
SHOP: dict[str, list[dict[str, Any]]] = {
    "approved@shop.example": [order("2001", "approved")],
    "processing@shop.example": [order("2002", "processing")],
    "pending@shop.example": [order("2003", "pending_shipment", ship_date="2025-03-11")],
    "shipped@shop.example": [order("2004", "shipped", shipments=TRACK)],
    "ontime@shop.example": [
        order("2005", "in_transit", estimated_delivery="2025-03-12T00:00:00Z", shipments=TRACK)
    ],
    "late@shop.example": [order("2006", "in_transit", estimated_delivery="2025-03-07", shipments=TRACK)],
    "delivered@shop.example": [
        order(
            "2007",
            "delivered",
            actual_delivery="2025-03-09T15:00:00Z",
            shipping_address=ADDRESS,
            shipments=TRACK,
        )
    ],
    "canceled@shop.example": [order("2008", "canceled")],
    "lost@shop.example": [order("2009", "exception", shipments=TRACK)],
    "several@shop.example": [
        order(
            "1050",
            "delivered",
            created_at="2025-04-02",
            actual_delivery="2025-04-05",
            shipping_address=ADDRESS,
        ),
        order(
            "1043",
            "in_transit",
            created_at="2025-03-02",
            estimated_delivery="2025-03-12",
            shipments=TRACK,
            items=[{"name": "Blue Mug", "quantity": 1}],
        ),
        order("1041", "shipped", created_at="2025-01-14", shipments=TRACK),
    ],
    "broken@shop.example": [order("AUTH", "shipped"), order("DOWN", "shipped")],
    "none@shop.example": [],
}


def shop_registry() -> ToolRegistry:
    """Small real tools under the names the library's WISMO policies call."""
    registry = ToolRegistry()

    def get_helpdesk_account_details(email: str, helpdesk: str) -> dict[str, Any] | None:
        """The customer's account on the ticket's helpdesk."""
        assert helpdesk == "salesforce"  # filled from $ticket.helpdesk, never written by the policy
        return {"id": "003X", "email": email, "name": "Jane Doe"} if email in SHOP else None

    def get_aftership_orders(email: str) -> list[dict[str, Any]]:
        """The customer's orders, newest first."""
        return SHOP.get(email, [])

    def aftership_order_details(order_id: str) -> dict[str, Any] | None:
        """One order by id."""
        if order_id == "id-AUTH":
            raise AuthFailed("aftership", "invalid API key", status=401)
        if order_id == "id-DOWN":
            raise PlatformUnavailable("aftership", "timeout")
        return next((o for orders in SHOP.values() for o in orders if o["id"] == order_id), None)

    registry.register(
        get_helpdesk_account_details, platform="helpdesk", from_context={"helpdesk": "ticket.helpdesk"}
    )
    registry.register(get_aftership_orders, platform="aftership")
    registry.register(aftership_order_details, platform="aftership")
    return registry


def context(email: str | None = None, text: str = "Where is my order?", **facts: Any) -> dict[str, Any]:
    return {
        "customer": {"email": email, "name": "Jane Doe"},
        "ticket": {"id": "500X", "subject": "Where is my order", "text": text, "helpdesk": "salesforce"},
        "brand": {"name": "Acme"},
        "facts": facts,
    }


POLICY = "wismo-salesforce-aftership"


@pytest.fixture(scope="module")
def library() -> PolicyLibrary:
    return PolicyLibrary.load()


@pytest.fixture
def engine(library: PolicyLibrary) -> FlowEngine:
    return FlowEngine(library, shop_registry())


@pytest.fixture
def port() -> RecordingPort:
    return RecordingPort(shop_registry())


def test_the_test_port_implements_the_protocol(port: RecordingPort) -> None:
    assert isinstance(port, PolicyPort)


@pytest.mark.parametrize(
    ("email", "status", "says", "handoff_reason"),
    [
        ("approved@shop.example", "resolved", "order 2001 is confirmed", None),
        ("processing@shop.example", "resolved", "being prepared", None),
        ("pending@shop.example", "resolved", "due to ship on March 11, 2025", None),
        ("shipped@shop.example", "resolved", "https://track.example/1Z1", None),
        ("ontime@shop.example", "resolved", "should arrive by March 12, 2025", None),
        ("late@shop.example", "handed_off", "expected by March 7, 2025 and is running late", "late parcel"),
        (
            "delivered@shop.example",
            "waiting",
            "delivered on March 9, 2025 to 1 Main St, Austin, TX, 78701",
            None,
        ),
        ("canceled@shop.example", "resolved", "was canceled", None),
        (
            "lost@shop.example",
            "handed_off",
            "carrier reports a problem",
            "carrier exception on order 2009: Lost",
        ),
    ],
)
def test_every_wismo_status_gets_its_answer(
    engine: FlowEngine, port: RecordingPort, email: str, status: str, says: str, handoff_reason: str | None
) -> None:
    state = engine.start(PolicyState(), POLICY, context(email), port)
    assert state.status == status
    assert len(port.replies) == 1
    assert says in port.replies[0]
    assert "$" not in port.replies[0]
    if handoff_reason:
        assert len(port.handoffs) == 1
        assert port.handoffs[0].reason.startswith(handoff_reason)
        assert port.handoffs[0].wants.startswith("Customer asks where their order is")
        assert "@aftership_order_details" in port.handoffs[0].checked
    else:
        assert port.handoffs == []
    assert bool(port.resolved) == (status == "resolved")


def test_delivered_confirmed_by_the_customer_is_resolved(engine: FlowEngine, port: RecordingPort) -> None:
    state = engine.start(PolicyState(), POLICY, context("delivered@shop.example"), port)
    assert state.waiting_for == "received"
    state = engine.resume(state, "Yep, got it, thanks!", context("delivered@shop.example"), port)
    assert state.status == "resolved"
    assert port.replies[-1].startswith("Wonderful")


def test_delivered_but_disputed_is_handed_off_as_not_received(
    engine: FlowEngine, port: RecordingPort
) -> None:
    state = engine.start(PolicyState(), POLICY, context("delivered@shop.example"), port)
    state = engine.resume(
        state, "No, I never got it. Nothing at my door.", context("delivered@shop.example"), port
    )
    assert state.status == "handed_off"
    assert port.handoffs[0].reason.startswith("not received")
    assert "hasn't reached you" in port.replies[-1]


def test_an_email_typed_by_an_unidentified_customer_unlocks_nothing(
    engine: FlowEngine, port: RecordingPort
) -> None:
    """With no requester the helpdesk knows and no proven email, the flow may ask for an address, but
    nothing of the account it names is read: the guards refuse, and a person takes the ticket. (The
    worker proves such a customer's email before a policy runs: worker.identity.)"""
    state = engine.start(PolicyState(), POLICY, context(None), port)
    assert state.status == "waiting" and state.waiting_for == "email"
    assert port.replies == [port.replies[0]] and "email address" in port.replies[0]
    assert port.replies[0].startswith("Hi Jane,")
    assert port.tools_called == []
    state = engine.resume(state, "Sure, it's Shipped@Shop.example", context(None), port)
    assert port.tools_called == []  # the account is not even looked up
    assert port.replies[-1].startswith("I couldn't find an account")  # as for an unknown address
    assert "https://track.example/1Z1" not in "".join(port.replies)


def test_email_not_found_is_asked_once_more_then_handed_off(engine: FlowEngine, port: RecordingPort) -> None:
    state = engine.start(PolicyState(), POLICY, context("typo@shop.example"), port)
    assert state.status == "waiting"
    assert port.replies[-1].startswith("I couldn't find an account")
    state = engine.resume(state, "try other@nowhere.example", context("typo@shop.example"), port)
    assert state.status == "handed_off"
    # another email than the requester's is never looked up
    assert port.handoffs[0].reason.startswith("could not verify the customer")
    assert port.tools_called == ["get_helpdesk_account_details"]
    assert "typo@" not in port.handoffs[0].checked  # no email addresses in the agent note summary


def test_an_email_other_than_the_requesters_is_not_read(engine: FlowEngine, port: RecordingPort) -> None:
    """The requester asks about another address: that account is not read (it would be anyone's)."""
    state = engine.start(PolicyState(), POLICY, context("typo@shop.example"), port)
    state = engine.resume(state, "oops, it is canceled@shop.example", context("typo@shop.example"), port)
    assert state.status == "handed_off" and port.tools_called == ["get_helpdesk_account_details"]
    assert not any("was canceled" in reply for reply in port.replies)


def test_asked_twice_without_an_answer_hands_off(engine: FlowEngine, port: RecordingPort) -> None:
    state = engine.start(PolicyState(), POLICY, context(None), port)
    state = engine.resume(state, "why do you need that??", context(None), port)
    assert state.status == "waiting"
    assert len(port.replies) == 2  # asked, then asked again
    state = engine.resume(state, "just tell me where my parcel is", context(None), port)
    assert state.status == "handed_off"
    assert port.handoffs[0].reason.startswith("could not verify")
    assert port.replies[-1].startswith("Thanks for your patience")


def test_several_orders_are_listed_and_the_choice_comes_later(
    engine: FlowEngine, port: RecordingPort
) -> None:
    ctx = context("several@shop.example")
    state = engine.start(PolicyState(), POLICY, ctx, port)
    assert state.waiting_for == "chosen"
    listing = port.replies[-1]
    assert "1. 1050, ordered April 2, 2025" in listing and "3. 1041, ordered January 14, 2025" in listing
    state = engine.resume(state, "the second one please", ctx, port)
    assert state.status == "resolved"
    assert "Order 1043 is in transit" in port.replies[-1]


def test_an_unclear_choice_is_asked_again_then_understood(engine: FlowEngine, port: RecordingPort) -> None:
    ctx = context("several@shop.example")
    state = engine.start(PolicyState(), POLICY, ctx, port)
    state = engine.resume(state, "the one I ordered", ctx, port)
    assert state.status == "waiting"
    assert port.replies[-1].startswith("Sorry, I didn't catch which order")
    state = engine.resume(state, "the blue mug", ctx, port)
    assert state.status == "resolved"
    assert "1043" in port.replies[-1]


def test_known_facts_are_not_asked_again(engine: FlowEngine, port: RecordingPort) -> None:
    # The requester's email is known and the first message names the order: no questions at all.
    ctx = context("several@shop.example", text="Hi, where is order #1041?")
    state = engine.start(PolicyState(), POLICY, ctx, port)
    assert state.status == "resolved"
    assert len(port.replies) == 1 and "1041" in port.replies[0]
    # The classifier's facts work the same way.
    port2 = RecordingPort(shop_registry())
    state = engine.start(PolicyState(), POLICY, context("several@shop.example", order_number="1043"), port2)
    assert state.status == "resolved" and "1043" in port2.replies[0]


def test_an_email_in_the_first_message_is_used_once_proven(engine: FlowEngine, port: RecordingPort) -> None:
    ctx = context(None, text="My order under processing@shop.example has not shipped")
    state = engine.start(PolicyState(), POLICY, ctx, port)
    assert state.status == "waiting" and port.tools_called == []  # typed, not proven: nothing read
    proven = context("processing@shop.example", text="My order under processing@shop.example has not shipped")
    port = RecordingPort(port.registry)
    state = engine.start(PolicyState(), POLICY, proven, port)
    assert state.status == "resolved"
    assert "being prepared" in port.replies[0]


def test_no_orders_hands_off(engine: FlowEngine, port: RecordingPort) -> None:
    state = engine.start(PolicyState(), POLICY, context("none@shop.example"), port)
    assert state.status == "handed_off"
    assert port.handoffs[0].reason == "no AfterShip orders for the verified customer"


def test_a_platform_error_hands_off_and_a_retryable_one_propagates(
    engine: FlowEngine, port: RecordingPort
) -> None:
    ctx = context("broken@shop.example")
    saved = engine.start(PolicyState(), POLICY, ctx, port)
    before = saved.to_dict()
    state = engine.resume(saved, "AUTH", ctx, port)
    assert state.status == "handed_off"
    assert "@aftership_order_details failed: aftership: invalid API key (HTTP 401)" in port.handoffs[0].reason
    with pytest.raises(PlatformUnavailable):
        engine.resume(saved, "DOWN", ctx, RecordingPort(shop_registry()))
    assert saved.to_dict() == before  # the saved state is never changed in place


def test_replay_from_the_same_saved_state_repeats_the_same_keys_and_acts_once(engine: FlowEngine) -> None:
    ctx = context("several@shop.example")
    first = RecordingPort(shop_registry())
    saved = engine.start(PolicyState(), POLICY, ctx, first)
    stored = json.loads(json.dumps(saved.to_dict()))  # what the worker keeps in Redis

    run1 = RecordingPort(shop_registry(), ledger=first.ledger)
    done1 = engine.resume(PolicyState.from_dict(stored), "1043", ctx, run1)
    # The worker crashed before saving: the task runs again from the same stored state.
    run2 = RecordingPort(shop_registry(), ledger=first.ledger)
    done2 = engine.resume(PolicyState.from_dict(stored), "1043", ctx, run2)

    assert run1.requested == run2.requested
    assert run1.requested == [
        f"{POLICY}/details/1|tool:aftership_order_details",
        f"{POLICY}/on_time/1|reply",
        f"{POLICY}/on_time/1|resolve",
    ]
    assert done1.to_dict() == done2.to_dict()
    assert len(run1.replies) == 1 and run2.replies == [] and run2.tools_called == []


def test_state_round_trips_through_json(engine: FlowEngine, port: RecordingPort) -> None:
    state = engine.start(PolicyState(), POLICY, context("delivered@shop.example"), port)
    data = json.loads(json.dumps(state.to_dict()))
    again = PolicyState.from_dict(data)
    assert again.to_dict() == state.to_dict()
    assert again.policy_stack == [POLICY] and again.cursor == "delivered"
    assert PolicyState.from_dict({"status": "bogus", "stack": [{"nope": 1}]}).status == "active"


def test_a_finished_conversation_does_nothing(engine: FlowEngine, port: RecordingPort) -> None:
    state = engine.start(PolicyState(), POLICY, context("canceled@shop.example"), port)
    later = RecordingPort(shop_registry())
    assert engine.resume(state, "thanks!", context("canceled@shop.example"), later).status == "resolved"
    assert later.requested == []


def test_a_stale_saved_cursor_hands_off(engine: FlowEngine, port: RecordingPort) -> None:
    stale = PolicyState.from_dict({"stack": [{"policy": POLICY, "step": "renamed"}], "status": "waiting"})
    state = engine.resume(stale, "yes", context("x@shop.example"), port)
    assert state.status == "handed_off"
    assert "step 'renamed' does not exist" in port.handoffs[0].reason


def test_an_unknown_policy_hands_off(engine: FlowEngine, port: RecordingPort) -> None:
    state = engine.start(PolicyState(), "no-such-policy", context("x@shop.example"), port)
    assert state.status == "handed_off"
    assert "cannot run" in port.handoffs[0].reason


# -- flow vocabulary on small policies --------------------------------------------------------------


def small_policy(folder: Path, policy_id: str, flow: str, macros: str = "", guards: str = "") -> None:
    (folder / f"{policy_id}.md").write_text(
        f"---\nid: {policy_id}\ntitle: {policy_id.title()}\nhandles: [other]\nengine: flow\n{guards}---\n"
        f"## Macros\n\n### hello\nHello from {policy_id}.\n{macros}\n## Flow\n\n```yaml\n{flow}```\n"
    )


def test_policy_steps_push_and_return(tmp_path: Path) -> None:
    small_policy(
        tmp_path,
        "outer",
        '- id: a\n  reply: hello\n- id: b\n  policy: "#Inner"\n- id: c\n  end: resolved\n  macro: bye\n',
        macros="\n### bye\nBye from outer.\n",
    )
    small_policy(tmp_path, "inner", "- id: x\n  reply: hello\n- id: y\n  end: resolved\n")
    engine = FlowEngine(PolicyLibrary.load([tmp_path]), ToolRegistry())
    port = RecordingPort(ToolRegistry())
    state = engine.start(PolicyState(), "outer", context(), port)
    assert port.replies == ["Hello from outer.", "Hello from inner.", "Bye from outer."]
    assert state.status == "resolved" and port.resolved == ["outer/c/1"]


def test_a_flow_that_loops_is_handed_off(tmp_path: Path) -> None:
    small_policy(tmp_path, "loop", "- id: a\n  goto: b\n- id: b\n  goto: a\n")
    port = RecordingPort(ToolRegistry())
    state = FlowEngine(PolicyLibrary.load([tmp_path]), ToolRegistry()).start(
        PolicyState(), "loop", context(), port
    )
    assert state.status == "handed_off"
    assert "round in circles" in port.handoffs[0].reason


def test_writes_go_through_the_guards(tmp_path: Path) -> None:
    registry = ToolRegistry()
    applied: list[int] = []

    def get_testshop_account_details(email: str) -> dict[str, str] | None:
        """The customer's account."""
        return {"id": "c-1", "email": email} if email else None

    def apply_discount(percent: int) -> dict[str, int]:
        """Give a discount."""
        applied.append(percent)
        return {"percent": percent}

    registry.register(get_testshop_account_details, platform="testshop")
    registry.register(
        apply_discount,
        platform="testshop",
        writes=True,
        guards=("verified_customer", "confirmed", "max_discount"),
    )
    flow = (
        "- id: who\n  call: get_testshop_account_details\n  args: {email: $customer.email}\n"
        "- id: ok\n  ask: agree\n  type: yes_no\n  macro: hello\n"
        "  confirms: {tool: apply_discount, args: {percent: 25}}\n"
        "- id: give\n  call: apply_discount\n  args: {percent: 25}\n"
        "- id: done\n  end: resolved\n"
    )
    cap = "guards:\n  max_discount_percent: 20\n"
    small_policy(tmp_path, "discount", flow, guards=cap)
    small_policy(
        tmp_path, "unconfirmed", flow.replace("25", "10").replace("  confirms:", "  note:"), guards=cap
    )
    small_policy(tmp_path, "confirmed", flow.replace("25", "10"), guards=cap)
    engine = FlowEngine(PolicyLibrary.load([tmp_path]), registry)
    ctx = context("jane@shop.example")

    def run(policy: str, answer: str = "yes") -> tuple[PolicyState, RecordingPort]:
        port = RecordingPort(registry)
        state = engine.resume(engine.start(PolicyState(), policy, ctx, port), answer, ctx, port)
        return state, port

    state, port = run("discount")
    assert state.status == "handed_off"
    assert port.handoffs[0].reason == "refused: the discount 25% is above the policy's maximum of 20%"
    state, port = run("unconfirmed")
    assert state.status == "handed_off"
    assert (
        port.handoffs[0].reason
        == "refused: the customer has not said yes to @apply_discount with these details"
    )
    state, port = run("confirmed", "no")  # a no confirms nothing
    assert state.status == "handed_off" and "has not said yes" in port.handoffs[0].reason
    assert applied == []
    state, port = run("confirmed")
    assert state.status == "resolved" and applied == [10]
    assert "customer confirmed @apply_discount" in state.checked


# -- the library policies against the real connectors and the sandbox ------------------------------


@pytest.fixture
def real_tools(configured: dict[str, str], sandbox_api: requests.Session) -> ToolRegistry:
    for module in ("connectors.helpdesk.tools", "connectors.aftership", "connectors.shipengine"):
        importlib.import_module(module)
    return REGISTRY


def open_ticket(sandbox_api: requests.Session, helpdesk: str, email: str, text: str) -> str:
    """A ticket in the sandbox helpdesk; it also creates the requester as a helpdesk customer."""
    response = sandbox_api.post(
        f"{sandbox_api.base_url}/_sandbox/{helpdesk}/tickets",
        json={"subject": "Where is my order?", "text": text, "email": email, "name": "Sam Buyer"},
    )
    response.raise_for_status()
    return str(response.json()["ticket_id"])


def real_context(helpdesk: str, ticket_id: str, email: str | None, text: str) -> dict[str, Any]:
    return {
        "customer": {"email": email, "name": "Sam Buyer"},
        "ticket": {"id": ticket_id, "subject": "Where is my order?", "text": text, "helpdesk": helpdesk},
        "brand": {"name": "Acme"},
        "facts": {},
        "today": date.today(),
    }


def test_salesforce_aftership_in_transit_late_is_handed_off(
    real_tools: ToolRegistry, sandbox_api: requests.Session, library: PolicyLibrary
) -> None:
    email = "in-transit.late@aftership.example"
    ticket = open_ticket(sandbox_api, "salesforce", email, "My parcel is late")
    port = RecordingPort(real_tools, today=date.today())
    state = FlowEngine(library, real_tools).start(
        PolicyState(), POLICY, real_context("salesforce", ticket, email, "My parcel is late"), port
    )
    assert state.status == "handed_off", port.replies
    assert port.handoffs[0].reason.startswith("late parcel: order #AS-1003")
    assert "running late" in port.replies[0]


def test_salesforce_aftership_multi_turn_with_several_orders(
    real_tools: ToolRegistry, sandbox_api: requests.Session, library: PolicyLibrary
) -> None:
    email = "several.orders@aftership.example"
    ticket = open_ticket(sandbox_api, "salesforce", email, "where is my stuff")
    ctx = real_context("salesforce", ticket, email, "where is my stuff")
    engine = FlowEngine(library, real_tools)
    port = RecordingPort(real_tools, today=date.today())
    state = engine.start(PolicyState(), POLICY, ctx, port)
    assert state.waiting_for == "chosen"
    assert "#AS-1012" in port.replies[-1] and "#AS-1010" in port.replies[-1]
    state = engine.resume(state, "AS-1010", ctx, port)
    assert state.waiting_for == "received"
    assert "was delivered on" in port.replies[-1]
    state = engine.resume(state, "no, it never came", ctx, port)
    assert state.status == "handed_off"
    assert port.handoffs[0].reason.startswith("not received: carrier says order #AS-1010")


@pytest.mark.parametrize(
    ("helpdesk", "email", "status", "says"),
    [
        ("kustomer", "pending-shipment@shipengine.example", "resolved", "scheduled to ship on"),
        ("kustomer", "in-transit.on-time@shipengine.example", "resolved", "on schedule"),
        ("freshdesk", "shipped@shipengine.example", "resolved", "has shipped"),
        ("freshdesk", "lost@shipengine.example", "handed_off", "problem with order SS-1014"),
        ("kustomer", "canceled@shipengine.example", "resolved", "was canceled"),
        ("freshdesk", "delivered@shipengine.example", "waiting", "as delivered on"),
    ],
)
def test_kustomer_and_freshdesk_shipengine(
    real_tools: ToolRegistry,
    sandbox_api: requests.Session,
    library: PolicyLibrary,
    helpdesk: str,
    email: str,
    status: str,
    says: str,
) -> None:
    ticket = open_ticket(sandbox_api, helpdesk, email, "where is my order")
    port = RecordingPort(real_tools, today=date.today())
    state = FlowEngine(library, real_tools).start(
        PolicyState(),
        "wismo-kustomer-shipengine",
        real_context(helpdesk, ticket, email, "where is my order"),
        port,
    )
    assert state.status == status, (port.replies, port.handoffs)
    assert says in port.replies[-1]
    assert "get_helpdesk_account_details" in port.tools_called  # on the ticket's own helpdesk
    assert "$" not in port.replies[-1]
