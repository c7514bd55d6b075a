"""Cancel an order, end to end on the real stack: retention offers in the ticket's variant order, the
accepted offer applied and confirmed, the outcome counted per variant; the cap holds whatever the
customer asks for, and a shipped order is never cancelled."""

from __future__ import annotations

import conversations
import pytest
import redis
from conversations import lifecycle, reply_and_wait

from policies.document.library import PolicyLibrary
from policies.document.variants import variant_for
from worker.offers import offer_report


def open_and_wait(stack, customers, helpdesk, email, text, subject="Cancel my order"):
    return conversations.open_and_wait(stack, customers, helpdesk, email, text, subject, "Fay Fulfil")


RETENTION = "cancel-order-retention-bigcommerce-salesforce"
# how each offer is recognised in the bot's question
OFFER_WORDS = {
    "discount": "10% off",
    "upgrade": "express shipping",
    "swap": "swap an item",
    "coupon": "coupon for your next order",
}
FIRST_OFFER = {"A": "discount", "B": "upgrade", "C": "coupon"}
CANCEL_QUESTION = "Shall I cancel it now?"


def order_writes(customers, order_id: str) -> list[dict]:
    return [
        w
        for w in customers.writes("bigcommerce")
        if w["method"] == "PUT" and w["path"].endswith(f"/v2/orders/{order_id}")
    ]


def cancels(customers, order_id: str) -> list[dict]:
    return [w for w in order_writes(customers, order_id) if (w["body"] or {}).get("status_id") == 5]


def offer_in(reply: str) -> str | None:
    return next((name for name, words in OFFER_WORDS.items() if words in reply), None)


def variant_of(ticket) -> str:
    return variant_for(PolicyLibrary.load().get(RETENTION), ticket.helpdesk, ticket.ticket_id)


def report(stack_redis) -> dict[str, tuple[int, int]]:
    return {
        row.variant: (row.kept, row.cancelled) for row in offer_report(stack_redis) if row.policy == RETENTION
    }


@pytest.fixture(autouse=True)
def fresh_sandbox(sandbox_api, configured):
    return sandbox_api


@pytest.fixture
def stack_redis(stack_env):
    client = redis.Redis.from_url(stack_env["REDIS_URL"], decode_responses=True)
    yield client
    client.close()


ASK_TO_CANCEL = "Please cancel my order #5007, I changed my mind."


def test_the_first_offer_follows_the_variant_and_an_accepted_offer_keeps_the_order(
    stack, customers, stack_redis
):
    counted_before = report(stack_redis)
    ticket, view = open_and_wait(
        stack, customers, "salesforce", "awaiting.fulfillment@bigcommerce.example", ASK_TO_CANCEL
    )
    assert lifecycle(view) == "pd-waiting", (view["replies"], view["notes"])
    variant = variant_of(ticket)
    offered = offer_in(view["replies"][-1])
    assert offered == FIRST_OFFER[variant], (variant, view["replies"][-1])

    view = reply_and_wait(stack, customers, ticket, "Yes, that works", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    assert "pd-type-cancellation" in view["tags"]
    confirmation = view["replies"][-1]
    assert confirmation.startswith("Confirmed:") and "5007" in confirmation  # the async written confirmation
    assert cancels(customers, "5007") == []
    if offered == "discount":
        [write] = order_writes(customers, "5007")
        assert write["body"] == {"discount_amount": "5.70"}  # 10% of the 57.00 items
    elif offered == "upgrade":
        assert order_writes(customers, "5007")[-1]["body"]["shipping_cost_inc_tax"] == "0.00"
    else:
        coupons = [w for w in customers.writes("bigcommerce") if w["path"].endswith("/v2/coupons")]
        assert len(coupons) == 1 and coupons[0]["body"]["amount"] == "20"
    kept, cancelled = report(stack_redis).get(variant, (0, 0))
    assert (kept, cancelled) == (
        counted_before.get(variant, (0, 0))[0] + 1,
        counted_before.get(variant, (0, 0))[1],
    )


def test_declining_every_offer_cancels_after_a_last_confirmation(stack, customers, stack_redis):
    counted_before = report(stack_redis)
    ticket, view = open_and_wait(
        stack, customers, "salesforce", "awaiting.fulfillment@bigcommerce.example", ASK_TO_CANCEL
    )
    variant = variant_of(ticket)
    seen = []
    while CANCEL_QUESTION not in view["replies"][-1]:
        offered = offer_in(view["replies"][-1])
        assert offered and offered not in seen, (seen, view["replies"][-1])
        seen.append(offered)
        assert cancels(customers, "5007") == []
        view = reply_and_wait(stack, customers, ticket, "No thanks", len(view["replies"]))
    assert sorted(seen) == sorted(OFFER_WORDS)  # every offer, each once
    assert seen[0] == FIRST_OFFER[variant]
    assert order_writes(customers, "5007") == []  # declined offers change nothing

    view = reply_and_wait(stack, customers, ticket, "Yes, cancel it", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    assert "is cancelled" in view["replies"][-1]
    assert len(cancels(customers, "5007")) == 1
    kept, cancelled = report(stack_redis).get(variant, (0, 0))
    assert (kept, cancelled) == (
        counted_before.get(variant, (0, 0))[0],
        counted_before.get(variant, (0, 0))[1] + 1,
    )


def test_a_discount_above_the_cap_is_never_given_whatever_the_customer_asks(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "salesforce", "awaiting.fulfillment@bigcommerce.example", ASK_TO_CANCEL
    )
    while offer_in(view["replies"][-1]) != "discount":
        view = reply_and_wait(stack, customers, ticket, "No thanks", len(view["replies"]))
    view = reply_and_wait(stack, customers, ticket, "I'd only stay for 30% off.", len(view["replies"]))
    assert "the most I can offer is 15% off" in view["replies"][-1]
    assert "30%" not in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "ok fine, yes", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    discounts = [
        w["body"]["discount_amount"]
        for w in order_writes(customers, "5007")
        if "discount_amount" in (w["body"] or {})
    ]
    assert discounts == ["8.55"]  # 15% of the 57.00 items, never 30%
    assert cancels(customers, "5007") == []


@pytest.mark.parametrize(
    ("helpdesk", "who", "order"),
    [("salesforce", "shipped.eligible", "5002"), ("kustomer", "partially.shipped", "5008")],
)
def test_a_shipped_order_is_never_cancelled(stack, customers, helpdesk, who, order):
    ticket, view = open_and_wait(
        stack, customers, helpdesk, f"{who}@bigcommerce.example", f"Cancel order #{order} please"
    )
    assert lifecycle(view) == "pd-handed-off", (view["replies"], view["notes"])
    assert "can't be cancelled anymore" in view["replies"][-1]
    assert order_writes(customers, order) == []
    assert any("can no longer be cancelled" in note for note in view["notes"]), view["notes"]


def test_without_retention_an_unshipped_order_is_cancelled_after_a_yes(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "awaiting.shipment@bigcommerce.example", "Please cancel order #5012"
    )
    assert lifecycle(view) == "pd-waiting" and CANCEL_QUESTION in view["replies"][-1]
    assert cancels(customers, "5012") == []
    view = reply_and_wait(stack, customers, ticket, "yes", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved"
    assert len(cancels(customers, "5012")) == 1


def test_an_already_cancelled_order_is_explained(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "cancelled@bigcommerce.example", "Cancel order #5009"
    )
    assert lifecycle(view) == "pd-resolved"
    assert "already cancelled" in view["replies"][-1]
    assert order_writes(customers, "5009") == []
