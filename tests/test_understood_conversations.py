"""The library policies read what the customer says, whole, in any turn: nothing already said is asked
again, natural answers are understood, only a plain yes to exactly the action writes, damaged items
are reshipped alone, a request for a person or for another policy's job is honoured at once.

Run by the flow engine against the real connectors and the HTTPS sandbox (seeded BigCommerce and
AfterShip data), with the in-memory RecordingPort for the helpdesk side.
"""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

import pytest
import requests
from recording_port import RecordingPort

from connectors.tools import REGISTRY, ToolRegistry
from policies.document.library import PolicyLibrary
from policies.engines.flow import PERSON_REQUESTED, REASK_PREFACE, FlowEngine
from policies.engines.runtime import PolicyState
from policies.understanding.local import LocalReader

REPLACEMENT = "send-replacement-bigcommerce-kustomer"
CANCEL = "single-order-cancellation"
WISMO = "wismo-salesforce-aftership"
DANA = "delivered.eligible@bigcommerce.example"  # order 5001: 2 mugs and a plate, delivered, eligible


@pytest.fixture(scope="module")
def library() -> PolicyLibrary:
    return PolicyLibrary.load()


@pytest.fixture
def tools(configured: dict[str, str], sandbox_api: requests.Session) -> ToolRegistry:
    for module in ("connectors.helpdesk.tools", "connectors.aftership", "connectors.bigcommerce"):
        importlib.import_module(module)
    return REGISTRY


class Conversation:
    """One customer talking to one policy: the opener, then replies; what they received is recorded."""

    def __init__(self, tools: ToolRegistry, library: PolicyLibrary, sandbox: requests.Session, **ticket: Any):
        helpdesk, email, text = ticket["helpdesk"], ticket["email"], ticket["text"]
        response = sandbox.post(
            f"{sandbox.base_url}/_sandbox/{helpdesk}/tickets",
            json={"subject": "Help", "text": text, "email": email, "name": "Dana Delivered"},
        )
        response.raise_for_status()
        self.context = {
            "customer": {"email": email, "name": "Dana Delivered"},
            "ticket": {
                "id": str(response.json()["ticket_id"]),
                "subject": "Help",
                "text": text,
                "helpdesk": helpdesk,
            },
            "brand": {"name": "Acme"},
            "facts": {},
            "today": date.today(),
        }
        self.engine = FlowEngine(library, tools, LocalReader())
        self.port = RecordingPort(tools, today=date.today())
        self.state = self.engine.start(PolicyState(), ticket["policy"], self.context, self.port)

    def says(self, text: str) -> PolicyState:
        self.state = self.engine.resume(self.state, text, self.context, self.port)
        return self.state

    @property
    def last(self) -> str:
        return self.port.replies[-1]


def writes(sandbox: requests.Session) -> list[dict[str, Any]]:
    log = sandbox.get(f"{sandbox.base_url}/_sandbox/writes", params={"platform": "bigcommerce"}).json()
    return [w for w in log if w["method"] in ("POST", "PUT")]


def talk(tools, library, sandbox, text, policy=REPLACEMENT, email=DANA, helpdesk="kustomer") -> Conversation:
    return Conversation(tools, library, sandbox, helpdesk=helpdesk, email=email, text=text, policy=policy)


def test_what_went_wrong_is_not_asked_when_the_customer_said_it(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "Order #5001 came with a big crack in it")
    assert chat.state.status == "waiting"
    assert "What went wrong" not in " ".join(chat.port.replies)
    assert "Which items from order 5001 should I send again" in chat.last  # two lines: which one?


def test_only_the_damaged_items_and_quantities_are_reshipped(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "Order #5001 arrived and both mugs are broken")
    assert "2 × Blue ceramic mug" in chat.last and "plate" not in chat.last.lower()
    chat.says("yes please")
    [created] = [w for w in writes(sandbox_api) if w["method"] == "POST" and w["path"].endswith("/v2/orders")]
    assert [(p["product_id"], p["quantity"]) for p in created["body"]["products"]] == [(111, 2)]


def test_which_items_are_asked_when_the_ticket_does_not_say_and_read_from_the_answer(
    tools, library, sandbox_api
):
    chat = talk(tools, library, sandbox_api, "order 5001 arrived damaged")
    assert "Which items from order 5001" in chat.last
    chat.says("one of the mugs")
    assert "1 × Blue ceramic mug" in chat.last


def test_a_yes_with_a_new_address_creates_nothing_and_goes_to_a_person_with_it(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "Order #5001: the plate is smashed")
    state = chat.says("yes but I moved, send it to 22 Oak Street")
    assert state.status == "handed_off"
    assert "22 Oak Street" in chat.port.handoffs[0].reason
    assert writes(sandbox_api) == []


def test_a_refund_wanted_instead_switches_to_the_refund_policy(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "Order #5001: the plate is smashed")
    state = chat.says("I'd rather have a refund")
    assert state.status == "handed_off"
    assert chat.port.handoffs[0].reason.startswith("refund requested for order #5001")
    assert "refund order 5001" in chat.last
    assert writes(sandbox_api) == []


