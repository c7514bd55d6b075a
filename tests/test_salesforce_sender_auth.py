"""Salesforce sender authentication: an Outbound Message is accepted only from Salesforce itself.

The OrganizationId in a message is not a secret, so it alone never passes. Either the endpoint URL's
secret or the Session ID the message carries (checked with our own org's UserInfo on the sandbox,
never a host the message names) must hold, and an unauthenticated message is a 401 SOAP fault.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
import redis
import requests
from test_webhooks_common import assert_clean, client_with, queued_events

from policydesk import deliveries

ORG = "00D5g000004AbCdEAF"
PATH = "/webhooks/salesforce"


def message(session_id: str | None = None, **fields: str) -> bytes:
    return deliveries.salesforce_case_created(
        "5005g00000XyZabAAB", "Where is my order?", org_id=ORG, session_id=session_id, **fields
    ).body


def post(client, body: bytes, token: str | None = None):
    response = client.post(
        PATH,
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        query_string={"token": token} if token else None,
    )
    assert_clean(response)
    return response


def minted_session(sandbox_api: requests.Session) -> str:
    """A session as Salesforce puts in an Outbound Message of this org (the sandbox issues it)."""
    created = sandbox_api.post(
        f"{sandbox_api.base_url}/_sandbox/salesforce/tickets",
        json={"subject": "Hi", "text": "Where is my order?", "email": "jane.doe@example.com"},
    ).json()
    return created["session_id"]


def test_a_message_with_only_the_org_id_is_refused(configured, redis_client: redis.Redis) -> None:
    client = client_with()
    for token in (None, "wrong", "salesforce-url-secret-for-test"):
        response = post(client, message(), token)
        assert response.status_code == 401
        assert b"<faultcode>soapenv:Client</faultcode>" in response.get_data()
    assert queued_events(redis_client) == []
    assert redis_client.keys("pd:seen:*") == []  # nothing is written for forged traffic


def test_with_no_method_configured_every_message_is_refused(configured, redis_client) -> None:
    client = client_with(SALESFORCE_WEBHOOK_URL_SECRET=None, SALESFORCE_VERIFY_SESSION_ID=None)
    response = post(client, message(), "salesforce-url-secret-for-tests")
    assert response.status_code == 401
    assert queued_events(redis_client) == []


def test_the_url_secret_admits_the_message(configured, redis_client) -> None:
    response = post(client_with(), message(), "salesforce-url-secret-for-tests")
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.get_data()
    assert len(queued_events(redis_client)) == 1


@pytest.fixture
def session_client(configured, sandbox_api):
    return client_with(SALESFORCE_WEBHOOK_URL_SECRET=None, SALESFORCE_VERIFY_SESSION_ID="true")


def test_a_live_session_of_our_org_admits_the_message_and_a_burst_calls_back_once(
    session_client, sandbox_api, sandbox, redis_client
) -> None:
    session = minted_session(sandbox_api)
    before = sandbox.state.section("salesforce").get("userinfo_calls", 0)
    for _ in range(20):
        assert post(session_client, message(session)).status_code == 200
    assert sandbox.state.section("salesforce")["userinfo_calls"] - before == 1
    assert len(queued_events(redis_client)) == 20


def test_a_forged_or_missing_session_is_refused(session_client, sandbox_api, redis_client) -> None:
    minted_session(sandbox_api)
    forged = "00D5g000004AbCd!AQ4AQOutbound" + "0" * 24
    for body in (message(forged), message(None)):
        response = post(session_client, body)
        assert response.status_code == 401
    assert queued_events(redis_client) == []


@pytest.fixture
def elsewhere() -> Iterator[list[str]]:
    """A server a forged message names as its EnterpriseUrl/PartnerUrl; it records every call."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"organization_id": "00D5g000004AbCdEAF", "user_id": "0055g0000000001AAA"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hits.append(f"http://127.0.0.1:{server.server_port}")
    yield hits
    server.shutdown()


def test_the_session_is_checked_only_with_our_own_org_never_a_url_from_the_message(
    session_client, sandbox_api, elsewhere, redis_client
) -> None:
    minted_session(sandbox_api)
    url = elsewhere[0]
    body = message("attacker-session").replace(
        b"https://acme.my.salesforce.com/services/Soap/c/59.0/", f"{url}/services/Soap/c/59.0/".encode()
    )
    body = body.replace(b"https://acme.my.salesforce.com/services/Soap/u/59.0/", f"{url}/u/".encode())
    assert post(session_client, body).status_code == 401
    assert elsewhere[1:] == []
    assert queued_events(redis_client) == []


def test_salesforce_unreachable_is_a_503_so_salesforce_retries(configured, redis_client) -> None:
    client = client_with(
        SALESFORCE_WEBHOOK_URL_SECRET=None,
        SALESFORCE_VERIFY_SESSION_ID="true",
        SALESFORCE_INSTANCE_URL="https://127.0.0.1:9/salesforce",
    )
    response = post(client, message("some-session"))
    assert response.status_code == 503
    assert b"soapenv:Server" in response.get_data()
