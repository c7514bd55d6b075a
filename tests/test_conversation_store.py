"""Stored conversations outlive deployments: one saved before the state was versioned still loads and
resumes where it waited, with what the guards had established; one from a newer version is refused
rather than silently stripped."""

from __future__ import annotations

import json

import pytest

from policies.engines.runtime import PolicyState
from worker.conversation import SCHEMA_VERSION, ConversationStore, UnknownSchemaVersion, conversation_key

# A conversation as the code before versioning saved it: no schema_version, none of the fields added
# since (mode, outbox, identity, clarifying), and a policy state without understood, queue or agent.
UNVERSIONED = {
    "helpdesk": "kustomer",
    "ticket_id": "c-100",
    "status": "waiting",
    "ticket_type": "wismo",
    "confidence": 0.93,
    "facts": {"email": "ana@example.com"},
    "context": {"customer": {"email": "ana@example.com"}},
    "policy": {
        "stack": [{"policy": "wismo-kustomer-shipengine", "step": "pick"}],
        "slots": {"email": "ana@example.com"},
        "saved": {"orders": [{"id": "5001"}, {"id": "5002"}]},
        "asks": {"pick": 1},
        "visits": {"pick": 1},
        "checked": ["looked up the account of ana@example.com"],
        "guard": {
            "verified_email": "ana@example.com",
            "customer_ids": ["77"],
            "orders": {"5001": {"email": "ana@example.com", "status": "shipped", "platform": "shipstation"}},
        },
        "status": "waiting",
        "waiting_for": "pick",
    },
    "transcript": [{"role": "customer", "text": "where is my order?", "at": 1.0}],
    "seen_messages": ["m-1"],
    "handoff_reason": None,
    "created_at": 1.0,
    "updated_at": 2.0,
}


def test_a_conversation_saved_before_versioning_resumes_where_it_waited(redis_client):
    store = ConversationStore(redis_client)
    redis_client.set(conversation_key("kustomer", "c-100"), json.dumps(UNVERSIONED))

    conversation = store.load("kustomer", "c-100")

    assert conversation is not None and conversation.schema_version == SCHEMA_VERSION
    state = PolicyState.from_dict(conversation.policy)
    assert state.policy_id == "wismo-kustomer-shipengine" and state.cursor == "pick"
    assert state.waiting_for == "pick" and state.saved["orders"][1]["id"] == "5002"
    assert state.guard.verified_email == "ana@example.com"
    assert state.guard.order("5001") is not None  # still the customer's own order: no re-verification
    assert conversation.saw("m-1") and conversation.mode == "live" and conversation.outbox == []
    assert set(conversation.policy) >= {"understood", "queue", "agent"}  # stored whole from now on

    store.save(conversation)
    stored = json.loads(redis_client.get(conversation_key("kustomer", "c-100")))
    assert stored["schema_version"] == SCHEMA_VERSION
    assert store.load("kustomer", "c-100") == conversation


def test_a_conversation_from_a_newer_version_is_refused_not_stripped(redis_client):
    store = ConversationStore(redis_client)
    newer = dict(UNVERSIONED, schema_version=SCHEMA_VERSION + 1, something_new={"kept": True})
    redis_client.set(conversation_key("kustomer", "c-101"), json.dumps(newer))

    with pytest.raises(UnknownSchemaVersion):
        store.load("kustomer", "c-101")
