"""The one short question for a ticket the classifier is unsure about, and how its answer is read."""

from __future__ import annotations

import pytest

from policies.understanding import Understanding
from policies.understanding.clarify import (
    Clarification,
    clarifying_question,
    confirmed_by_reading,
    says_nothing,
    settle,
)
from policies.understanding.classifier import Classification
from policies.understanding.local import LocalReader

HANDLED = {"wismo", "cancellation", "replacement", "skip_shipment"}.__contains__


def unsure(**scores: float) -> Classification:
    label = max(scores, key=scores.__getitem__)
    return Classification(label, scores[label], scores=scores)


def test_a_request_the_reader_recognises_is_asked_about_first() -> None:
    question = clarifying_question(
        unsure(other=0.45, wismo=0.25, cancellation=0.17, replacement=0.13), HANDLED, ["where_is_order"]
    )
    assert question == Clarification(("wismo", "cancellation"))
    assert "an order that hasn't arrived yet, or cancelling an order?" in question.text


def test_two_likely_types_without_a_recognised_request_still_get_the_question() -> None:
    question = clarifying_question(unsure(other=0.6, cancellation=0.33, wismo=0.07), HANDLED, [])
    assert question == Clarification(("cancellation", "other"))


@pytest.mark.parametrize(
    "classification",
    [
        unsure(
            other=0.3, wismo=0.25, cancellation=0.2, replacement=0.15, skip_shipment=0.1
        ),  # nothing stands out
        unsure(other=0.9, wismo=0.1),  # clearly something else
    ],
)
def test_no_question_when_one_would_not_settle_it(classification: Classification) -> None:
    assert clarifying_question(classification, HANDLED, []) is None


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("yes", "wismo"),
        ("the first one", "wismo"),
        ("it never arrived", "wismo"),
        ("I want to cancel it", "cancellation"),
        ("cancelling", "cancellation"),
        ("hmm", None),
    ],
)
def test_the_answer_picks_the_type(reply: str, label: str | None) -> None:
    assert settle(Clarification(("wismo", "cancellation")), reply, LocalReader()) == label


def _said(text: str) -> Understanding:
    memory = Understanding()
    memory.add(LocalReader().read(text), text)
    return memory


@pytest.mark.parametrize(
    ("subject", "text", "empty"),
    [
        ("hello", "hello?", True),
        ("order", "Hello, it's about my order from yesterday.", True),
        ("", "Hi there, I have a question about order #10527", True),
        ("", "Good morning team, regarding my purchase", True),
        ("Where is my order", "hi", False),  # the subject says it
        ("", "Can you check on my order?", False),
        ("", "my order is late", False),
        ("", "Do you ship to Montreal?", False),
        ("", "let me talk to a person", False),
    ],
)
def test_a_first_message_that_says_nothing_yet_is_told_apart(subject: str, text: str, empty: bool) -> None:
    assert says_nothing(subject, text, _said(text)) is empty


def test_an_unsure_ticket_goes_where_the_customers_own_request_points() -> None:
    """ "where are my 2 orders? the plates and the skillet": the item names pull the classifier
    towards a damage complaint, the words ask where the orders are."""
    classification = unsure(replacement=0.45, wismo=0.41, other=0.08, cancellation=0.06)
    assert confirmed_by_reading(classification, HANDLED, ["where_is_order"]) == "wismo"


def test_a_stated_lost_parcel_does_not_overrule_the_classifiers_first_guess() -> None:
    """ "Order 10545 is lost apparently. Can you sort it out?": lost is a replacement's business as
    much as a late order's, so the words do not decide, and the question is asked instead."""
    classification = unsure(replacement=0.56, wismo=0.35, other=0.06, cancellation=0.03)
    assert confirmed_by_reading(classification, HANDLED, ["not_received"]) is None
    assert clarifying_question(classification, HANDLED, ["not_received"]) is not None
