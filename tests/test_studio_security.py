"""The studio's frame: off by default, login with Redis-counted attempts, CSRF on every POST, cookies,
and /metrics and JSON logs for the engineer who runs it."""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest
import redis
from flask.testing import FlaskClient
from studio_client import PASSWORD, csrf_token, log_in
from test_webhooks_common import env, fixture_bytes, kustomer_signature

from studio.auth import LOGIN_ATTEMPTS
from studio.web import create_app
from worker.json_logs import JsonFormatter

PAGES = ["/studio/", "/studio/library", "/studio/policy/shipment-not-received"]


@pytest.fixture
def app_env(configured: dict[str, str], redis_client: redis.Redis):
    with env(POLICYDESK_STUDIO_PASSWORD=PASSWORD, POLICYDESK_STUDIO_USERS=None):
        yield


@pytest.fixture
def client(app_env: None) -> FlaskClient:
    return create_app().test_client()


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def test_without_a_password_the_studio_and_metrics_are_not_there(
    configured: dict[str, str], redis_client: redis.Redis
) -> None:
    with env(POLICYDESK_STUDIO_PASSWORD=None, POLICYDESK_STUDIO_USERS=None):
        client = create_app().test_client()
    for path in [*PAGES, "/studio/login", "/metrics"]:
        assert client.get(path).status_code == 404, path
    assert client.get("/metrics", headers=basic("Ana", "")).status_code == 404


def test_pages_need_a_login_and_a_login_opens_them(client: FlaskClient) -> None:
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/studio/login")
    assert client.post("/studio/logout").status_code == 401
    assert "Shipment Not Received" not in client.get("/studio/library").get_data(as_text=True)

    response = log_in(client)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/studio/library")
    assert page.status_code == 200
    assert "Shipment Not Received" in page.get_data(as_text=True)


def test_a_wrong_password_is_refused_and_attempts_are_counted_across_web_workers(
    app_env: None, redis_client: redis.Redis
) -> None:
    first_worker = create_app().test_client()
    for _ in range(LOGIN_ATTEMPTS):
        assert log_in(first_worker, password="guess").status_code == 401
    # another web process sees the same count (it is kept in Redis): even the right password waits now
    second_worker = create_app().test_client()
    refused = log_in(second_worker)
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    assert second_worker.get("/studio/library").status_code == 302
    assert second_worker.get("/metrics", headers=basic("Ana", PASSWORD)).status_code == 429


def test_a_forged_csrf_token_is_refused(client: FlaskClient) -> None:
    forged = client.post(
        "/studio/login", data={"name": "Ana", "password": PASSWORD, "csrf_token": "forged-token"}
    )
    assert forged.status_code == 400
    assert client.get("/studio/library").status_code == 302  # not logged in

    assert log_in(client).status_code == 302
    token = csrf_token(client, "/studio/library")
    assert client.post("/studio/logout", data={"csrf_token": token + "x"}).status_code == 400
    assert client.post("/studio/logout").status_code == 400  # no token at all
    assert client.get("/studio/library").status_code == 200  # still logged in: nothing happened
    assert client.post("/studio/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/studio/library").status_code == 302


def test_after_login_the_next_page_stays_on_this_site(client: FlaskClient) -> None:
    response = client.post(
        "/studio/login",
        data={
            "name": "Ana",
            "password": PASSWORD,
            "next": "https://evil.example/",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.headers["Location"] == "/studio/library"


def test_a_users_file_holds_accounts(configured: dict[str, str], redis_client: redis.Redis, tmp_path) -> None:
    from werkzeug.security import generate_password_hash

    users = tmp_path / "users"
    users.write_text(f"# studio accounts\nana:{generate_password_hash('ana-secret')}\n")
    with env(POLICYDESK_STUDIO_PASSWORD=None, POLICYDESK_STUDIO_USERS=str(users)):
        client = create_app().test_client()
    assert log_in(client, "ana", "wrong").status_code == 401
    assert log_in(client, "bob", "ana-secret").status_code == 401
    assert log_in(client, "ana", "ana-secret").status_code == 302
    assert client.get("/studio/library").status_code == 200


def test_metrics_count_webhooks_by_helpdesk_and_result(client: FlaskClient) -> None:
    body = fixture_bytes("kustomer", "conversation_create.json")
    headers = {"Content-Type": "application/json", "X-Kustomer-Webhook-Signature": kustomer_signature(body)}
    assert client.post("/webhooks/kustomer", data=body, headers=headers).status_code == 202
    assert client.post("/webhooks/kustomer", data=body, headers=headers).status_code == 200  # duplicate
    bad = {**headers, "X-Kustomer-Webhook-Signature": "0" * 64}
    assert client.post("/webhooks/kustomer", data=body, headers=bad).status_code == 401

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=basic("Ana", "guess")).status_code == 401
    scraped = client.get("/metrics", headers=basic("Ana", PASSWORD))
    assert scraped.status_code == 200
    text = scraped.get_data(as_text=True)
    assert 'policydesk_webhooks_total{helpdesk="kustomer",result="accepted"} 1.0' in text
    assert 'policydesk_webhooks_total{helpdesk="kustomer",result="duplicate"} 1.0' in text
    assert 'policydesk_webhooks_total{helpdesk="kustomer",result="refused_401"} 1.0' in text
    for family in ("tasks", "policy_outcomes", "tool_calls", "platform_requests", "claude_tokens"):
        assert f"# TYPE policydesk_{family}_total counter" in text


def test_json_logs_are_one_object_per_line_with_the_ticket_and_no_customer_data(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = fixture_bytes("kustomer", "conversation_create.json")
    subject = json.loads(body)["data"]["attributes"]["name"]  # the customer's own words
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        headers = {
            "Content-Type": "application/json",
            "X-Kustomer-Webhook-Signature": kustomer_signature(body),
        }
        client.post("/webhooks/kustomer", data=body, headers=headers)
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    accepted = [line for line in lines if "outcome=accepted" in line["message"]]
    assert accepted and accepted[0]["ticket"] and accepted[0]["level"] == "info"
    assert subject not in stream.getvalue()
