"""The action ledger on a real Redis: a write happens at most once, whatever is re-run."""

from __future__ import annotations

import json

import pytest

from connectors.errors import OutcomeUnknown, PlatformUnavailable
from worker.ledger import NOT_FOUND, ActionLedger, ActionOutcomeUnknown, action_key


class Platform:
    """A stand-in platform that counts the writes it receives (no policydesk code is replaced)."""

    def __init__(self):
        self.writes: list[str] = []

    def write(self, value: str) -> str:
        self.writes.append(value)
        return f"id-{len(self.writes)}"


def test_recorded_result_is_returned_without_writing_again(redis_client):
    platform = Platform()
    ledger = ActionLedger(redis_client, "pd:conv:freshdesk:1")
    first = ledger.perform("step-1", "add_note", {"ticket": "1"}, lambda: platform.write("note"))
    again = ActionLedger(redis_client, "pd:conv:freshdesk:1").perform(
        "step-1", "add_note", {"ticket": "1"}, lambda: platform.write("note")
    )
    assert first == again == "id-1"
    assert platform.writes == ["note"]


def test_different_arguments_are_different_actions(redis_client):
    platform = Platform()
    ledger = ActionLedger(redis_client, "pd:conv:freshdesk:2")
    ledger.perform("s", "reply", {"body": "a"}, lambda: platform.write("a"))
    ledger.perform("s", "reply", {"body": "b"}, lambda: platform.write("b"))
    assert platform.writes == ["a", "b"]


def test_definite_failure_leaves_no_intent_so_a_retry_acts(redis_client):
    platform = Platform()
    ledger = ActionLedger(redis_client, "pd:conv:kustomer:3")

    def unavailable():
        raise PlatformUnavailable("kustomer", "503")

    with pytest.raises(PlatformUnavailable):
        ledger.perform("s", "add_note", {}, unavailable)
    assert ledger.perform("s", "add_note", {}, lambda: platform.write("n")) == "id-1"


def test_unknown_outcome_is_never_repeated_blindly(redis_client):
    platform = Platform()
    ledger = ActionLedger(redis_client, "pd:conv:kustomer:4")

    def ambiguous():
        platform.write("reply")  # the platform did act, but the answer was lost
        raise OutcomeUnknown("kustomer", "timeout")

    with pytest.raises(OutcomeUnknown):
        ledger.perform("s", "reply", {"b": 1}, ambiguous)
    with pytest.raises(ActionOutcomeUnknown):
        ledger.perform("s", "reply", {"b": 1}, lambda: platform.write("reply"))
    assert platform.writes == ["reply"]


def test_reconcile_finds_the_effect_or_acts_once(redis_client):
    platform = Platform()
    ledger = ActionLedger(redis_client, "pd:conv:salesforce:5")
    for step in ("found", "missing"):  # two writes whose worker died mid-call
        redis_client.hset(ledger.key, action_key(step, "t", {}), json.dumps({"status": "intent"}))
    assert (
        ledger.perform("found", "t", {}, lambda: platform.write("x"), reconcile=lambda: "seen-on-platform")
        == "seen-on-platform"
    )
    assert (
        ledger.perform("missing", "t", {}, lambda: platform.write("y"), reconcile=lambda: NOT_FOUND) == "id-1"
    )
    assert platform.writes == ["y"]


def test_idempotent_write_with_dangling_intent_is_redone(redis_client):
    platform = Platform()
    ledger = ActionLedger(redis_client, "pd:conv:salesforce:6")
    redis_client.hset(ledger.key, action_key("s", "set_tags", {}), json.dumps({"status": "intent"}))
    assert ledger.perform("s", "set_tags", {}, lambda: platform.write("tags"), idempotent=True) == "id-1"
