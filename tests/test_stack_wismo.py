""" "Where is my order?" resolved end to end on every helpdesk: a webhook to gunicorn, the worker runs the
WISMO policy against the sandboxed trackers, and we read what the customer was told and how the ticket
ended (lifecycle tag, note, group) back from the sandbox."""

from __future__ import annotations

import time

import conversations
import pytest
from conversations import lifecycle, reply_and_wait


def open_and_wait(stack, customers, helpdesk, email, text, subject="Where is my order?"):
    return conversations.open_and_wait(stack, customers, helpdesk, email, text, subject, "Sam Rivera")


SHIPENGINE_CASES = [
    # customer (…@shipengine.example), what the customer is told, how the ticket ends
    ("approved", "is confirmed", "pd-resolved"),
    ("processing", "being prepared", "pd-resolved"),
    ("pending-shipment", "scheduled to ship on", "pd-resolved"),
    ("shipped", "has shipped", "pd-resolved"),
    ("in-transit.on-time", "on schedule", "pd-resolved"),
    ("in-transit.late", "overdue", "pd-handed-off"),
    ("delivered", "Did it reach you?", "pd-waiting"),
    ("canceled", "was canceled", "pd-resolved"),
    ("exception", "problem with order", "pd-handed-off"),
    ("lost", "problem with order", "pd-handed-off"),
]
AFTERSHIP_CASES = [
    ("shipped", "is on its way", "pd-resolved"),
    ("in-transit.on-time", "on schedule", "pd-resolved"),
    ("in-transit.late", "running late", "pd-handed-off"),  # this policy hands off any delay
    ("delivered", "Has it reached you?", "pd-waiting"),
    ("exception", "problem with order", "pd-handed-off"),
    ("lost", "problem with order", "pd-handed-off"),
]
PARAMS = (
    [("kustomer", "shipengine", *case) for case in SHIPENGINE_CASES]
    + [("freshdesk", "shipengine", *case) for case in SHIPENGINE_CASES]
    + [("salesforce", "aftership", *case) for case in AFTERSHIP_CASES]
)


@pytest.mark.parametrize(("helpdesk", "tracker", "who", "told", "ends"), PARAMS)
def test_every_status_is_answered_on_each_helpdesk(stack, customers, helpdesk, tracker, who, told, ends):
    ticket, view = open_and_wait(
        stack, customers, helpdesk, f"{who}@{tracker}.example", "Hi, where is my order? It's been a while."
    )
    assert lifecycle(view) == ends, (view["tags"], view["replies"], view["notes"])
    assert "pd-type-wismo" in view["tags"]
    if told:
        assert view["replies"] and told in view["replies"][-1], view["replies"]
    if ends == "pd-handed-off":
        assert any("Handed off because" in note for note in view["notes"]), view["notes"]
    else:
        assert view["notes"] == []


@pytest.mark.parametrize("helpdesk", ["kustomer", "freshdesk"])
def test_order_is_chosen_in_a_later_reply(stack, customers, helpdesk):
    ticket, view = open_and_wait(
        stack, customers, helpdesk, "three.orders@shipengine.example", "Where are my orders at?"
    )
    assert lifecycle(view) == "pd-waiting"
    question = view["replies"][-1]
    assert "SS-1020" in question and "SS-1021" in question and "SS-1022" in question
    view = reply_and_wait(stack, customers, ticket, "The second one please", len(view["replies"]))
    assert "SS-1021" in view["replies"][-1] and "has shipped" in view["replies"][-1]
    assert lifecycle(view) == "pd-resolved"


def test_order_named_in_the_first_message_is_not_asked_for(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "three.orders@shipengine.example", "Where is order SS-1022?"
    )
    assert len(view["replies"]) == 1 and "being prepared" in view["replies"][0]
    assert lifecycle(view) == "pd-resolved"


ORDER, ZIP = "SS-1006", "60606"  # in-transit.on-time's order and the postcode it ships to


def test_email_is_asked_when_the_ticket_has_none(stack, customers):
    # a chat without an email; the customer is known to Kustomer from an earlier conversation
    open_and_wait(stack, customers, "kustomer", "in-transit.on-time@shipengine.example", "Earlier question")
    ticket, view = open_and_wait(stack, customers, "kustomer", None, "Where is my parcel??")
    assert lifecycle(view) == "pd-waiting" and "email" in view["replies"][-1].lower()
    view = reply_and_wait(
        stack,
        customers,
        ticket,
        "sure it's in-transit.on-time@shipengine.example thanks",
        len(view["replies"]),
    )
    # typing an address proves nothing: the customer shows an order of that account and its postcode
    assert "postcode" in view["replies"][-1] and "on schedule" not in " ".join(view["replies"])
    view = reply_and_wait(stack, customers, ticket, f"order {ORDER}, zip {ZIP}", len(view["replies"]))
    assert "on schedule" in view["replies"][-1], view["replies"]
    assert lifecycle(view) == "pd-resolved"


def test_customer_who_never_gives_an_email_is_handed_off_after_asking_twice(stack, customers):
    ticket, view = open_and_wait(stack, customers, "kustomer", None, "where is my stuff")
    assert lifecycle(view) == "pd-waiting", (view["notes"], view["replies"])
    view = reply_and_wait(stack, customers, ticket, "why do you need that", len(view["replies"]))
    assert lifecycle(view) == "pd-waiting"
    view = reply_and_wait(stack, customers, ticket, "just tell me where it is", len(view["replies"]))
    assert lifecycle(view) == "pd-handed-off"
    assert any("could not prove the email" in note for note in view["notes"]), view["notes"]


