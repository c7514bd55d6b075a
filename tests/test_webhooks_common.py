"""Behaviour shared by all three receivers, against a real Redis: health, body cap, Redis outages,
error shapes, and a fuzz run proving that no input yields a 500 or a traceback.

Also home of the small helpers the per-vendor webhook tests import (queue reading, env switching).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from connectors.config import overridden_environ
from policydesk import deliveries
from webhooks.app import create_app
from webhooks.settings import SettingsError
from worker.celery_app import QUEUE
from worker.redis_conn import get_redis

FIXTURES = Path(__file__).parent / "fixtures"
KUSTOMER_SECRET = "kustomer-webhook-token-for-tests"
FRESHDESK_TOKEN = "freshdesk-url-secret-for-tests"
SALESFORCE_TOKEN = "salesforce-url-secret-for-tests"  # noqa: S105 - conftest's test secret


def with_token(path: str) -> str:
    """The endpoint URL a configured helpdesk calls: Freshdesk and Salesforce carry our URL secret."""
    token = SALESFORCE_TOKEN if path.endswith("salesforce") else FRESHDESK_TOKEN
    return f"{path}?token={token}"


# --- helpers used by the per-vendor test modules -----------------------------------------------------


def fixture_bytes(vendor: str, name: str) -> bytes:
    return (FIXTURES / vendor / name).read_bytes()


def env(**overrides: str | None) -> AbstractContextManager[None]:
    """Set (or, with None, remove) environment variables for the duration of the block."""
    return overridden_environ(overrides)


def client_with(**overrides: str | None) -> FlaskClient:
    """A test client for an app built under modified settings (settings are read when it is built)."""
    with env(**overrides):
        return create_app().test_client()


def parsed(helpdesk: str, body: bytes) -> list[dict[str, Any]]:
    """What a receiver's parser reads from a body (the queue holds only the events' pointers)."""
    from webhooks import freshdesk, kustomer, salesforce
    from webhooks.settings import load_settings

    if helpdesk == "salesforce":
        events = salesforce.parse(body, load_settings())
    else:
        events = {"kustomer": kustomer, "freshdesk": freshdesk}[helpdesk].parse(body)
    return [e.to_dict() for e in events if e.kind != "ignored"]


def queued_events(redis_client: redis.Redis) -> list[dict[str, Any]]:
    """The TicketEvents waiting in the Celery queue, oldest first, decoded from kombu's messages."""
    events = []
    for item in reversed(redis_client.lrange(QUEUE, 0, -1)):  # kombu LPUSHes, so newest is first
        message = json.loads(item)
        assert message["properties"]["body_encoding"] == "base64"
        args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        assert message["headers"]["task"] == "policydesk.handle_event"
        events.append(args[0] if args else kwargs["event"])
    return events


