"""Freshdesk receiver against a real Redis: Simple and Advanced bodies, basic auth and URL-token auth."""

from __future__ import annotations

import base64
import json

import pytest
import redis
from flask.testing import FlaskClient
from test_webhooks_common import (
    FRESHDESK_TOKEN,
    assert_clean,
    client_with,
    fixture_bytes,
    parsed,
    queued_events,
)

from connectors.text import html_to_text
from webhooks.app import create_app
from webhooks.freshdesk import classify_trigger

PATH = "/webhooks/freshdesk"


PASSWORD = "freshdesk-webhook-password-for-tests"  # noqa: S105 - the test env's value (conftest)


def basic(user: str = "policydesk", password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def client(configured: dict[str, str], redis_client: redis.Redis) -> FlaskClient:
    return create_app().test_client()


def post(
    client: FlaskClient, body: bytes, *, headers: dict[str, str] | None = None, token: str | None = None
):
    path = f"{PATH}?token={token}" if token is not None else PATH
    response = client.post(path, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    assert_clean(response)
    return response


def test_zulips_template_ticket_created_is_queued_with_plain_text(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    response = post(client, fixture_bytes("freshdesk", "zulip_template_ticket_created.json"), headers=basic())
    assert response.status_code == 202
    [event] = queued_events(redis_client)
    assert event["helpdesk"] == "freshdesk"
    assert event["kind"] == "created"
    assert event["ticket_id"] == "48213"
    assert event["event_id"] == "48213:created"
    [event] = parsed("freshdesk", fixture_bytes("freshdesk", "simple_ticket_created.json"))
    assert event["subject"] == "Package not arrived"
    assert event["text"] == ""  # the worker reads the description through the API: no HTML work here
    assert event["requester_email"] == "jane.doe@example.com"
    assert event["requester_name"] == "Jane Doe"


def test_a_simple_body_without_triggered_event_is_queued_for_the_worker_to_place(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    created = post(client, fixture_bytes("freshdesk", "simple_ticket_created.json"), headers=basic())
    reply = post(client, fixture_bytes("freshdesk", "simple_customer_reply.json"), headers=basic())

    assert (created.status_code, reply.status_code) == (202, 202)
    first, second = queued_events(redis_client)
    for event in (first, second):
        assert (event["kind"], event["ticket_id"], event["event_id"]) == ("customer_message", "48213", None)
    [first] = parsed("freshdesk", fixture_bytes("freshdesk", "simple_ticket_created.json"))
    [second] = parsed("freshdesk", fixture_bytes("freshdesk", "simple_customer_reply.json"))
    for event in (first, second):
        assert (event["requester_email"], event["requester_name"]) == ("jane.doe@example.com", "Jane Doe")
    assert first["subject"] == "Package not arrived"


def test_simple_content_with_the_older_requester_keys(client: FlaskClient, redis_client: redis.Redis) -> None:
    response = post(client, fixture_bytes("freshdesk", "simple_legacy_requester_keys.json"), headers=basic())

    assert response.status_code == 202
    [event] = queued_events(redis_client)
    assert (event["kind"], event["event_id"]) == ("created", "48215:created")
    [read] = parsed("freshdesk", fixture_bytes("freshdesk", "simple_legacy_requester_keys.json"))
    assert (read["requester_email"], read["requester_name"]) == ("omar.haddad@example.com", "Omar Haddad")


def test_a_public_note_is_an_agents_act_and_is_ignored(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    response = post(client, fixture_bytes("freshdesk", "zulip_template_public_note.json"), headers=basic())
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "status": "ignored"}
    assert queued_events(redis_client) == []


def test_status_change_is_acknowledged_and_ignored(client: FlaskClient, redis_client: redis.Redis) -> None:
    response = post(
        client, fixture_bytes("freshdesk", "zulip_template_status_changed.json"), token=FRESHDESK_TOKEN
    )
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "status": "ignored"}
    assert queued_events(redis_client) == []


def test_advanced_bodies_are_queued(client: FlaskClient, redis_client: redis.Redis) -> None:
    created = post(client, fixture_bytes("freshdesk", "advanced_ticket_created.json"), token=FRESHDESK_TOKEN)
    reply = post(client, fixture_bytes("freshdesk", "advanced_customer_reply.json"), token=FRESHDESK_TOKEN)
    assert (created.status_code, reply.status_code) == (202, 202)
    first, second = queued_events(redis_client)
    assert (first["kind"], first["event_id"], first["ticket_id"]) == ("created", "48214:created", "48214")
    assert (second["kind"], second["event_id"], second["ticket_id"]) == ("customer_message", None, "48214")
    [first] = parsed("freshdesk", fixture_bytes("freshdesk", "advanced_ticket_created.json"))
    [second] = parsed("freshdesk", fixture_bytes("freshdesk", "advanced_customer_reply.json"))
    assert first["subject"] == "Skip my next box"
    assert second["requester_email"] == "sam.lee@example.org"
    assert second["requester_name"] == "Sam Lee"


def test_created_is_deduplicated_but_replies_are_left_to_the_worker(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    created = fixture_bytes("freshdesk", "advanced_ticket_created.json")
    reply = fixture_bytes("freshdesk", "advanced_customer_reply.json")
    statuses = [
        post(client, body, token=FRESHDESK_TOKEN).status_code for body in (created, created, reply, reply)
    ]
    assert statuses == [202, 200, 202, 202]
    kinds = [event["kind"] for event in queued_events(redis_client)]
    assert kinds == ["created", "customer_message", "customer_message"]


def test_an_advanced_event_not_ours_is_left_to_the_worker_to_place(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    body = json.dumps({"source": "freshdesk", "event": "ticket_merged", "ticket_id": "48214"}).encode()
    assert post(client, body, token=FRESHDESK_TOKEN).status_code == 202
    [event] = queued_events(redis_client)
    assert (event["kind"], event["ticket_id"]) == ("customer_message", "48214")


def test_advanced_body_broken_by_an_unescaped_quote_is_salvaged(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    body = (
        b'{"source": "freshdesk", "event": "ticket_created", "ticket_id": "48215", '
        b'"requester_email": "a@example.com", "requester_name": "Al", "subject": "My "new" kettle", '
        b'"triggered_event": "{ticket_action:created}"}'
    )
    assert post(client, body, token=FRESHDESK_TOKEN).status_code == 202
    [event] = queued_events(redis_client)
    assert (event["kind"], event["ticket_id"], event["event_id"]) == ("created", "48215", "48215:created")


def test_unrendered_placeholders_are_treated_as_absent(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    body = json.dumps(
        {
            "source": "freshdesk",
            "event": "customer_reply",
            "ticket_id": 48216,
            "requester_email": "{{ticket.requester.email}}",
            "subject": "{{ticket.subject}}",
        }
    ).encode()
    assert post(client, body, token=FRESHDESK_TOKEN).status_code == 202
    [event] = parsed("freshdesk", body)
    assert (event["ticket_id"], event["requester_email"], event["subject"]) == ("48216", None, "")


# --- authentication ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({}, None),
        (basic(password="wrong"), None),
        (basic(user="someone"), None),
        ({}, "wrong-token"),
        ({}, ""),
        ({"Authorization": "Bearer freshdesk-url-secret-for-tests"}, None),
        ({"Authorization": "Basic !!!not-base64"}, None),
    ],
)
def test_missing_or_wrong_credentials_are_401(
    client: FlaskClient, redis_client: redis.Redis, headers: dict[str, str], token: str | None
) -> None:
    response = post(
        client, fixture_bytes("freshdesk", "simple_ticket_created.json"), headers=headers, token=token
    )
    assert response.status_code == 401
    assert response.get_json() == {"error": "bad credentials"}
    assert queued_events(redis_client) == []


def test_either_configured_method_is_enough(client: FlaskClient, redis_client: redis.Redis) -> None:
    body = fixture_bytes("freshdesk", "advanced_ticket_created.json")
    assert post(client, body, headers=basic(), token="wrong-token").status_code == 202
    redis_client.flushdb()
    assert post(client, body, headers=basic(password="wrong"), token=FRESHDESK_TOKEN).status_code == 202


def test_only_configured_methods_count(configured: dict[str, str], redis_client: redis.Redis) -> None:
    body = fixture_bytes("freshdesk", "advanced_ticket_created.json")
    token_only = client_with(FRESHDESK_WEBHOOK_USER=None, FRESHDESK_WEBHOOK_PASSWORD=None)
    assert post(token_only, body, headers=basic()).status_code == 401
    assert post(token_only, body, token=FRESHDESK_TOKEN).status_code == 202
    # A user without a password is not a configured method: it would let anyone in with that name.
    user_only = client_with(FRESHDESK_WEBHOOK_PASSWORD=None, FRESHDESK_WEBHOOK_URL_SECRET=None)
    assert post(user_only, body, headers=basic(password="")).status_code == 401


def test_nothing_configured_refuses_everything_and_warns(
    configured: dict[str, str], redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_with(
        FRESHDESK_WEBHOOK_USER=None, FRESHDESK_WEBHOOK_PASSWORD=None, FRESHDESK_WEBHOOK_URL_SECRET=None
    )
    response = post(
        client, fixture_bytes("freshdesk", "simple_ticket_created.json"), headers=basic(), token=""
    )
    assert response.status_code == 401
    assert "freshdesk webhook refused" in caplog.text
    assert queued_events(redis_client) == []


# --- malformed bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"freshdesk_webhook": {"ticket_id": "48213"', "body is not valid JSON"),
        (b"ticket_id=48213&triggered_event=created", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"hello": "world"}', "not a Freshdesk webhook body"),
        (b'{"freshdesk_webhook": "48213"}', "freshdesk_webhook must be an object"),
        (
            b'{"source": "freshdesk", "event": "ticket_created", "ticket_id": "48213abc"}',
            "ticket_id must be digits",
        ),
        (
            b'{"source": "freshdesk", "event": "ticket_created", "ticket_id": "{{ticket.id}}"}',
            "ticket_id must be digits",
        ),
        (b'{"source": "freshdesk", "event": "ticket_created"}', "ticket_id must be digits"),
        (
            b'{"source": "freshdesk", "event": "ticket_created", "ticket_id": true}',
            "ticket_id must be digits",
        ),
        (
            b'{"freshdesk_webhook": {"triggered_event": "{ticket_action:created}", "ticket_id": "../1"}}',
            "ticket_id must be digits",
        ),
        (
            b'{"freshdesk_webhook": {"triggered_event": "{ticket_action:created}", "ticket_id": "1", '
            b'"ticket_subject": ["x"]}}',
            "ticket_subject must be a string",
        ),
    ],
)
def test_malformed_bodies_are_400(
    client: FlaskClient, redis_client: redis.Redis, body: bytes, reason: str
) -> None:
    response = post(client, body, token=FRESHDESK_TOKEN)
    assert response.status_code == 400
    assert response.get_json() == {"error": reason}
    assert queued_events(redis_client) == []


# --- the triggered_event mini-syntax and HTML descriptions ------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "kind"),
    [
        ("{ticket_action:created}", "created"),
        (" { ticket_action : created } ", "created"),
        ("{note_type:public}", "ignored"),
        ("{note_type:private}", "ignored"),
        ("{reply_sent:sent}", "customer_message"),
        ("{ticket_action:replied}", "customer_message"),
        ("{status:{from:4,to:6}}", "ignored"),
        ("{priority:{from:1,to:2}}", "ignored"),
        ("{responder_id:{from:null,to:5}}", "ignored"),
        # not understood, or absent: the worker reads the ticket and decides
        ("{ticket_action:updated}", "customer_message"),
        ("ticket_action:created", "customer_message"),
        ("{ticket_action:created", "customer_message"),
        ("{{{{{{{{}}}}}}}}", "customer_message"),
        ("", "customer_message"),
    ],
)
def test_triggered_event_classification(trigger: str, kind: str) -> None:
    assert classify_trigger(trigger) == kind


def test_a_huge_hostile_description_is_no_work_for_the_receiver_or_the_worker(client: FlaskClient) -> None:
    """Unclosed attributes made Python's html.parser quadratic (140 KB took 44 s, 1 MB half an hour);
    the receiver does no HTML work at all and the worker's parser is linear."""
    hostile = '<a b="' * 100_000  # 600 KB (JSON-escaped, the body stays under the 1 MB cap)
    body = json.dumps(
        {
            "freshdesk_webhook": {
                "ticket_id": 48213,
                "ticket_description": hostile,
                "triggered_event": "{ticket_action:created}",
            }
        }
    ).encode()
    assert post(client, body, headers=basic()).status_code == 202
    assert html_to_text(hostile) == ""
    assert html_to_text("<div>" + "<!--" * 100_000 + "</div>") == ""


def test_html_descriptions_become_readable_text() -> None:
    html = "<div>Order <b>#10452</b> &amp; more</div><br><p>Line&nbsp;two</p><script>x()</script>"
    assert html_to_text(html) == "Order #10452 & more\n\nLine two"
    assert html_to_text("plain text") == "plain text"
