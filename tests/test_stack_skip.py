"""Skip the next subscription delivery, end to end: a webhook to gunicorn, the worker runs the Smartrr
skip policy against the sandbox, and we read back what the customer was told, how the ticket ended
and what changed on the subscription."""

from __future__ import annotations

import conversations
import pytest
from conversations import lifecycle, reply_and_wait

from connectors.smartrr import get_smartrr_subscription


def open_and_wait(stack, customers, helpdesk, email, text, subject="Skip my next box"):
    return conversations.open_and_wait(stack, customers, helpdesk, email, text, subject, "Olive Active")


def skips(customers) -> list[dict]:
    return [w for w in customers.writes("smartrr") if w["method"] == "PUT" and w["path"].endswith("/skip")]


@pytest.fixture(autouse=True)
def fresh_sandbox(sandbox_api, configured):
    """Seeded subscriptions for every test (a skip moves the next delivery)."""
    return sandbox_api


@pytest.mark.parametrize("helpdesk", ["kustomer", "freshdesk", "salesforce"])
def test_the_next_delivery_is_skipped_after_the_customer_says_yes(stack, customers, helpdesk):
    before = get_smartrr_subscription("9100000001")
    ticket, view = open_and_wait(
        stack, customers, helpdesk, "one.active@smartrr.example", "Hi, please skip my next box, thanks!"
    )
    assert lifecycle(view) == "pd-waiting", (view["replies"], view["notes"])
    assert "Shall I skip it?" in view["replies"][-1] and "Morning Blend Coffee" in view["replies"][-1]
    assert skips(customers) == []  # nothing changes before the yes

    view = reply_and_wait(stack, customers, ticket, "Yes please", len(view["replies"]))
    after = get_smartrr_subscription("9100000001")
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    assert "pd-type-skip-shipment" in view["tags"]
    assert len(skips(customers)) == 1
    assert after.next_delivery > before.next_delivery
    assert before.next_delivery in after.skipped_dates
    assert f"Your next delivery is now on {human(after.next_delivery)}" in view["replies"][-1]


def test_the_customer_picks_one_of_two_subscriptions(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "two.active@smartrr.example", "Can you skip my next delivery?"
    )
    question = view["replies"][-1]
    assert "Oat Milk Creamer" in question and "Morning Blend Coffee" in question
    view = reply_and_wait(stack, customers, ticket, "the coffee one, number 2", len(view["replies"]))
    assert "Morning Blend Coffee" in view["replies"][-1] and "Shall I skip it?" in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "yep", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved"
    [skip] = skips(customers)
    assert get_smartrr_subscription("9100000002").skipped_dates
    assert not get_smartrr_subscription("9100000003").skipped_dates


def test_no_means_nothing_is_skipped(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "one.active@smartrr.example", "skip next month"
    )
    view = reply_and_wait(stack, customers, ticket, "No, actually leave it", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved"
    assert "left your subscription as it is" in view["replies"][-1]
    assert skips(customers) == []


def test_skip_several_skips_one_and_hands_off_the_rest(stack, customers):
    ticket, view = open_and_wait(
        stack,
        customers,
        "freshdesk",
        "one.active@smartrr.example",
        "I have too much coffee, please skip my next two deliveries",
    )
    assert "a colleague will arrange the deliveries after that" in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "yes", len(view["replies"]))
    assert lifecycle(view) == "pd-handed-off"
    assert len(skips(customers)) == 1  # one skip by the bot, the rest by a person
    assert "asked a colleague to skip the ones after that" in view["replies"][-1]
    assert any("skip more than one delivery" in note for note in view["notes"]), view["notes"]


def test_a_paused_subscription_is_not_skipped_and_can_be_handed_off_to_resume(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "salesforce", "paused@smartrr.example", "Please skip my next box"
    )
    assert lifecycle(view) == "pd-waiting"
    assert "paused" in view["replies"][-1] and "nothing will ship" in view["replies"][-1]
    view = reply_and_wait(stack, customers, ticket, "yes please resume it", len(view["replies"]))
    assert lifecycle(view) == "pd-handed-off"
    assert any("would like it resumed" in note for note in view["notes"]), view["notes"]
    assert skips(customers) == [] and customers.writes("smartrr") == []


def test_a_cancelled_subscription_is_explained(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "cancelled@smartrr.example", "Skip my next box please"
    )
    assert lifecycle(view) == "pd-resolved"
    assert "was cancelled" in view["replies"][-1]
    assert customers.writes("smartrr") == []


def test_no_subscriptions_goes_to_a_person(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "no.subscriptions@smartrr.example", "Skip my next box"
    )
    assert lifecycle(view) == "pd-handed-off"
    assert any("Handed off because" in note for note in view["notes"])
    assert customers.writes("smartrr") == []


def human(iso_date: str) -> str:
    """How the policies print a date: "March 7, 2025"."""
    from datetime import date

    day = date.fromisoformat(iso_date)
    return f"{day:%B} {day.day}, {day.year}"
