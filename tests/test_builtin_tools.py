"""The built-in helpdesk tools, run on a real sandbox ticket with a real Redis: what the customer and
the colleague who files the claim see, and that a retry never duplicates anything."""

from __future__ import annotations

import io

import pytest
import redis
import requests
import sandbox_calls

from connectors.errors import NotConfigured
from connectors.helpdesk import helpdesk_client
from connectors.tools import REGISTRY, load_all_tools
from policies.document.tool_menu import tools_main
from worker import builtin_tools
from worker.builtin_tools import CLAIM_TAG, claim_key, claims_for, run
from worker.conversation import Conversation


@pytest.fixture
def ticket(configured, sandbox_api: requests.Session) -> Conversation:
    created = sandbox_api.post(
        f"{sandbox_api.base_url}/_sandbox/kustomer/tickets",
        json={"subject": "Never arrived", "text": "It says delivered", "email": "dana@example.com"},
    )
    created.raise_for_status()
    conversation = Conversation(helpdesk="kustomer", ticket_id=str(created.json()["ticket_id"]))
    # what the policy looked up earlier in the conversation: the order with its parcel
    conversation.policy = {
        "saved": {
            "order": {
                "id": "5001",
                "number": "5001",
                "email": "dana@example.com",
                "shipments": [{"tracking_number": "9400111899560000005001", "carrier": "usps"}],
            }
        }
    }
    return conversation


def view(sandbox_api: requests.Session, conversation: Conversation) -> dict:
    return sandbox_calls.ticket(sandbox_api, "kustomer", conversation.ticket_id)


def test_a_claim_is_a_task_for_a_person_on_the_ticket(
    ticket: Conversation, sandbox_api: requests.Session, redis_client: redis.Redis
) -> None:
    desk = helpdesk_client("kustomer")
    result = run(
        "file_carrier_claim",
        desk,
        ticket,
        {"order_id": "#5001", "reason": "marked delivered but not received"},
        redis_client=redis_client,
    )
    assert result["status"] == "open" and result["claim_id"].startswith("CLM-")
    assert (result["carrier"], result["tracking_number"]) == ("usps", "9400111899560000005001")

    seen = view(sandbox_api, ticket)
    assert CLAIM_TAG in seen["tags"]
    [note] = seen["notes"]
    assert note.startswith(
        "Carrier claim to file: order #5001, carrier usps, tracking 9400111899560000005001"
    )
    assert "marked delivered but not received" in note and result["claim_id"] in note
    assert "dana@example.com" not in note  # the colleague needs the parcel, not the customer's contact
    assert seen["replies"] == []  # nothing is said to the customer by the tool itself

    [claim] = claims_for(redis_client, "kustomer", ticket.ticket_id)
    assert claim["claim_id"] == result["claim_id"] and claim["status"] == "open"
    assert redis_client.ttl(claim_key("kustomer", ticket.ticket_id)) > 0

    again = run(
        "FileCarrierClaim",
        desk,
        ticket,
        {"order_id": "5001", "reason": "marked delivered but not received"},
        redis_client=redis_client,
    )
    assert again["claim_id"] == result["claim_id"]
    assert len(view(sandbox_api, ticket)["notes"]) == 1
    assert len(claims_for(redis_client, "kustomer", ticket.ticket_id)) == 1


def test_an_async_message_is_a_public_reply_of_its_own(
    ticket: Conversation, sandbox_api: requests.Session, redis_client: redis.Redis
) -> None:
    result = run(
        "send_async_message",
        helpdesk_client("kustomer"),
        ticket,
        {"message": "Confirmed: order 5001 now has 10% off."},
        redis_client=redis_client,
    )
    assert result["sent"] is True
    assert view(sandbox_api, ticket)["replies"] == ["Confirmed: order 5001 now has 10% off."]
    assert ticket.transcript[-1]["text"] == "Confirmed: order 5001 now has 10% off."


@pytest.mark.parametrize(
    ("name", "args", "error"),
    [
        ("file_carrier_claim", {"order_id": "", "reason": "lost"}, ValueError),
        ("file_carrier_claim", {"order_id": "5001/../x y", "reason": "lost"}, ValueError),
        ("file_carrier_claim", {"order_id": "5001", "reason": "   "}, ValueError),
        ("file_carrier_claim", {"order_id": "5001", "reason": "lost", "carrier": "ups"}, TypeError),
        ("send_async_message", {"message": None}, ValueError),
        ("send_async_message", {"text": "hi"}, TypeError),
        ("refund_everything", {}, KeyError),
    ],
)
def test_bad_arguments_change_nothing(
    ticket: Conversation, sandbox_api: requests.Session, redis_client: redis.Redis, name, args, error
) -> None:
    with pytest.raises(error):
        run(name, helpdesk_client("kustomer"), ticket, args, redis_client=redis_client)
    seen = view(sandbox_api, ticket)
    assert seen["notes"] == [] and seen["replies"] == [] and CLAIM_TAG not in seen["tags"]
    assert claims_for(redis_client, "kustomer", ticket.ticket_id) == []


def test_the_tools_are_in_the_registry_with_their_guards() -> None:
    load_all_tools()
    claim = REGISTRY.resolve("@file_carrier_claim")
    message = REGISTRY.resolve("SendAsyncMessage")
    assert claim is not None and message is not None
    assert (claim.platform, claim.writes, claim.guards) == (
        "helpdesk",
        True,
        ("verified_customer", "owns_order"),
    )
    assert (message.platform, message.writes, message.guards) == ("helpdesk", True, ("verified_customer",))
    assert claim.arguments == ["order_id", "reason"] and message.arguments == ["message"]
    assert claim.configured({}) and message.configured(
        {}
    )  # nothing to set up: they use the ticket's helpdesk
    assert builtin_tools.is_builtin("file_carrier_claim") and not builtin_tools.is_builtin(
        "get_tracking_info"
    )
    with pytest.raises(NotConfigured):  # outside a ticket turn there is no ticket to act on
        REGISTRY.invoke("file_carrier_claim", {"order_id": "5001", "reason": "lost"})

    out = io.StringIO()
    tools_main(out, registry=REGISTRY, env={})
    listing = out.getvalue()
    assert "@file_carrier_claim" in listing and "@send_async_message" in listing
    assert "no supported platform has a claims API" in listing
