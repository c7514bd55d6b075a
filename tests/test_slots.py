"""Slot extraction: what a customer's short reply means when the flow asked one specific question."""

from __future__ import annotations

import pytest

from policies.slots import extract_choice, extract_slot, extract_yes_no

ORDERS = [
    {
        "id": "o-1",
        "number": "1041",
        "created_at": "2025-01-14T10:00:00Z",
        "items": [{"name": "Red Teapot", "quantity": 1}],
    },
    {
        "id": "o-2",
        "number": "1043",
        "created_at": "2025-03-02",
        "items": [{"name": "Blue Mug", "quantity": 2}],
    },
    {
        "id": "o-3",
        "number": "#AS-1050",
        "created_at": "2025-04-20",
        "items": [{"name": "Green Kettle", "quantity": 1}, {"name": "Blue Saucer", "quantity": 1}],
    },
]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("the second one", "o-2"),
        ("#1043", "o-2"),
        ("1043 please", "o-2"),
        ("order 1041", "o-1"),
        ("the blue mug", "o-2"),
        ("the one from March", "o-2"),
        ("the teapot from january", "o-1"),
        ("2", "o-2"),
        ("first", "o-1"),
        ("the last one", "o-3"),
        ("AS-1050", "o-3"),
        ("1050", "o-3"),
        ("the kettle", "o-3"),
    ],
)
def test_choice_understands_how_customers_point_at_an_order(reply: str, expected: str) -> None:
    result = extract_slot("choice", reply, options=ORDERS)
    assert result.found
    assert result.value["id"] == expected


@pytest.mark.parametrize(
    "reply",
    [
        "the blue one",  # Blue Mug and Blue Saucer both match: ambiguous
        "the one from June",
        "7",
        "i don't know",
        "",
        "#9999",
    ],
)
def test_choice_refuses_to_guess(reply: str) -> None:
    assert extract_choice(reply, ORDERS) is None


def test_choice_over_plain_strings() -> None:
    options = ["Exchange", "Refund", "Store credit"]
    assert extract_slot("choice", "a refund please", options=options).value == "Refund"
    assert extract_slot("choice", "the third", options=options).value == "Store credit"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("yes", True),
        ("Yep!", True),
        ("sure", True),
        ("yeah it arrived, thanks", True),
        ("Yes I got it", True),
        ("no", False),
        ("nope", False),
        ("nah", False),
        ("No, I haven't received it", False),
        ("I never got it", False),
        ("it has not arrived", False),
        ("didn't get anything", False),
        ("not yet", False),
    ],
)
def test_yes_no(reply: str, expected: bool) -> None:
    assert extract_yes_no(reply) is expected
    assert extract_slot("yes_no", reply).value is expected


@pytest.mark.parametrize("reply", ["maybe", "what do you mean?", "yes and no", ""])
def test_yes_no_unclear(reply: str) -> None:
    assert not extract_slot("yes_no", reply).found


def test_email_from_a_sentence_and_from_html() -> None:
    assert extract_slot("email", "sure, it's Jane.Doe@Example.com thanks").value == "jane.doe@example.com"
    assert extract_slot("email", "<p>my email: <b>li.wei@example.com</b></p>").value == "li.wei@example.com"
    assert not extract_slot("email", "I don't remember which one").found


def test_order_number_accepts_a_bare_number_because_it_was_asked_for() -> None:
    assert extract_slot("order_number", "10452").value == "10452"
    assert extract_slot("order_number", "it's #1043").value == "1043"
    assert not extract_slot("order_number", "call me at 555-123-4567").found


def test_quoted_history_is_not_read_as_the_answer() -> None:
    reply = "the second one\n\nOn Mon, 3 Mar 2025 at 10:02, Shop <help@shop.example> wrote:\n> 1. #1041"
    assert extract_slot("choice", reply, options=ORDERS).value["id"] == "o-2"
