"""Every customer message is read and every write's outcome is settled, through the real stack.

- Two messages written before the worker handled the first are one turn's input, in order: the "yes"
  in the first is acted on even though a "thanks" came after it.
- A create or a reply whose answer was lost (a gateway error after the platform applied it, or before
  it did) is retried: the retried turn looks it up through the ledger, writes it only if it is not
  there, and the customer is told; nothing is created or sent twice.
"""

from __future__ import annotations

import conversations
import pytest
from conversations import lifecycle, reply_and_wait
from sandbox_calls import inject

EMAIL = "delivered.eligible@bigcommerce.example"
ASK = "Order #5001 arrived damaged, both mugs are broken. Can you send a replacement?"


@pytest.fixture(autouse=True)
def fresh_sandbox(sandbox_api, configured):
    """Seeded orders for every test (a replacement makes the original ineligible the next time)."""
    return sandbox_api


def created_orders(customers) -> list[dict]:
    return [
        w
        for w in customers.writes("bigcommerce")
        if w["method"] == "POST" and w["path"].endswith("/v2/orders") and not w.get("fault")
    ]


def offered(stack, customers, helpdesk):
    ticket, view = conversations.open_and_wait(
        stack, customers, helpdesk, EMAIL, ASK, "Replacement please", "Dana Delivered"
    )
    assert lifecycle(view) == "pd-waiting", (view["replies"], view["notes"])
    assert "free replacement for order 5001" in view["replies"][-1]
    return ticket, view


@pytest.mark.parametrize("helpdesk", ["kustomer", "salesforce"])
def test_a_yes_followed_by_a_thanks_before_the_worker_reads_it_is_acted_on(stack, customers, helpdesk):
    ticket, view = offered(stack, customers, helpdesk)
    yes = customers.reply(ticket, "Yes, same address")
    thanks = customers.reply(ticket, "Thanks a lot, sent from my phone")
    for delivery in (yes, thanks):  # both messages are on the ticket before either is handled
        assert delivery.post(stack.url).status_code in (200, 202)
    view = customers.wait_for(ticket, lambda v: any("is set up" in r for r in v["replies"]), timeout=40)
    assert len(created_orders(customers)) == 1, (view["replies"], view["notes"])
    assert "is set up" in view["replies"][-1]
    assert "pd-handed-off" not in view["tags"]


@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
def test_a_lost_answer_on_the_create_is_reconciled_and_the_customer_is_told(
    stack, customers, sandbox_api, applied
):
    ticket, view = offered(stack, customers, "kustomer")
    inject(
        sandbox_api,
        "bigcommerce",
        status=502,
        method="POST",
        path_contains="/v2/orders",
        after_applying=applied,
    )
    view = reply_and_wait(stack, customers, ticket, "Yes, same address", len(view["replies"]))
    assert len(created_orders(customers)) == 1, (view["replies"], view["notes"])
    assert "is set up" in view["replies"][-1], (view["replies"], view["notes"])
    assert "pd-handed-off" not in view["tags"]


def test_a_reply_the_helpdesk_failed_to_take_is_sent_once_on_the_retry(stack, customers, sandbox_api):
    ticket, view = offered(stack, customers, "kustomer")
    inject(sandbox_api, "kustomer", status=503, method="POST", path_contains="/drafts")
    view = reply_and_wait(stack, customers, ticket, "Yes, same address", len(view["replies"]))
    assert len(created_orders(customers)) == 1
    set_up = [r for r in view["replies"] if "is set up" in r]
    assert len(set_up) == 1, view["replies"]
    assert "pd-handed-off" not in view["tags"], view["notes"]
