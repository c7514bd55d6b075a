"""End to end through the deployed shape: a vendor-format webhook to gunicorn, a real Celery worker on
a real Redis, and the outcome read back from the sandboxed helpdesk (tags, note, group)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

HELPDESKS = ["freshdesk", "kustomer", "salesforce"]
GROUP_VARS = {
    "freshdesk": "FRESHDESK_HANDOFF_GROUP_ID",
    "kustomer": "KUSTOMER_HANDOFF_TEAM_ID",
    "salesforce": "SALESFORCE_HANDOFF_QUEUE_ID",
}
EMAIL = "jane.doe@example.com"
TICKETS = [
    (
        "wismo",
        "Order not here yet",
        "Hi, I ordered a desk lamp two weeks ago (order #10452) and it still hasn't arrived. Where is it?",
    ),
    (
        "skip_shipment",
        "Subscription",
        "Please skip my next coffee subscription box, I'm travelling in March.",
    ),
    (
        "replacement",
        "Broken mug",
        "The mug in my order arrived broken into pieces. Can you send me a new one?",
    ),
    ("cancellation", "Cancel", "I'd like to cancel my order #20391 please, I ordered the wrong size."),
    ("other", "Store question", "Do you have a shop in Berlin where I can try the shoes on?"),
]


def handed_off(view: dict) -> bool:
    return "pd-handed-off" in view["tags"]


def settled(view: dict) -> bool:
    """A policy or the triage finished its turn (the lifecycle tag is the last write)."""
    return bool({"pd-handed-off", "pd-resolved", "pd-waiting"} & set(view["tags"]))


def accepted(response: requests.Response) -> bool:
    return response.status_code in (200, 202, 204) and "Traceback" not in response.text


def deliver(stack, ticket) -> None:
    for delivery in ticket.deliveries:
        assert accepted(delivery.post(stack.url))


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_every_ticket_type_is_tagged_and_goes_to_its_policy_or_to_humans(
    stack, customers, stack_env, helpdesk
):
    """Types with a policy run it (their conversations are tested in test_stack_<type>.py); `other` is
    triaged: tagged, noted and routed to the humans' group without a word to the customer."""
    opened = [
        customers.open_ticket(helpdesk, subject, text, EMAIL, "Jane Doe") for _, subject, text in TICKETS
    ]
    for ticket in opened:
        deliver(stack, ticket)
    for (label, _, _), ticket in zip(TICKETS, opened, strict=True):
        view = customers.wait_for(ticket, settled)
        assert f"pd-type-{label.replace('_', '-')}" in view["tags"], (label, view["tags"])
        assert "policydesk" in view["tags"]
        if label != "other":
            assert not any("policydesk triage" in note for note in view["notes"]), (label, view["notes"])
            continue
        assert handed_off(view)
        assert str(view["group"]) == stack_env[GROUP_VARS[helpdesk]]
        assert len(view["notes"]) == 1
        note = view["notes"][0]
        assert "policydesk triage" in note and "Routed to humans" in note and EMAIL in note
        assert view["replies"] == []  # triage never writes to the customer


def test_a_low_confidence_ticket_is_triaged_to_humans(stack, customers, stack_env):
    ticket = customers.open_ticket("kustomer", "hmm", "asdf qwerty", EMAIL)
    deliver(stack, ticket)
    view = customers.wait_for(ticket, handed_off)
    note = view["notes"][0]
    assert "classifier is unsure" in note or "not a ticket type" in note
    assert str(view["group"]) == stack_env["KUSTOMER_HANDOFF_TEAM_ID"]


def test_freshdesk_simple_content_webhook_is_triaged(stack, customers):
    ticket = customers.open_ticket(
        "freshdesk", "Where is it", "<div>Where is my order #5531? It&#39;s late</div>", EMAIL, simple=True
    )
    deliver(stack, ticket)
    view = customers.wait_for(ticket, handed_off)
    assert "pd-type-wismo" in view["tags"]


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_duplicate_deliveries_are_processed_once(stack, customers, helpdesk):
    ticket = customers.open_ticket(
        helpdesk, "Invoice", "Can I get an invoice with my company name on it?", EMAIL
    )
    for _ in range(3):
        deliver(stack, ticket)
    customers.wait_for(ticket, handed_off)
    time.sleep(1.5)  # give any duplicate a chance to (wrongly) act
    view = customers.view(ticket)
    assert len(view["notes"]) == 1
    assert "pd-type-other" in view["tags"]


def test_kustomer_message_before_conversation_is_one_ticket(stack, customers):
    ticket = customers.open_ticket(
        "kustomer", "Lost parcel", "Where is my parcel? Order #8812.", EMAIL, first="message"
    )
    first_message, conversation_created = ticket.deliveries
    assert accepted(first_message.post(stack.url))
    customers.wait_for(ticket, handed_off)
    assert accepted(conversation_created.post(stack.url))
    time.sleep(1.5)
    view = customers.view(ticket)
    assert len(view["notes"]) == 1 and "pd-type-wismo" in view["tags"]


