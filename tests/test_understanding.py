"""The local reader on our own labelled customer replies (tests/data/replies.yaml), one test per reply.

Every reply says what it must be read as: the answer to the question the bot asked (a plain yes is the
only answer that may authorise a write), the requests in it, the facts it states, the orders, items and
quantities it names, its language. The file is the team's own writing, in several registers (terse,
polite, angry, typos, HTML); no line comes from the measurement data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.understanding import Confirmation, Question, Understanding, only_thanks
from policies.understanding.local import read_locally

DATA = Path(__file__).parent / "data" / "replies.yaml"
GROUPS = yaml.safe_load(DATA.read_text(encoding="utf-8"))


def cases() -> list[Any]:
    out = []
    for group in GROUPS:
        spec = dict(group["question"])
        for reply in group["replies"]:
            out.append(pytest.param(spec, reply, id=f"{spec['kind']}:{reply['text'][:50]}"))
    return out


def question_of(spec: dict[str, Any]) -> Question:
    options = tuple(spec.get("options") or ())
    return Question(
        spec["kind"],
        spec.get("text", ""),
        options=options,
        topic=spec.get("topic"),
        action=spec.get("action"),
        today=spec.get("today"),
    )


def test_there_are_at_least_300_labelled_replies() -> None:
    assert sum(len(group["replies"]) for group in GROUPS) >= 300


@pytest.mark.parametrize(("spec", "reply"), cases())
def test_reply_is_read_as_labelled(spec: dict[str, Any], reply: dict[str, Any]) -> None:
    question = question_of(spec)
    reading = read_locally(reply["text"], question)
    seen = reading.to_dict()
    if "answer" in reply:
        expected = {True: "yes", False: "no"}.get(reply["answer"], reply["answer"])  # YAML reads yes as true
        if expected == "yes":
            assert reading.plain_yes, seen
        elif expected == "no":
            assert reading.answer == "no", seen
        else:
            assert not reading.plain_yes and reading.answer != "no", seen
        if question.action:  # the guards' verdict agrees with the reading
            assert Confirmation.of(reading, question.action).authorises(question.action) is (
                expected == "yes"
            )
    for intent in reply.get("intents", []):
        assert intent in reading.intents, seen
    for intent in reply.get("no_intents", []):
        assert intent not in reading.intents, seen
    for fact, value in (reply.get("facts") or {}).items():
        assert reading.facts.get(fact) is value, seen
    if "problem" in reply:
        assert reading.problem == reply["problem"], seen
    if "count" in reply:
        assert reading.count == reply["count"], seen
    if "address" in reply:
        assert reading.address and reply["address"] in reading.address, seen
    if "order_numbers" in reply:
        assert reading.order_numbers == reply["order_numbers"], seen
    if "email" in reply:
        assert reading.email == reply["email"], seen
    if "picks" in reply:
        assert [p + 1 for p in reading.picks] == reply["picks"], seen
    if "items" in reply:
        named = {question.options[i]["name"]: reading.quantities.get(i) for i in reading.picks}
        assert named == reply["items"], seen
    if "language" in reply:
        expected_language = None if reply["language"] == "none" else reply["language"]
        assert reading.language == expected_language, seen


def test_a_verdict_about_one_tool_never_authorises_another() -> None:
    question = Question("yes_no", "Shall I cancel order 5012?", action="cancel_bigcommerce_order")
    verdict = Confirmation.of(read_locally("yes", question), "cancel_bigcommerce_order")
    assert verdict.authorises("cancel_bigcommerce_order")
    assert not verdict.authorises("set_discount_to_order")


def test_what_was_said_in_any_turn_is_kept_and_later_turns_win() -> None:
    memory = Understanding()
    for text in (
        "Order #5001 never arrived",
        "my email is jane@shop.example",
        "found it, my neighbour had it",
    ):
        memory.add(read_locally(text), text)
    said = memory.namespace()
    assert said["order_number"] == "5001" and said["email"] == "jane@shop.example"
    assert said["received"] is True and said["found"] is True
    assert Understanding.from_dict(memory.to_dict()).namespace() == said


def test_items_named_in_the_first_message_are_matched_once_the_order_is_known() -> None:
    memory = Understanding()
    text = "Order #5001 arrived damaged, both mugs are broken."
    memory.add(read_locally(text), text)
    items = [{"name": "Blue ceramic mug", "quantity": 2}, {"name": "Stoneware dinner plate", "quantity": 1}]
    assert memory.items_of(items) == {0: 2}


@pytest.mark.parametrize(
    ("text", "thanks"),
    [
        ("thanks!", True),
        ("Thank you so much, have a great day!", True),
        ("ok great, thanks a lot", True),
        ("<p>Thanks!</p><p>Ana</p>", True),
        ("thanks, but where is my other order?", False),
        ("thanks, it never arrived though", False),
        ("great, cancel the other one too", False),
        ("thanks. order 5002 is missing too", False),
    ],
)
def test_a_thank_you_is_told_apart_from_a_new_request(text: str, thanks: bool) -> None:
    assert only_thanks(text) is thanks
