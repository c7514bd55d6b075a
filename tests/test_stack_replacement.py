"""Send a replacement, end to end on the real stack: the customer confirms, exactly one free order with
the damaged items is created in the BigCommerce sandbox; and every refusal (not eligible, someone
else's order, no yes) leaves the store untouched."""

from __future__ import annotations

import conversations
import pytest
from conversations import lifecycle, reply_and_wait

from connectors.bigcommerce import bigcommerce_order_details


def open_and_wait(stack, customers, helpdesk, email, text, subject="Replacement please"):
    return conversations.open_and_wait(stack, customers, helpdesk, email, text, subject, "Dana Delivered")


def created_orders(customers) -> list[dict]:
    return [
        w
        for w in customers.writes("bigcommerce")
        if w["method"] == "POST" and w["path"].endswith("/v2/orders")
    ]


def items(order) -> list[tuple[str, int]]:
    return sorted((item.name, item.quantity) for item in order.items)


@pytest.fixture(autouse=True)
def fresh_sandbox(sandbox_api, configured):
    """Seeded orders for every test (a replacement makes the original ineligible the next time)."""
    return sandbox_api


@pytest.mark.parametrize("helpdesk", ["kustomer", "salesforce"])
def test_the_damaged_items_are_replaced_once_free_of_charge(stack, customers, helpdesk):
    ticket, view = open_and_wait(
        stack,
        customers,
        helpdesk,
        "delivered.eligible@bigcommerce.example",
        "Order #5001 arrived damaged, both mugs are broken. Can you send a replacement?",
    )
    assert lifecycle(view) == "pd-waiting", (view["replies"], view["notes"])
    assert "free replacement for order 5001" in view["replies"][-1]
    assert created_orders(customers) == []  # asked first, nothing created yet

    view = reply_and_wait(stack, customers, ticket, "Yes, same address", len(view["replies"]))
    [created] = created_orders(customers)
    new_id = str(created["order_id"])
    assert f"Replacement order {new_id} is set up" in view["replies"][-1]

    view = reply_and_wait(stack, customers, ticket, "yes go ahead", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    assert "pd-type-replacement" in view["tags"]
    assert f"Replacement order {new_id} is on its way" in view["replies"][-1]
    assert "won't be charged" in view["replies"][-1]

    assert len(created_orders(customers)) == 1
    original, replacement = bigcommerce_order_details("5001"), bigcommerce_order_details(new_id)
    assert items(original) == [("Blue ceramic mug", 2), ("Stoneware dinner plate", 1)]
    assert items(replacement) == [("Blue ceramic mug", 2)]  # both mugs broke; the plate did not
    assert replacement.email == original.email
    paid = [
        w
        for w in customers.writes("bigcommerce")
        if w["method"] == "PUT" and w["path"].endswith(f"/v2/orders/{new_id}")
    ]
    assert paid and paid[-1]["body"].get("payment_method") == "Manual"


@pytest.mark.parametrize(
    ("who", "order", "why"),
    [
        ("too.old", "5003", "days old"),
        ("too.expensive", "5004", "above the limit"),
        ("already.reshipped", "5005", "a replacement already exists"),
    ],
)
def test_an_ineligible_order_is_explained_and_handed_off(stack, customers, who, order, why):
    ticket, view = open_and_wait(
        stack,
        customers,
        "kustomer",
        f"{who}@bigcommerce.example",
        f"My order #{order} arrived broken, please send a new one",
    )
    assert lifecycle(view) == "pd-handed-off", (view["replies"], view["notes"])
    assert f"can't send a free replacement for order {order}" in view["replies"][-1]
    assert why in view["replies"][-1]
    assert any("not eligible for reshipment" in note for note in view["notes"]), view["notes"]
    assert created_orders(customers) == []


def test_an_order_of_another_customer_is_never_replaced_or_described(stack, customers):
    ticket, view = open_and_wait(
        stack,
        customers,
        "kustomer",
        "delivered.eligible@bigcommerce.example",
        "Order #5002 arrived damaged, please send a replacement",  # 5002 is Sam Shipped's skillet
    )
    assert lifecycle(view) == "pd-handed-off", (view["replies"], view["notes"])
    reply = view["replies"][-1]
    # another customer's order is withheld from the policy: to it, no such order exists
    assert "couldn't find that order" in reply
    assert "skillet" not in reply.lower() and "Sam" not in reply
    assert created_orders(customers) == []
    assert [w for w in customers.writes("bigcommerce") if w["method"] in ("PUT", "POST")] == []


def test_a_new_address_goes_to_a_person_before_anything_is_created(stack, customers):
    ticket, view = open_and_wait(
        stack,
        customers,
        "kustomer",
        "delivered.eligible@bigcommerce.example",
        "Order #5001 arrived broken. Please send a replacement",
    )
    assert "Which items from order 5001" in view["replies"][-1]  # broken, but which of its items?
    view = reply_and_wait(stack, customers, ticket, "the plate", len(view["replies"]))
    assert "1 × Stoneware dinner plate" in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "No, I moved", len(view["replies"]))
    assert "Which address" in view["replies"][-1]
    view = reply_and_wait(
        stack, customers, ticket, "12 Harbour Road, Portland ME 04101", len(view["replies"])
    )
    assert lifecycle(view) == "pd-handed-off"
    assert any("12 Harbour Road" in note for note in view["notes"]), view["notes"]
    assert created_orders(customers) == []


def test_the_problem_is_asked_when_the_ticket_does_not_say(stack, customers):
    ticket, view = open_and_wait(
        stack,
        customers,
        "kustomer",
        "delivered.eligible@bigcommerce.example",
        "I need a replacement for order #5001 please",
    )
    assert "What went wrong?" in view["replies"][-1], view["replies"]
    view = reply_and_wait(stack, customers, ticket, "2, it arrived damaged", len(view["replies"]))
    assert "Which items from order 5001" in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "one of the mugs", len(view["replies"]))
    assert "free replacement for order 5001 (1 × Blue ceramic mug)" in view["replies"][-1]
    assert created_orders(customers) == []
