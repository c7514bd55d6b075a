"""The shared building blocks on the sandbox: #Verify Customer on whichever helpdesk the ticket came
from, #Find Order in BigCommerce or Shopify, and the shared replies a policy may word its own way."""

from __future__ import annotations

from datetime import date

import pytest
import requests
from recording_port import RecordingPort
from test_flow_engine import open_ticket, real_context

from connectors.tools import ToolRegistry, load_all_tools
from policies.document.layers import active_library
from policies.document.library import PolicyLibrary
from policies.engines.flow import FlowEngine
from policies.engines.runtime import PolicyState


@pytest.fixture
def tools(configured: dict[str, str]) -> ToolRegistry:
    return load_all_tools()


@pytest.fixture(scope="module")
def library() -> PolicyLibrary:
    return active_library({})


def start(library, tools, sandbox_api, helpdesk: str, email: str | None, text: str, policy: str):
    ticket = open_ticket(sandbox_api, helpdesk, email or "visitor@example.com", text)
    port = RecordingPort(tools, today=date.today())
    context = real_context(helpdesk, ticket, email, text)
    state = FlowEngine(library, tools).start(PolicyState(), policy, context, port)
    return state, port, context


def shopify_wismo(library, tools, sandbox_api, helpdesk: str, email: str, text: str):
    return start(library, tools, sandbox_api, helpdesk, email, text, "wismo-shopify")


@pytest.mark.parametrize("helpdesk", ["kustomer", "freshdesk", "salesforce"])
def test_a_shopify_order_is_found_and_answered_on_every_helpdesk(
    library: PolicyLibrary, tools: ToolRegistry, sandbox_api: requests.Session, helpdesk: str
) -> None:
    state, port, _ = shopify_wismo(
        library, tools, sandbox_api, helpdesk, "in-transit@shopify.example", "Where is my order?"
    )
    assert state.status == "resolved", (port.replies, port.handoffs)
    assert "order #1004 is on its way" in port.replies[-1] and "http" in port.replies[-1]
    assert port.tools_called[:3] == [
        "get_helpdesk_account_details",
        "get_shopify_orders",
        "shopify_order_details",
    ]


def test_a_shopify_order_of_someone_else_is_not_described(
    library: PolicyLibrary, tools: ToolRegistry, sandbox_api: requests.Session
) -> None:
    state, port, _ = shopify_wismo(
        library, tools, sandbox_api, "kustomer", "in-transit@shopify.example", "Where is order #1005?"
    )
    assert state.status == "handed_off"
    # the guards withhold another customer's order, so it reads as not found
    assert port.handoffs[-1].reason == "the order named in the ticket (#1005) was not found in Shopify"
    assert port.replies[-1].startswith("I couldn't find that order number.")
    assert "delivered" not in " ".join(port.replies)  # nothing of the other customer's order is told
    assert port.handoffs[-1].wants.startswith("Customer asks where their order is")  # the recipe's words


def test_a_delivered_shopify_order_asks_whether_it_arrived(
    library: PolicyLibrary, tools: ToolRegistry, sandbox_api: requests.Session
) -> None:
    state, port, context = shopify_wismo(
        library, tools, sandbox_api, "freshdesk", "delivered@shopify.example", "where's my parcel"
    )
    assert state.status == "waiting" and "Did it reach you?" in port.replies[-1]
    state = FlowEngine(library, tools).resume(state, "no, nothing came", context, port)
    assert state.status == "handed_off" and "did not arrive" in port.handoffs[-1].reason


def test_a_policys_own_reply_wins_inside_the_building_block(
    library: PolicyLibrary, tools: ToolRegistry, sandbox_api: requests.Session
) -> None:
    port = RecordingPort(tools, today=date.today())
    ticket = open_ticket(sandbox_api, "kustomer", "visitor@example.com", "skip my next box")
    state = FlowEngine(library, tools).start(
        PolicyState(),
        "skip-next-shipment-smartrr",
        real_context("kustomer", ticket, None, "skip my box"),
        port,
    )
    assert state.status == "waiting" and state.policy_stack == [
        "skip-next-shipment-smartrr",
        "verify-customer",
    ]
    assert "Happy to help with your subscription" in port.replies[-1]  # skip's own ask_email
    state = FlowEngine(library, tools).start(
        PolicyState(), "refund-policy", real_context("kustomer", ticket, None, "I want a refund"), port
    )
    assert "Which email address did you use for your order?" in port.replies[-1]  # the shared one


def test_no_library_policy_branches_on_the_helpdesk(library: PolicyLibrary) -> None:
    for doc in library:
        assert "$ticket.helpdesk ==" not in doc.source and "$ticket.helpdesk in" not in doc.source, doc.id


def test_both_orders_chosen_in_a_building_block_are_each_run_through_the_recipe(
    library: PolicyLibrary, tools: ToolRegistry, sandbox_api: requests.Session
) -> None:
    """ "Cancel both" picks two orders inside #Find Order: after the first is cancelled, the second goes
    through the recipe's own steps too (its confirmation and its cancel), not only through the block."""
    text = "Please cancel both my orders, 10530 and 10531. Changed my mind on both."
    state, port, context = start(
        library, tools, sandbox_api, "kustomer", "jack.wilson@example.com", text, "single-order-cancellation"
    )
    engine = FlowEngine(library, tools)
    for reply in ("yes both", "yes", "yes"):
        assert state.status == "waiting", (port.replies, port.handoffs)
        state = engine.resume(state, reply, context, port)
    assert port.tools_called.count("cancel_bigcommerce_order") == 2, port.replies
    for number in ("10530", "10531"):
        assert tools.invoke("bigcommerce_order_details", {"order_id": number})["status"] == "canceled"
    assert state.status == "resolved"