def kustomer_signature(body: bytes, secret: str = KUSTOMER_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def assert_clean(response: Any) -> None:
    """What no sender may ever see from us: a 500 from their input, or a traceback."""
    assert response.status_code != 500, response.get_data(as_text=True)
    assert b"Traceback" not in response.get_data()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- tests -------------------------------------------------------------------------------------------


@pytest.fixture
def client(configured: dict[str, str], redis_client: redis.Redis) -> FlaskClient:
    return create_app().test_client()


def test_healthz_answers_ok_when_redis_is_up(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


def test_redis_outage_answers_503_and_the_retried_delivery_is_accepted_afterwards(
    configured: dict[str, str], redis_client: redis.Redis
) -> None:
    kustomer_body = fixture_bytes("kustomer", "conversation_create.json")
    kustomer_headers = {"X-Kustomer-Webhook-Signature": kustomer_signature(kustomer_body)}
    freshdesk_body = fixture_bytes("freshdesk", "advanced_ticket_created.json")
    salesforce_body = fixture_bytes("salesforce", "two_notifications.xml")

    def send_all(client: FlaskClient) -> list[Any]:
        return [
            client.post("/webhooks/kustomer", data=kustomer_body, headers=kustomer_headers),
            client.post(f"/webhooks/freshdesk?token={FRESHDESK_TOKEN}", data=freshdesk_body),
            client.post(
                with_token("/webhooks/salesforce"), data=salesforce_body, headers={"Content-Type": "text/xml"}
            ),
        ]

    get_redis.cache_clear()
    try:
        with env(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
            down = create_app().test_client()
            health = down.get("/healthz")
            responses = send_all(down)
    finally:
        get_redis.cache_clear()

    assert health.status_code == 503
    assert health.get_json()["ok"] is False
    assert [r.status_code for r in responses] == [503, 503, 503]
    assert responses[0].get_json() == {"error": "queue unavailable, retry later"}
    assert b"<faultcode>soapenv:Server</faultcode>" in responses[2].get_data()
    for response in responses:
        assert_clean(response)
    assert queued_events(redis_client) == []

    # The senders retry the same deliveries once Redis is back: nothing was lost, nothing doubled.
    up = create_app().test_client()
    retried = send_all(up)
    assert [r.status_code for r in retried] == [202, 202, 200]
    ids = sorted(event["event_id"] for event in queued_events(redis_client))
    assert ids == sorted(
        ["66a1f0c2e4b0a1b2c3d4e5f6", "48214:created", "04l5g00000ABCDGAA1", "04l5g00000ABCDHAA1"]
    )


@pytest.mark.parametrize("path", ["/webhooks/kustomer", "/webhooks/freshdesk", "/webhooks/salesforce"])
def test_body_over_the_cap_is_refused_with_413(
    configured: dict[str, str], redis_client: redis.Redis, path: str
) -> None:
    client = client_with(POLICYDESK_MAX_BODY_BYTES="2048")
    body = b"<" + b"x" * 4096
    headers = {"X-Kustomer-Webhook-Signature": kustomer_signature(body)}
    response = client.post(with_token(path), data=body, headers=headers)
    assert response.status_code == 413
    assert_clean(response)
    if path.endswith("salesforce"):
        assert response.content_type.startswith("text/xml")
        assert b"<faultstring>body too large</faultstring>" in response.get_data()
    else:
        assert response.get_json() == {"error": "body too large"}
    assert queued_events(redis_client) == []


def test_default_cap_is_one_mebibyte(client: FlaskClient) -> None:
    body = b" " * (1024 * 1024 + 1)
    response = client.post("/webhooks/kustomer", data=body, headers={"X-Kustomer-Webhook-Signature": "00"})
    assert response.status_code == 413


def test_unusable_body_cap_setting_fails_at_startup(configured: dict[str, str]) -> None:
    with (
        env(POLICYDESK_MAX_BODY_BYTES="lots"),
        pytest.raises(SettingsError, match="POLICYDESK_MAX_BODY_BYTES"),
    ):
        create_app()


def test_unknown_paths_and_methods_get_short_errors(client: FlaskClient) -> None:
    missing = client.post("/webhooks/zendesk", data=b"{}")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "not found"}
    wrong_method = client.get("/webhooks/freshdesk")
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method.headers["Allow"]
    assert b"<soapenv:Fault>" in client.get("/webhooks/salesforce").get_data()


def test_a_real_bug_answers_a_short_500_without_traceback(configured: dict[str, str]) -> None:
    app = create_app()

    def broken() -> str:
        raise RuntimeError("customer jane.doe@example.com broke it")

    app.add_url_rule("/webhooks/broken", "broken", broken, methods=["POST"])
    response = app.test_client().post("/webhooks/broken")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error"}
    assert b"jane.doe" not in response.get_data()


def test_logs_name_tickets_but_never_emails_bodies_or_secrets(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    kustomer_body = fixture_bytes("kustomer", "message_create_in.json")
    client.post(
        "/webhooks/kustomer",
        data=kustomer_body,
        headers={"X-Kustomer-Webhook-Signature": kustomer_signature(kustomer_body)},
    )
    client.post(
        f"/webhooks/freshdesk?token={FRESHDESK_TOKEN}",
        data=fixture_bytes("freshdesk", "simple_ticket_created.json"),
    )
    client.post(with_token("/webhooks/salesforce"), data=fixture_bytes("salesforce", "case_created.xml"))
    client.post("/webhooks/kustomer", data=kustomer_body, headers={"X-Kustomer-Webhook-Signature": "bad"})

    text = caplog.text
    assert "66a1f0c1aa11bb22cc33dd44" in text and "48213" in text and "5005g00000XyZabAAB" in text
    for secret_or_private in ("@example.com", KUSTOMER_SECRET, FRESHDESK_TOKEN, "tracking page", "hasn"):
        assert secret_or_private not in text


@pytest.fixture
def live_server(configured: dict[str, str], redis_client: redis.Redis) -> Iterator[str]:
    """The receiver app on a real socket, so Delivery.post is exercised over real HTTP."""
    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_delivery_builders_round_trip_over_http(
    live_server: str, configured: dict[str, str], redis_client: redis.Redis
) -> None:
    org = configured["SALESFORCE_ORG_ID"]
    sent = [
        deliveries.kustomer_conversation_created(
            "66b000000000000000000001", "66c000000000000000000001", "Hello"
        ),
        deliveries.kustomer_customer_message(
            "66b000000000000000000001", "66c000000000000000000001", "Any news?", from_email="amy@example.com"
        ),
        deliveries.freshdesk_ticket_created(
            5001, "Late", "<p>Where is it?</p>", "bo@example.com", simple=True
        ),
        deliveries.freshdesk_customer_reply(5001, "bo@example.com"),
        deliveries.salesforce_case_created("5005g00000Bld01AAA", "Broken", org_id=org),
        deliveries.salesforce_customer_reply("5005g00000Bld01AAA", org_id=org[:15]),
    ]
    with requests.Session() as session:
        for delivery in sent:
            response = delivery.authenticated(configured).post(live_server, session)
            assert response.status_code in (200, 202), response.text
        retried = sent[0].authenticated(configured).post(live_server, session)
        assert retried.json() == {"ok": True, "status": "duplicate"}
        unsigned = sent[1].post(live_server, session)
        assert unsigned.status_code == 401

    events = queued_events(redis_client)
    assert [(e["helpdesk"], e["kind"]) for e in events] == [
        ("kustomer", "created"),
        ("kustomer", "customer_message"),
        ("freshdesk", "customer_message"),  # Simple content names no event: the worker places it
        ("freshdesk", "customer_message"),
        ("salesforce", "created"),
        ("salesforce", "customer_message"),
    ]
    assert events[2]["event_id"] is None
    assert all("text" not in e and "requester_email" not in e and "raw" not in e for e in events)
    [message] = parsed("kustomer", sent[1].body)
    assert message["text"] == "Any news?" and message["requester_email"] == "amy@example.com"
    [created] = parsed("freshdesk", sent[2].body)
    assert created["requester_email"] == "bo@example.com"
    # Fresh delivery ids per call: building the same event twice gives two deliveries, not a duplicate.
    first = deliveries.kustomer_conversation_created("66b000000000000000000002", "66c0", "Hi")
    second = deliveries.kustomer_conversation_created("66b000000000000000000002", "66c0", "Hi")
    assert json.loads(first.body)["id"] != json.loads(second.body)["id"]


# --- fuzz --------------------------------------------------------------------------------------------


def _garble(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """Replace some values (recursively) by values of the wrong type."""
    wrong = [
        None,
        0,
        -1,
        1.5,
        True,
        "",
        "x" * rng.randint(1, 300),
        [],
        {},
        ["a"],
        {"a": {"b": []}},
        "{{ticket.id}}",
    ]
    if isinstance(value, dict) and depth < 6:
        return {
            k: (rng.choice(wrong) if rng.random() < 0.2 else _garble(rng, v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list) and depth < 6:
        return [_garble(rng, v, depth + 1) for v in value]
    return rng.choice(wrong) if rng.random() < 0.1 else value


def _fuzz_bodies(rng: random.Random, vendor: str, count: int) -> Iterator[bytes]:
    samples = [p.read_bytes() for p in sorted((FIXTURES / vendor).iterdir()) if p.suffix in (".json", ".xml")]
    for i in range(count):
        sample = rng.choice(samples)
        mode = i % 5
        if mode == 0:
            yield rng.randbytes(rng.randint(0, 600))
        elif mode == 1:
            yield sample[: rng.randint(0, len(sample))]
        elif mode == 2:
            data = bytearray(sample)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            yield bytes(data)
        elif mode == 3 and vendor != "salesforce":
            yield json.dumps(_garble(rng, json.loads(sample))).encode()
        elif mode == 3:
            text = sample.decode()
            for tag in rng.sample(
                ["Id", "sf:Id", "OrganizationId", "Notification", "sObject", "sf:Subject"], 2
            ):
                text = text.replace(f"<{tag}>", f"<{tag}><nested>{rng.randint(0, 9)}</nested>", 1)
            yield text.encode()
        else:
            yield rng.choice(
                [b"[]", b"null", b"1e999", b"[" * 5000, b'{"a":' * 3000, b"\xff\xfe{}", b"<a>" * 3000]
            )


@pytest.mark.parametrize("vendor", ["kustomer", "freshdesk", "salesforce"])
def test_garbled_bodies_never_yield_500(client: FlaskClient, vendor: str) -> None:
    rng = random.Random(f"policydesk-{vendor}")
    statuses: set[int] = set()
    for body in _fuzz_bodies(rng, vendor, 300):
        headers = {
            "X-Kustomer-Webhook-Signature": kustomer_signature(body)
        }  # authentic, so parsing is reached
        response = client.post(with_token(f"/webhooks/{vendor}"), data=body, headers=headers)
        assert_clean(response)
        assert response.status_code in (200, 202, 400, 401), (response.status_code, body[:200])
        statuses.add(response.status_code)
    assert 400 in statuses  # the run did reach the parsers


FIRST_WEBHOOK = """
import json, os, sys
from policydesk import deliveries
from webhooks.app import create_app

env = json.loads(os.environ["TEST_ENV"])
sent = deliveries.freshdesk_ticket_created("7", "Where?", "Where is it?", "jane.doe@example.com")
sent = sent.authenticated(env)
client = create_app().test_client()
answer = client.post(sent.path, data=sent.body, headers=sent.headers, query_string=sent.query)
heavy = ("lingua", "sklearn")  # the language models and the classifier's model
loaded = sorted(m for m in sys.modules if m == "worker.tasks" or m.startswith(heavy))
print(json.dumps({"status": answer.status_code, "loaded": loaded}))
"""


def test_a_web_process_accepts_its_first_webhook_without_loading_the_worker(
    base_env: dict[str, str], redis_url: str
) -> None:
    """The receivers enqueue by task name and never import the worker's tasks, the classifier's model
    or the language models: a fresh web process would otherwise make its first webhook wait for those
    imports (ten seconds and more on a busy machine, past the helpdesks' own patience)."""
    spare = redis_url.rsplit("/", 1)[0] + "/5"
    env = {**base_env, "REDIS_URL": spare}
    result = subprocess.run(
        [sys.executable, "-c", FIRST_WEBHOOK],
        env={**os.environ, **env, "TEST_ENV": json.dumps(env)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    redis.Redis.from_url(spare).flushdb()
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"status": 202, "loaded": []}, seen
