"""Kustomer receiver against a real Redis: signed deliveries become queued TicketEvents, exactly once."""

from __future__ import annotations

import json

import pytest
import redis
from flask.testing import FlaskClient
from test_webhooks_common import (
    assert_clean,
    client_with,
    fixture_bytes,
    kustomer_signature,
    parsed,
    queued_events,
)

from webhooks.app import create_app

PATH = "/webhooks/kustomer"


@pytest.fixture
def client(configured: dict[str, str], redis_client: redis.Redis) -> FlaskClient:
    return create_app().test_client()


def post_signed(client: FlaskClient, body: bytes, signature: str | None = None):
    headers = {
        "Content-Type": "application/json",
        "X-Kustomer-Webhook-Event": "kustomer.test",
        "X-Kustomer-Webhook-Signature": signature if signature is not None else kustomer_signature(body),
    }
    response = client.post(PATH, data=body, headers=headers)
    assert_clean(response)
    return response


def test_new_conversation_is_queued_as_created(client: FlaskClient, redis_client: redis.Redis) -> None:
    response = post_signed(client, fixture_bytes("kustomer", "conversation_create.json"))
    assert response.status_code == 202
    assert response.get_json() == {"ok": True, "status": "accepted"}
    [event] = queued_events(redis_client)
    assert event["helpdesk"] == "kustomer"
    assert event["kind"] == "created"
    assert event["ticket_id"] == "66a1f0c1aa11bb22cc33dd44"
    assert event["event_id"] == "66a1f0c2e4b0a1b2c3d4e5f6"
    [read] = parsed("kustomer", fixture_bytes("kustomer", "conversation_create.json"))
    assert read["subject"] == "Where is my order #10452?"
    assert read["customer_id"] == "66a1eff0aa00bb00cc00dd00"


def test_inbound_message_is_queued_as_customer_message(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    response = post_signed(client, fixture_bytes("kustomer", "message_create_in.json"))
    assert response.status_code == 202
    [event] = queued_events(redis_client)
    assert event["kind"] == "customer_message"
    assert event["ticket_id"] == "66a1f0c1aa11bb22cc33dd44"
    assert event["message_id"] == "66a2a9ffaa11bb22cc33ee55"
    assert event["event_id"] == "66a2aa00e4b0a1b2c3d4e700"
    [read] = parsed("kustomer", fixture_bytes("kustomer", "message_create_in.json"))
    assert read["text"] == "Thanks, but the tracking page still says label created..."
    assert read["requester_email"] == "jane.doe@example.com"
    assert read["customer_id"] == "66a1eff0aa00bb00cc00dd00"


@pytest.mark.parametrize(
    "fixture", ["message_create_out.json", "conversation_update.json", "conversation_create_out.json"]
)
def test_our_own_replies_outbound_conversations_and_other_events_are_acknowledged_and_ignored(
    client: FlaskClient, redis_client: redis.Redis, fixture: str
) -> None:
    response = post_signed(client, fixture_bytes("kustomer", fixture))
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "status": "ignored"}
    assert queued_events(redis_client) == []


def test_unknown_event_name_is_acknowledged_and_ignored(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    body = json.dumps(
        {"id": "66a2aa00e4b0a1b2c3d4e999", "name": "kustomer.customer.update", "data": {}}
    ).encode()
    assert post_signed(client, body).status_code == 200
    assert queued_events(redis_client) == []


def test_redelivered_event_is_queued_once(client: FlaskClient, redis_client: redis.Redis) -> None:
    body = fixture_bytes("kustomer", "message_create_in.json")
    first = post_signed(client, body)
    second = post_signed(client, body)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.get_json() == {"ok": True, "status": "duplicate"}
    assert len(queued_events(redis_client)) == 1


def test_message_without_direction_is_not_treated_as_the_customer(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    envelope = json.loads(fixture_bytes("kustomer", "message_create_in.json"))
    del envelope["data"]["attributes"]["direction"]
    assert post_signed(client, json.dumps(envelope).encode()).status_code == 200
    assert queued_events(redis_client) == []


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("", "missing signature"),
        ("0" * 64, "bad signature"),
        ("not-hex-at-all", "bad signature"),
        ("sha256=" + "a" * 64, "bad signature"),
    ],
)
def test_wrong_or_missing_signature_is_401(
    client: FlaskClient, redis_client: redis.Redis, signature: str, reason: str
) -> None:
    response = post_signed(client, fixture_bytes("kustomer", "conversation_create.json"), signature)
    assert response.status_code == 401
    assert response.get_json() == {"error": reason}
    assert queued_events(redis_client) == []


def test_signature_is_checked_on_the_raw_bytes(client: FlaskClient, redis_client: redis.Redis) -> None:
    """Re-serialised JSON with the same meaning is not what Kustomer signed."""
    raw = fixture_bytes("kustomer", "conversation_create.json")
    reserialised = json.dumps(json.loads(raw)).encode()
    assert post_signed(client, reserialised, kustomer_signature(raw)).status_code == 401
    assert post_signed(client, raw, kustomer_signature(raw).upper()).status_code == 202


def test_signature_with_another_secret_is_401(client: FlaskClient, redis_client: redis.Redis) -> None:
    body = fixture_bytes("kustomer", "conversation_create.json")
    assert post_signed(client, body, kustomer_signature(body, "another-token")).status_code == 401


def test_without_a_configured_secret_every_delivery_is_refused(
    configured: dict[str, str], redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_with(KUSTOMER_WEBHOOK_SECRET=None)
    body = fixture_bytes("kustomer", "conversation_create.json")
    response = post_signed(client, body)
    assert response.status_code == 401
    assert "KUSTOMER_WEBHOOK_SECRET is not set" in caplog.text
    assert queued_events(redis_client) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"id": "66a1", "name": "kustomer.conversation.create", "data": {', "body is not valid JSON"),
        (b"hello, this is not json", "body is not valid JSON"),
        (b"\xff\xfe\x00garbage", "body is not valid JSON"),
        (b'["kustomer.conversation.create"]', "body must be a JSON object"),
        (b'{"id": "66a1", "name": "kustomer.conversation.create"}', "missing conversation data"),
        (
            b'{"id": "66a1", "name": "kustomer.conversation.create", "data": {"id": 5}}',
            "missing or invalid conversation id",
        ),
        (
            b'{"id": "66a1", "name": "kustomer.conversation.create", "data": {"id": "../../x"}}',
            "missing or invalid conversation id",
        ),
        (b'{"name": "kustomer.conversation.create", "data": {"id": "66a1"}}', "missing or invalid event id"),
        (b'{"id": "66a1", "data": {"id": "66a1"}}', "missing event name"),
        (
            b'{"id": "66a1", "name": "kustomer.message.create",'
            b' "data": {"id": "m1", "attributes": {"direction": "in"}}}',
            "message has no conversation",
        ),
    ],
)
def test_malformed_bodies_are_400(
    client: FlaskClient, redis_client: redis.Redis, body: bytes, reason: str
) -> None:
    response = post_signed(client, body)
    assert response.status_code == 400
    assert response.get_json() == {"error": reason}
    assert queued_events(redis_client) == []
