"""Claude-backed classification through the real anthropic SDK against the sandbox's
Messages API: scripted answers are used, and every kind of failure gives the local answer instead,
within the retry budget."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import requests

from connectors.claude import (
    ClaudeRateLimited,
    ClaudeSettings,
    ClaudeUnavailable,
    call_messages,
    claude_client,
)
from connectors.errors import AuthFailed
from policies.understanding.classifier import LABELS, LocalClassifier
from policies.understanding.claude_classifier import ClaudeClassifier, claude_or_local

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

FAST = ClaudeSettings(retries=3, max_wait=0.2)
# Vague on purpose: the local model reads it as "wismo" with low confidence; a scripted Claude answer
# ("replacement") must win.
VAGUE = "the box from last week is a sad sight, can you sort it? jane@example.com"


@pytest.fixture(scope="module")
def local() -> LocalClassifier:
    return LocalClassifier()


@pytest.fixture
def env(sandbox, sandbox_api) -> dict[str, str]:
    return sandbox.env(claude=True)


@pytest.fixture
def classifier(env, local) -> ClaudeClassifier:
    client = claude_client(env)
    assert client is not None
    return ClaudeClassifier(client, local, settings=FAST)


def script(api: requests.Session, match: str, *steps: dict[str, Any]) -> None:
    response = api.post(
        f"{api.base_url}/_sandbox/anthropic/scripts", json={"match": match, "steps": list(steps)}
    )
    response.raise_for_status()


def received(api: requests.Session) -> list[dict[str, Any]]:
    return api.get(f"{api.base_url}/_sandbox/anthropic/requests", params={"meta": 1}).json()


def classify_step(**answer: Any) -> dict[str, Any]:
    return {"tool_use": {"name": "classify_ticket", "input": answer}}


def test_claude_answer_is_used_with_a_forced_tool_call(classifier, local, sandbox_api):
    assert local.classify(VAGUE).label != "replacement"
    script(
        sandbox_api,
        "sad sight",
        classify_step(label="replacement", confidence=0.82, email="jane@example.com"),
    )

    result = classifier.classify(VAGUE, subject="Question")

    assert (result.label, result.confidence) == ("replacement", 0.82)
    assert result.facts == {"email": "jane@example.com"}
    assert result.scores["replacement"] == 0.82 and sum(result.scores.values()) == pytest.approx(1, abs=1e-3)
    [seen] = received(sandbox_api)
    body = seen["body"]
    assert body["tool_choice"] == {"type": "tool", "name": "classify_ticket"}
    [tool] = body["tools"]
    assert tool["input_schema"]["properties"]["label"]["enum"] == list(LABELS)
    assert tool["input_schema"]["properties"]["confidence"] == {
        **tool["input_schema"]["properties"]["confidence"],
        "minimum": 0,
        "maximum": 1,
    }
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "Subject: Question" in body["messages"][0]["content"]


def test_facts_not_in_the_ticket_are_dropped(classifier, sandbox_api):
    text = "please cancel my order #5521 right away"
    script(
        sandbox_api,
        "cancel my order #5521",
        classify_step(
            label="cancellation", confidence=0.95, email="someone@else.example", order_number="#9999"
        ),
    )

    result = classifier.classify(text)

    assert result.label == "cancellation"
    assert result.facts == {"order_number": "5521"}  # the invented email is gone; the real number is kept


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(classify_step(label="refund", confidence=0.9), id="unknown-label"),
        pytest.param(classify_step(label="wismo", confidence=1.7), id="confidence-above-1"),
        pytest.param(classify_step(label="wismo", confidence="high"), id="confidence-not-a-number"),
        pytest.param(classify_step(label="wismo", confidence=0.9, email=42), id="email-not-a-string"),
        pytest.param({"text": "I think this is wismo."}, id="text-instead-of-the-tool"),
        pytest.param({"tool_use": {"name": "other_tool", "input": {}}}, id="wrong-tool"),
        pytest.param({"max_tokens": True}, id="cut-off"),
    ],
)
def test_invalid_output_gives_the_local_answer_without_retrying(classifier, local, sandbox_api, step):
    script(sandbox_api, "sad sight", step)

    result = classifier.classify(VAGUE)

    assert result == local.classify(VAGUE)
    assert len(received(sandbox_api)) == 1


@pytest.mark.parametrize("status", [529, 500, 429])
def test_outage_uses_the_whole_budget_then_the_local_answer(classifier, local, sandbox_api, status):
    script(sandbox_api, "sad sight", *[{"error": status, "retry_after": 0}] * 5)

    result = classifier.classify(VAGUE)

    assert result == local.classify(VAGUE)
    assert [r["status"] for r in received(sandbox_api)] == [status] * FAST.retries  # no retry storm
    assert {r["retry_count"] for r in received(sandbox_api)} == {"0"}  # the SDK itself never retried


def test_recovers_within_the_budget(classifier, sandbox_api):
    script(
        sandbox_api,
        "sad sight",
        {"error": 529, "retry_after": 0},
        {"error": 500},
        classify_step(label="replacement", confidence=0.7),
    )

    assert classifier.classify(VAGUE).label == "replacement"
    assert [r["status"] for r in received(sandbox_api)] == [529, 500, 200]


def test_a_long_rate_limit_wait_is_not_slept_through(classifier, local, sandbox_api):
    script(
        sandbox_api,
        "sad sight",
        {"error": 429, "retry_after": 60},
        classify_step(label="wismo", confidence=1),
    )

    assert classifier.classify(VAGUE) == local.classify(VAGUE)
    assert len(received(sandbox_api)) == 1


def test_timeouts_give_the_local_answer(env, local, sandbox_api):
    client = claude_client({**env, "POLICYDESK_CLAUDE_TIMEOUT": "0.3"})
    assert client is not None
    classifier = ClaudeClassifier(client, local, settings=ClaudeSettings(retries=2, max_wait=0.05))
    sandbox_api.post(
        f"{sandbox_api.base_url}/_sandbox/faults",
        json={"platform": "anthropic", "status": 0, "delay": 1.0, "count": 2},
    ).raise_for_status()

    result = classifier.classify(VAGUE)

    assert result == local.classify(VAGUE)
    writes = sandbox_api.get(
        f"{sandbox_api.base_url}/_sandbox/writes", params={"platform": "anthropic"}
    ).json()
    assert [w.get("held") for w in writes] == ["before", "before"]
    _wait_for_requests(sandbox_api, 2)  # the held requests finish before the next test resets the sandbox


def _wait_for_requests(api: requests.Session, count: int) -> None:
    """Until `count` requests have been answered (held ones answer late, to nobody)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if sum(1 for r in received(api) if r["status"] is not None) >= count:
            return
        time.sleep(0.05)


