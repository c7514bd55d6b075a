"""The one short question for a ticket the classifier is unsure about, and how its answer is read."""

from __future__ import annotations

import pytest

from policies.understanding.clarify import Clarification, clarifying_question, settle
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
