"""The understanding layer's Claude reader through the real anthropic SDK against the sandbox's Messages
API: one forced tool call per message with the reading's schema, the local reading on any failure, and a
Claude yes that the local reader contradicts never authorises a write."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_calls import claude_requests, script_claude

from connectors.claude import ClaudeSettings, claude_client
from policies.understanding import Confirmation, Question, reader_for
from policies.understanding.claude import READING_TOOL, ClaudeReader
from policies.understanding.local import LocalReader, read_locally

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

FAST = ClaudeSettings(retries=3, max_wait=0.2)
ORDERS = (
    {"id": "o-1", "number": "1041", "items": [{"name": "Blue mug"}]},
    {"id": "o-2", "number": "1042", "items": [{"name": "Linen shirt"}]},
    {"id": "o-3", "number": "1043", "items": [{"name": "Tea towel"}]},
)
CANCEL = Question("yes_no", "Shall I cancel order 5012?", action="cancel_bigcommerce_order")


@pytest.fixture
def env(sandbox, sandbox_api) -> dict[str, str]:
    return sandbox.env(claude=True)


@pytest.fixture
def reader(env) -> ClaudeReader:
    client = claude_client(env)
    assert client is not None
    return ClaudeReader(client, settings=FAST)


def reading_step(**values: Any) -> dict[str, Any]:
    return {"tool_use": {"name": READING_TOOL, "input": {"intents": [], "answer": "unclear", **values}}}


def test_a_choice_the_rules_cannot_read_comes_from_claude(reader, sandbox_api):
    question = Question("choice", "Which order?", options=ORDERS, labels=("#1041", "#1042", "#1043"))
    reply = "the one with the shirt in it, not the mug"
    assert read_locally(reply, question).picks != [1]
    script_claude(sandbox_api, "with the shirt", reading_step(answer="yes", picks=[2]))

    reading = reader.read(reply, question)

    assert reading.picks == [1] and reading.reader == "claude"
    [seen] = claude_requests(sandbox_api)
    body = seen["body"]
    assert body["tool_choice"] == {"type": "tool", "name": READING_TOOL}
    assert body["tools"][0]["input_schema"]["properties"]["picks"]["items"]["enum"] == [1, 2, 3]
    assert "#1042" in body["messages"][0]["content"]  # the options as the customer saw them


def test_one_call_reads_the_whole_message(reader, sandbox_api):
    text = "hola, mi pedido 5001 nunca llegó y quiero hablar con alguien. li.wei@example.com"
    script_claude(
        sandbox_api,
        "nunca lleg",
        reading_step(
            language="es",
            intents=["not_received", "human"],
            order_numbers=["5001"],
            email="Li.Wei@Example.com",
            facts={"received": False},
            problem="lost",
        ),
    )

    reading = reader.read(text)

    assert reading.language == "es" and reading.wants_person
    assert reading.order_numbers == ["5001"] and reading.email == "li.wei@example.com"
    assert reading.facts == {"received": False} and reading.problem == "lost"
    assert len(claude_requests(sandbox_api)) == 1


def test_a_claude_yes_the_local_reader_contradicts_authorises_nothing(reader, sandbox_api):
    reply = "yes if you refund the shipping too"
    script_claude(sandbox_api, "refund the shipping", reading_step(answer="yes"))

    reading = reader.read(reply, CANCEL)

    assert reading.answer == "yes" and not reading.plain_yes
    assert not Confirmation.of(reading, "cancel_bigcommerce_order").authorises("cancel_bigcommerce_order")


def test_a_plain_yes_in_a_language_the_rules_do_not_read_stands(reader, sandbox_api):
    script_claude(sandbox_api, "adelante", reading_step(answer="yes", language="es"))

    reading = reader.read("sí, adelante por favor", CANCEL)

    assert reading.plain_yes
    assert Confirmation.of(reading, "cancel_bigcommerce_order").authorises("cancel_bigcommerce_order")


@pytest.mark.parametrize(
    ("reply", "step"),
    [
        ("it's order 10452", reading_step(order_numbers=["99999"])),
        ("the second one", reading_step(picks=[7])),
        ("yes please", reading_step(answer="maybe")),
        ("sure, jane.doe@example.com", {"error": 529, "retry_after": 0}),
        ("just the text", {"text": "I think they mean yes"}),
    ],
    ids=["invented-number", "pick-out-of-range", "not-in-enum", "overloaded", "prose"],
)
def test_any_failure_gives_the_local_reading(reader, sandbox_api, reply, step):
    script_claude(sandbox_api, reply, *[step] * 3)
    question = Question("choice", "Which order?", options=ORDERS) if "second" in reply else CANCEL

    reading = reader.read(reply, question)

    assert reading.to_dict() == read_locally(reply, question).to_dict()


def test_a_request_for_a_person_is_never_dropped(reader, sandbox_api):
    script_claude(sandbox_api, "real person", reading_step(intents=["where_is_order"]))

    assert reader.read("where is it? I want a real person").wants_person


def test_without_a_key_the_reader_is_local(env):
    assert isinstance(reader_for({k: v for k, v in env.items() if k != "ANTHROPIC_API_KEY"}), LocalReader)
    assert isinstance(reader_for(env), ClaudeReader)