def test_fallback_logs_say_why_but_not_what_the_customer_wrote(classifier, sandbox_api, caplog):
    script(sandbox_api, "sad sight", classify_step(label="nonsense", confidence=0.5))

    with caplog.at_level(logging.DEBUG):
        classifier.classify(VAGUE)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "InvalidOutput" in logged
    assert "jane@example.com" not in logged and "sad sight" not in logged


def test_factory_picks_claude_only_with_a_key(env, local):
    assert isinstance(claude_or_local(local, env), ClaudeClassifier)
    without_key = {k: v for k, v in env.items() if k != "ANTHROPIC_API_KEY"}
    assert claude_or_local(local, without_key) is local
    assert claude_client(without_key) is None


# ---- call_messages: the budget --------------------------------------------------------------------


def test_call_messages_owns_the_budget_even_if_the_client_would_retry(env, sandbox_api):
    client = claude_client(env, max_retries=5)
    assert client is not None
    script(sandbox_api, "budget", *[{"error": 529, "retry_after": 0}] * 10)

    with pytest.raises(ClaudeUnavailable) as caught:
        call_messages(client, settings=FAST, max_tokens=10, messages=[{"role": "user", "content": "budget"}])

    assert caught.value.attempts == 3 and caught.value.status == 529 and caught.value.platform == "anthropic"
    assert len(received(sandbox_api)) == 3


def test_call_messages_rate_limit_keeps_the_wait_hint(env, sandbox_api):
    client = claude_client(env)
    assert client is not None
    script(sandbox_api, "busy", {"error": 429, "retry_after": 30})

    with pytest.raises(ClaudeRateLimited) as caught:
        call_messages(client, settings=FAST, max_tokens=10, messages=[{"role": "user", "content": "busy"}])

    assert caught.value.retry_after == 30 and caught.value.retryable


def test_call_messages_does_not_repeat_what_cannot_succeed(env, sandbox_api):
    client = claude_client({**env, "ANTHROPIC_API_KEY": "sk-ant-wrong"})
    assert client is not None

    with pytest.raises(AuthFailed):
        call_messages(client, settings=FAST, max_tokens=10, messages=[{"role": "user", "content": "x"}])

    assert len(received(sandbox_api)) == 1
