"""Shipment not received, end to end on the real stack: delivered-but-missing becomes a carrier claim a
person files (note, tag, Redis record); a lost parcel is offered a replacement or a refund."""

from __future__ import annotations

import conversations
import pytest
import redis
from conversations import lifecycle, reply_and_wait

from worker.builtin_tools import claims_for


def open_and_wait(stack, customers, helpdesk, email, text, subject="Order never arrived"):
    return conversations.open_and_wait(stack, customers, helpdesk, email, text, subject, "Dana Delivered")


def created_orders(customers) -> list[dict]:
    return [
        w
        for w in customers.writes("bigcommerce")
        if w["method"] == "POST" and w["path"].endswith("/v2/orders")
    ]


@pytest.fixture(autouse=True)
def fresh_sandbox(sandbox_api, configured):
    return sandbox_api


@pytest.fixture
def stack_redis(stack_env):
    client = redis.Redis.from_url(stack_env["REDIS_URL"], decode_responses=True)
    yield client
    client.close()


DELIVERED_NOT_RECEIVED = "Order #5001 is marked delivered but I never received it."


@pytest.mark.parametrize("helpdesk", ["kustomer", "freshdesk"])
def test_delivered_but_missing_becomes_a_claim_a_person_files(stack, customers, stack_redis, helpdesk):
    ticket, view = open_and_wait(
        stack, customers, helpdesk, "delivered.eligible@bigcommerce.example", DELIVERED_NOT_RECEIVED
    )
    assert lifecycle(view) == "pd-waiting", (view["replies"], view["notes"])
    question = view["replies"][-1]
    assert "household" in question and "neighbour" in question and "safe place" in question

    view = reply_and_wait(
        stack,
        customers,
        ticket,
        "No, I asked the neighbours and checked the porch, nothing.",
        len(view["replies"]),
    )
    assert "open a claim with the carrier" in view["replies"][-1]
    assert "pd-claim" not in view["tags"]  # asked first

    view = reply_and_wait(stack, customers, ticket, "Yes please", len(view["replies"]))
    assert lifecycle(view) == "pd-handed-off", (view["replies"], view["notes"])
    assert "pd-claim" in view["tags"]
    [claim] = claims_for(stack_redis, helpdesk, ticket.ticket_id)
    assert claim["status"] == "open" and claim["order_id"] == "5001"
    told = view["replies"][-1]
    assert claim["claim_id"] in told and "what happens next" in told
    claim_notes = [note for note in view["notes"] if note.startswith("Carrier claim to file")]
    assert len(claim_notes) == 1
    assert "order #5001, carrier usps, tracking 9400111899560000005001" in claim_notes[0]
    assert any(f"carrier claim {claim['claim_id']}" in note for note in view["notes"]), view["notes"]
    assert created_orders(customers) == []


def test_a_parcel_found_with_a_neighbour_is_resolved_without_a_claim(stack, customers, stack_redis):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "delivered.eligible@bigcommerce.example", DELIVERED_NOT_RECEIVED
    )
    view = reply_and_wait(stack, customers, ticket, "Yes! My neighbour had it.", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved"
    assert "glad it turned up" in view["replies"][-1]
    assert "pd-claim" not in view["tags"] and view["notes"] == []
    assert claims_for(stack_redis, "kustomer", ticket.ticket_id) == []


def test_a_lost_parcel_is_replaced_when_the_customer_wants_a_replacement(stack, customers, sandbox_api):
    # order 10525: a table runner and two mugs, shipped 20 days ago; the carrier lost the parcel
    ticket, view = open_and_wait(
        stack,
        customers,
        "kustomer",
        "olivia.turner@example.com",
        "My order #10525 never arrived. It has been weeks. Can you send it again?",
    )
    # they already said they want it sent again: no "replacement or refund?" question
    assert "free replacement for order 10525" in view["replies"][-1], (view["replies"], view["notes"])
    assert not any("looks lost" in reply for reply in view["replies"])
    view = reply_and_wait(stack, customers, ticket, "yes", len(view["replies"]))
    view = reply_and_wait(stack, customers, ticket, "yes", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    [created] = created_orders(customers)
    assert [(p["product_id"], p["quantity"]) for p in created["body"]["products"]] == [(113, 1), (111, 2)]


def test_a_lost_parcel_is_refunded_by_a_person_when_the_customer_wants_a_refund(stack, customers):
    """They named both a replacement and a refund; the question settles which."""
    # order 10545: a teapot and a table runner, shipped 17 days ago; the carrier lost the parcel
    ticket, view = open_and_wait(
        stack,
        customers,
        "freshdesk",
        "victor.nguyen@example.net",
        "My order #10545 never arrived and it has been weeks. Please send another one or refund me.",
    )
    view = reply_and_wait(stack, customers, ticket, "No, I'd rather have my money back", len(view["replies"]))
    assert lifecycle(view) == "pd-handed-off", (view["replies"], view["notes"])
    assert "refund order 10545" in view["replies"][-1]
    assert any("refund requested for order #10545" in note for note in view["notes"]), view["notes"]
    assert created_orders(customers) == []


def test_a_recent_parcel_is_still_on_its_way(stack, customers):
    ticket, view = open_and_wait(
        stack,
        customers,
        "kustomer",
        "shipped.eligible@bigcommerce.example",
        "My order #5002 never arrived, can you send another?",
    )
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    assert "still on its way" in view["replies"][-1]
    assert created_orders(customers) == []