def test_a_conditional_yes_is_asked_again_differently_then_handed_off(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "Order #5001: the plate is smashed")
    first = chat.last
    chat.says("yes if it can be here by Friday")
    assert chat.state.status == "waiting" and chat.last != first
    assert chat.last.startswith("I can only go ahead with exactly what I asked")
    state = chat.says("maybe")
    assert state.status == "handed_off"
    assert writes(sandbox_api) == []


def test_a_request_for_a_person_in_any_turn_hands_off_at_once(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "I need a replacement for order #5001 please")
    assert "What went wrong" in chat.last
    state = chat.says("this is useless, let me talk to a human")
    assert state.status == "handed_off"
    assert chat.port.handoffs[0].reason == PERSON_REQUESTED
    assert writes(sandbox_api) == []


def test_a_request_for_a_person_in_the_first_message_hands_off_before_anything(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "Order 5001 is broken. I want to speak to a real person.")
    assert chat.state.status == "handed_off"
    assert chat.port.handoffs[0].reason == PERSON_REQUESTED
    assert chat.port.tools_called == []


def test_a_re_ask_explains_itself_and_a_second_miss_hands_off(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "I need a replacement for order #5001 please")
    first = chat.last
    chat.says("hmm")
    assert chat.last != first and "A few words or the number in the list is enough" in chat.last
    state = chat.says("dunno")
    assert state.status == "handed_off"


def test_a_natural_answer_to_what_went_wrong_is_understood(tools, library, sandbox_api):
    chat = talk(tools, library, sandbox_api, "I need a replacement for order #5001 please")
    chat.says("the plate is cracked")
    assert "free replacement for order 5001 (1 × Stoneware dinner plate)" in chat.last


def test_a_cancellation_of_a_parcel_that_never_arrived_is_not_answered_with_a_return(
    tools, library, sandbox_api
):
    importlib.import_module("connectors.tracking")
    chat = talk(
        tools,
        library,
        sandbox_api,
        "cancel order 5002, it never arrived",
        policy=CANCEL,
        email="shipped.eligible@bigcommerce.example",
    )
    assert "switched to #Shipment Not Received" in chat.state.checked
    assert not any("return once it arrives" in reply for reply in chat.port.replies)
    assert [w for w in writes(sandbox_api) if (w["body"] or {}).get("status_id") == 5] == []


def test_a_yes_to_cancel_in_other_words_cancels_and_keep_it_does_not(tools, library, sandbox_api):
    chat = talk(
        tools,
        library,
        sandbox_api,
        "Please cancel order #5012",
        policy=CANCEL,
        email="awaiting.shipment@bigcommerce.example",
    )
    assert "Shall I cancel it now?" in chat.last
    chat.says("I changed my mind, keep the order")
    assert chat.state.status == "resolved" and "left order 5012 as it is" in chat.last
    assert writes(sandbox_api) == []


def test_delivered_is_not_asked_about_when_the_customer_said_it_never_came(tools, library, sandbox_api):
    importlib.import_module("connectors.aftership")
    email = "several.orders@aftership.example"
    chat = talk(
        tools,
        library,
        sandbox_api,
        "order AS-1010 never came",
        policy=WISMO,
        email=email,
        helpdesk="salesforce",
    )
    assert chat.state.status == "handed_off", chat.port.replies
    assert not any("Has it reached you" in reply for reply in chat.port.replies)
    assert chat.port.handoffs[0].reason.startswith("not received: carrier says order #AS-1010")


def test_a_message_in_another_language_goes_to_a_person_offline_with_the_language_named(
    tools, library, sandbox_api
):
    chat = talk(tools, library, sandbox_api, "Hola, mi pedido 5001 llegó roto, ¿pueden enviarme otro?")
    assert chat.state.status == "handed_off"
    assert "Spanish" in chat.port.handoffs[0].reason
    assert chat.port.replies == []


def test_the_generic_re_ask_explanations_differ_from_every_question() -> None:
    assert all(text.startswith("Sorry") for text in REASK_PREFACE.values())


def test_several_orders_named_are_each_answered(tools, library, sandbox_api):
    importlib.import_module("connectors.shipengine")
    chat = talk(
        tools,
        library,
        sandbox_api,
        "where are my orders SS-1021 and SS-1022?",
        policy="wismo-kustomer-shipengine",
        email="three.orders@shipengine.example",
    )
    assert chat.state.status == "resolved", chat.port.replies
    assert any("SS-1021" in r and "has shipped" in r for r in chat.port.replies)
    assert any("SS-1022" in r and "being prepared" in r for r in chat.port.replies)


def test_a_request_the_policy_cannot_do_is_said_plainly_and_left_for_a_person(tools, library, sandbox_api):
    importlib.import_module("connectors.shipengine")
    chat = talk(
        tools,
        library,
        sandbox_api,
        "where is order SS-1021? and please refund my other order",
        policy="wismo-kustomer-shipengine",
        email="three.orders@shipengine.example",
    )
    assert chat.state.status == "handed_off"
    assert any("SS-1021" in r and "has shipped" in r for r in chat.port.replies)
    assert chat.last.startswith("You also asked for a refund")
    assert "also asked for a refund" in chat.port.handoffs[0].reason