def test_freshdesk_reply_before_creation_is_one_ticket(stack, customers):
    ticket = customers.open_ticket(
        "freshdesk", "Invoice", "Can I get an invoice with my company name on it?", EMAIL
    )
    reply = customers.reply(ticket, "It's for my accountant.")
    assert accepted(reply.post(stack.url))
    customers.wait_for(ticket, handed_off)
    deliver(stack, ticket)
    time.sleep(1.5)
    view = customers.view(ticket)
    assert len(view["notes"]) == 1 and "pd-type-other" in view["tags"]


@pytest.mark.parametrize("helpdesk", ["kustomer", "freshdesk"])
def test_concurrent_events_of_one_ticket_act_once(stack, customers, helpdesk):
    ticket = customers.open_ticket(
        helpdesk, "Invoice", "Can I get an invoice with my company name on it?", EMAIL
    )
    reply = customers.reply(ticket, "Company: Acme Ltd.")
    requests_to_send = [*ticket.deliveries, reply] * 3
    threads = [threading.Thread(target=d.post, args=(stack.url,)) for d in requests_to_send]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    customers.wait_for(ticket, handed_off)
    time.sleep(2)
    view = customers.view(ticket)
    assert len(view["notes"]) == 1
    assert "pd-type-other" in view["tags"]


def test_rate_limited_write_is_retried_after_the_platforms_wait(stack, customers, sandbox):
    customers.http.post(
        f"{sandbox.url}/_sandbox/faults",
        json={
            "platform": "freshdesk",
            "status": 429,
            "count": 1,
            "method": "POST",
            "path_contains": "/notes",
            "retry_after": 1,
        },
    ).raise_for_status()
    try:
        ticket = customers.open_ticket("freshdesk", "Where", "Where is my order #3141?", EMAIL)
        deliver(stack, ticket)
        view = customers.wait_for(ticket, handed_off)
    finally:
        customers.http.delete(f"{sandbox.url}/_sandbox/faults")
    assert len(view["notes"]) == 1
    note_posts = [
        w for w in customers.writes("freshdesk") if w["path"].endswith(f"/tickets/{ticket.ticket_id}/notes")
    ]
    assert [w.get("fault") for w in note_posts] == [429, None]


def test_processing_that_keeps_failing_is_handed_to_humans_with_what_failed(stack, customers, sandbox):
    ticket = customers.open_ticket("kustomer", "Help", "Where is my order #9090?", EMAIL)
    customers.http.post(
        f"{sandbox.url}/_sandbox/faults",
        json={
            "platform": "kustomer",
            "status": 503,
            "count": 1000,
            "method": "GET",
            "path_contains": f"/conversations/{ticket.ticket_id}/messages",
        },
    ).raise_for_status()
    try:
        deliver(stack, ticket)
        view = customers.wait_for(ticket, handed_off, timeout=60)
    finally:
        customers.http.delete(f"{sandbox.url}/_sandbox/faults")
    assert "pd-error" in view["tags"]
    assert any("could not process this ticket" in note and "kustomer" in note for note in view["notes"])


def test_bad_signature_is_refused_and_nothing_happens(stack, customers):
    ticket = customers.open_ticket("kustomer", "Where", "Where is my order #1111?", EMAIL)
    forged = ticket.deliveries[0].signed_kustomer("not-the-webhook-token")
    response = forged.post(stack.url)
    assert response.status_code == 401 and "Traceback" not in response.text
    time.sleep(1.5)
    assert customers.view(ticket)["tags"] == []


def test_a_kustomer_conversation_announced_before_its_message_is_classified_on_the_message(stack, customers):
    """Kustomer sends conversation.create before the conversation has a message (messageCount 0)."""
    ticket = customers.open_ticket(
        "kustomer", "Question", "Hi, where is my order #10452? It still hasn't arrived.", EMAIL
    )
    conversation_created, first_message = ticket.deliveries
    assert accepted(conversation_created.post(stack.url))
    time.sleep(2)  # the worker has handled conversation.create before the message exists
    assert customers.view(ticket)["tags"] == []
    assert accepted(first_message.post(stack.url))
    view = customers.wait_for(ticket, settled)
    assert "pd-type-wismo" in view["tags"], (view["tags"], view["notes"])


def test_a_kustomer_conversation_our_team_started_is_not_a_ticket(stack, customers):
    ticket = customers.open_ticket(
        "kustomer", "Your order is on its way", "Your order shipped today.", EMAIL, direction="out"
    )
    deliver(stack, ticket)
    time.sleep(2)
    view = customers.view(ticket)
    assert (view["tags"], view["notes"], view["group"]) == ([], [], None)