@pytest.mark.parametrize(
    ("answer", "said", "ends"),
    [
        ("Yes, got it, thanks!", "enjoy your order", "pd-resolved"),
        ("No, nothing arrived", "open an investigation", "pd-handed-off"),
    ],
)
def test_delivered_is_confirmed_or_handed_off_as_not_received(stack, customers, answer, said, ends):
    ticket, view = open_and_wait(stack, customers, "kustomer", "delivered@shipengine.example", "Where is it?")
    assert lifecycle(view) == "pd-waiting"
    view = reply_and_wait(stack, customers, ticket, answer, len(view["replies"]))
    assert said in view["replies"][-1]
    assert lifecycle(view) == ends
    if ends == "pd-handed-off":
        assert any("not received" in note.lower() for note in view["notes"]), view["notes"]


@pytest.mark.parametrize("helpdesk", ["kustomer", "freshdesk", "salesforce"])
def test_a_reply_delivered_twice_is_answered_once(stack, customers, helpdesk):
    tracker = "aftership" if helpdesk == "salesforce" else "shipengine"
    ticket, view = open_and_wait(stack, customers, helpdesk, f"delivered@{tracker}.example", "Where?")
    before = len(view["replies"])
    sent: list = []
    view = reply_and_wait(stack, customers, ticket, "yes it came", before, delivery_out=sent)
    [delivery] = sent
    assert delivery.post(stack.url).status_code in (200, 202)  # the helpdesk's retry
    time.sleep(2)
    view = customers.view(ticket)
    assert len(view["replies"]) == before + 1
    assert lifecycle(view) == "pd-resolved"


def test_no_orders_is_handed_off_with_a_summary(stack, customers, stack_env):
    ticket, view = open_and_wait(
        stack, customers, "freshdesk", "no-orders@shipengine.example", "Where's my order"
    )
    assert lifecycle(view) == "pd-handed-off"
    note = view["notes"][-1]
    assert "Customer wants" in note and "Checked" in note and "Handed off because" in note
    assert str(view["group"]) == stack_env["FRESHDESK_HANDOFF_GROUP_ID"]


def test_bot_stays_silent_once_handed_off(stack, customers):
    ticket, view = open_and_wait(stack, customers, "kustomer", "lost@shipengine.example", "Where is it")
    assert lifecycle(view) == "pd-handed-off"
    replies = len(view["replies"])
    delivery = customers.reply(ticket, "Hello? Any news?")
    assert delivery.post(stack.url).status_code in (200, 202)
    time.sleep(2)
    assert len(customers.view(ticket)["replies"]) == replies


def test_case_without_an_email_goes_to_a_person(stack, customers):
    """Salesforce answers by email: with no address to write to, a person takes it."""
    ticket, view = open_and_wait(stack, customers, "salesforce", None, "where is my stuff")
    assert lifecycle(view) == "pd-handed-off"
    assert view["replies"] == []
    assert any("no requester email" in note for note in view["notes"]), view["notes"]


@pytest.mark.parametrize(
    "triggered_event",
    [None, "{reply_sent:sent}", "{ticket_action:updated}"],
    ids=["not-ticked", "reply-like", "not-understood"],
)
def test_a_freshdesk_simple_content_reply_resumes_the_conversation(stack, customers, triggered_event):
    """What "Reply is sent" renders as triggered_event is not recorded anywhere: every reading works."""
    ticket = customers.open_ticket(
        "freshdesk",
        "Where is my order?",
        "Where are my orders at?",
        "three.orders@shipengine.example",
        simple=True,
    )
    for delivery in ticket.deliveries:
        assert delivery.post(stack.url).status_code in (200, 202)
    view = customers.wait_for(ticket, conversations.settled(), timeout=40)
    assert lifecycle(view) == "pd-waiting"

    reply = customers.reply(ticket, "The second one please", simple=True, triggered_event=triggered_event)
    assert reply.post(stack.url).status_code == 202
    view = customers.wait_for(ticket, lambda v: "pd-resolved" in v["tags"], timeout=40)
    assert "SS-1021" in view["replies"][-1] and "has shipped" in view["replies"][-1]


def test_a_terse_first_message_gets_one_short_question_instead_of_a_person(stack, customers):
    """The classifier is unsure about "hi, checking on my order", but one question settles it."""
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "shipped@shipengine.example", "hi, checking on my order"
    )
    if lifecycle(view) == "pd-waiting" and "is this about" in view["replies"][-1]:
        assert "an order that hasn't arrived yet" in view["replies"][-1]
        view = reply_and_wait(stack, customers, ticket, "yes, where is it?", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved", (view["replies"], view["notes"])
    assert "has shipped" in view["replies"][-1]


def test_a_thank_you_after_the_answer_bothers_nobody(stack, customers):
    ticket, view = open_and_wait(
        stack, customers, "kustomer", "three.orders@shipengine.example", "Where is order SS-1022?"
    )
    assert lifecycle(view) == "pd-resolved"
    customers.reply(ticket, "Thanks so much!").post(stack.url)
    time.sleep(4)  # the worker's turn: nothing should come of it
    view = customers.wait_for(ticket, conversations.settled(), timeout=20)
    assert lifecycle(view) == "pd-resolved" and view["notes"] == [], (view["tags"], view["notes"])
    assert len(view["replies"]) == 1
