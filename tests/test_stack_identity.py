"""A customer the helpdesk does not identify (a Kustomer chat visitor with no email) proves control of
the email they name before anything about that account is read or written, through the real stack.

Typing someone's address and order number is not enough: the bot asks for that order's shipping
postcode (two facts from the store's own records), shares nothing until they match, and hands off
after a second miss. The real owner, who knows the postcode, gets the cancellation she asked for.
"""

from __future__ import annotations

import pytest
from conversations import lifecycle, open_and_wait, reply_and_wait

VICTIM = "awaiting.shipment@bigcommerce.example"  # order 5012, shipped to Austin TX 78751
ASK = f"Please cancel my order #5012. My email is {VICTIM}"


@pytest.fixture(autouse=True)
def fresh_sandbox(sandbox_api, configured):
    return sandbox_api


def order_writes(customers, order: str) -> list[dict]:
    return [
        w for w in customers.writes("bigcommerce") if w["method"] == "PUT" and w["path"].endswith(f"/{order}")
    ]


def anonymous_chat(stack, customers, text: str):
    # she wrote in by email once before, so Kustomer knows her; today she chats without signing in
    customers.open_ticket("kustomer", "Hello", "Hello", VICTIM, "Shea Shipment")
    return open_and_wait(stack, customers, "kustomer", None, text, "Chat", None)


def test_a_typed_email_and_order_number_unlock_nothing(stack, customers):
    ticket, view = anonymous_chat(stack, customers, ASK)
    assert lifecycle(view) == "pd-waiting"
    assert "postcode" in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "Order 5012, postcode 10001", len(view["replies"]))
    assert "don't match" in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "5012 and the zip is 90210", len(view["replies"]))
    assert lifecycle(view) == "pd-handed-off", view["replies"]
    said = " ".join(view["replies"])
    for secret in ("hasn't shipped", "Austin", "Main Street", "Shea", "plate"):
        assert secret not in said, view["replies"]
    assert order_writes(customers, "5012") == []


def test_the_owner_who_knows_the_postcode_is_served(stack, customers):
    ticket, view = anonymous_chat(stack, customers, ASK)
    assert "postcode" in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "It's order #5012, zip 78751", len(view["replies"]))
    assert lifecycle(view) == "pd-waiting" and "5012" in view["replies"][-1], view["replies"]
    view = reply_and_wait(stack, customers, ticket, "yes", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    assert [w["body"].get("status_id") for w in order_writes(customers, "5012")] == [5]


def test_an_unidentified_customer_is_asked_for_the_email_first(stack, customers):
    ticket, view = anonymous_chat(stack, customers, "Please skip my next box")
    assert lifecycle(view) == "pd-waiting"
    assert "email address" in view["replies"][-1]
