"""The shared HTTP layer (connectors/http.py + ratelimit.py): when it waits, repeats, or refuses to.

The rule under test everywhere: a request is repeated only when repeating cannot double its effect.
Platforms are the sandbox over real HTTPS, plus small local servers for what the sandbox cannot do
(a port nobody listens on, a server too slow to answer).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from sandbox_calls import inject, log, ticket
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.errors import (
    AuthFailed,
    NotFound,
    OutcomeUnknown,
    PlatformUnavailable,
    RateLimited,
    Rejected,
)
from connectors.http import HttpClient
from connectors.ratelimit import wait_hint

NOW = 1_750_000_000.0

# ---- wait hints: every header form a platform uses ------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),  # Freshdesk, ShipEngine, Shopify REST: seconds
        ({"retry-after": "2.5"}, 2.5),  # header names are case-insensitive
        ({"X-Rate-Limit-Time-Reset-Ms": "1500"}, 1.5),  # BigCommerce: milliseconds
        ({"X-RateLimit-Reset": str(int(NOW) + 12)}, 12.0),  # AfterShip (and Kustomer?): epoch seconds
        ({"x-ratelimit-reset": "30"}, 30.0),  # Kustomer if it means seconds-until-reset
        ({"X-RateLimit-Reset": str(int(NOW) - 5)}, 0.0),  # an epoch already past: go now
        ({"X-Rate-Limit-Reset": "5"}, 5.0),  # ShipStation v1: seconds
        ({"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW) + 60)}, 3.0),  # Retry-After wins
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "soon"}, None),  # unreadable: fall back to back-off
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),  # HTTP-date form is not read
        ({}, None),
    ],
)
def test_wait_hint_forms(headers: dict[str, str], expected: float | None):
    assert wait_hint(CaseInsensitiveDict(headers), now=NOW) == expected


# ---- over the sandbox ---------------------------------------------------------------------------


def freshdesk(sandbox, **kw: Any) -> HttpClient:
    env = sandbox.env()
    return HttpClient(
        "freshdesk",
        env["FRESHDESK_BASE_URL"],
        auth=(env["FRESHDESK_API_KEY"], "X"),
        verify=env["POLICYDESK_CA_BUNDLE"],
        **kw,
    )


def kustomer(sandbox, **kw: Any) -> HttpClient:
    env = sandbox.env()
    return HttpClient(
        "kustomer",
        env["KUSTOMER_BASE_URL"],
        headers={"Authorization": f"Bearer {env['KUSTOMER_API_KEY']}"},
        verify=env["POLICYDESK_CA_BUNDLE"],
        **kw,
    )


def seen(api: requests.Session, platform: str, path_contains: str) -> list[Any]:
    """What the sandbox answered each attempt on matching paths: a fault status or the real status."""
    rows = log(api, platform)
    return [row.get("fault") or row.get("status") for row in rows if path_contains in row["path"]]


def replies(api: requests.Session) -> list[str]:
    return ticket(api, "freshdesk", "101")["replies"]


def test_retry_after_is_honoured_then_the_call_succeeds(sandbox, sandbox_api):
    inject(sandbox_api, "freshdesk", status=429, retry_after=1, method="GET")

    response = freshdesk(sandbox).request("GET", "tickets/101")

    assert response.json()["id"] == 101
    assert response.headers["X-Ratelimit-Total"]
    assert seen(sandbox_api, "freshdesk", "/tickets/101") == [429]


def test_kustomer_epoch_reset_is_honoured(sandbox, sandbox_api):
    inject(sandbox_api, "kustomer", status=429, retry_after=1, method="GET")

    document = kustomer(sandbox).get_json("teams")

    assert [team["attributes"]["name"] for team in document["data"]] == ["Tier 1 Support", "Returns"]
    assert seen(sandbox_api, "kustomer", "/teams") == [429]


def test_a_throttled_reply_is_sent_once_after_waiting(sandbox, sandbox_api):
    """429 means the platform did nothing, so even a non-idempotent POST may be repeated."""
    inject(sandbox_api, "freshdesk", status=429, retry_after=1, method="POST")

    freshdesk(sandbox).send_json("POST", "tickets/101/reply", {"body": "<p>On its way</p>"}, idempotent=False)

    assert seen(sandbox_api, "freshdesk", "/reply") == [429, 201]
    assert replies(sandbox_api) == ["On its way"]


@pytest.mark.parametrize(
    ("platform", "hint", "make"), [("freshdesk", 120, freshdesk), ("kustomer", 3600, kustomer)]
)
def test_a_too_long_wait_is_handed_up_not_slept(sandbox, sandbox_api, platform, hint, make):
    inject(sandbox_api, platform, status=429, retry_after=hint, count=5, method="GET")
    client: HttpClient = make(sandbox)

    with pytest.raises(RateLimited) as raised:
        client.request("GET", "tickets/101" if platform == "freshdesk" else "teams")

    assert raised.value.retryable
    assert hint - 5 <= raised.value.retry_after <= hint + 1
    assert seen(sandbox_api, platform, "/") == [429]  # one attempt: the wait goes to the task queue


def test_server_error_on_an_idempotent_write_is_retried(sandbox, sandbox_api):
    inject(sandbox_api, "freshdesk", status=503, method="PUT")

    freshdesk(sandbox).send_json("PUT", "tickets/101", {"tags": ["vip", "wismo"]})

    assert seen(sandbox_api, "freshdesk", "/tickets/101") == [503, 200]


def test_server_error_on_a_non_idempotent_post_is_outcome_unknown(sandbox, sandbox_api):
    inject(sandbox_api, "freshdesk", status=503, method="POST")

    with pytest.raises(OutcomeUnknown) as raised:
        freshdesk(sandbox).send_json("POST", "tickets/101/reply", {"body": "<p>Hi</p>"})

    # retryable only as a later turn that first looks the effect up (the ledger); never here in-process
    assert raised.value.retryable
    assert raised.value.status == 503
    assert seen(sandbox_api, "freshdesk", "/reply") == [503]


def test_a_post_declared_idempotent_is_retried(sandbox, sandbox_api):
    inject(sandbox_api, "freshdesk", status=502, method="POST")

    freshdesk(sandbox).send_json("POST", "tickets/101/notes", {"body": "<p>n</p>"}, idempotent=True)

    assert seen(sandbox_api, "freshdesk", "/notes") == [502, 201]


def test_persistent_outage_gives_up_after_the_attempt_budget(sandbox, sandbox_api):
    inject(sandbox_api, "freshdesk", status=503, count=10, method="GET")

    with pytest.raises(PlatformUnavailable) as raised:
        freshdesk(sandbox, attempts=2).request("GET", "tickets/101")

    assert raised.value.retryable
    assert seen(sandbox_api, "freshdesk", "/tickets/101") == [503, 503]


def test_client_errors_map_to_their_types_and_are_not_repeated(sandbox, sandbox_api):
    client = freshdesk(sandbox)

    with pytest.raises(Rejected) as rejected:
        client.send_json("PUT", "tickets/101", {"status": 42})
    assert rejected.value.status == 400
    assert "It should be one of these values" in rejected.value.detail
    assert seen(sandbox_api, "freshdesk", "/tickets/101") == [400]

    with pytest.raises(NotFound):
        client.request("GET", "tickets/424242")

    bad_key = HttpClient("freshdesk", client.base_url, auth=("wrong", "X"), verify=client.session.verify)
    with pytest.raises(AuthFailed) as auth:
        bad_key.request("GET", "tickets/101")
    assert auth.value.status == 401


# ---- a port nobody listens on, a server too slow to answer --------------------------------------


def free_port() -> int:
    """A port that was free a moment ago and has no listener: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """A plain-HTTP server that records every request and answers after `delay` seconds."""

    def __init__(self, port: int = 0, delay: float = 0.0):
        self.requests: list[tuple[str, str]] = []
        self.delay = delay
        self._server = make_server("127.0.0.1", port, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @Request.application
    def _app(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        if self.delay:
            time.sleep(self.delay)
        status = 201 if request.method == "POST" else 200
        return Response('{"id": 1}', status=status, mimetype="application/json")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class AttemptCounter(HTTPAdapter):
    """A requests transport that counts attempts and can react to the first refused connection."""

    def __init__(self, on_first_refusal: Callable[[], None] | None = None):
        super().__init__(max_retries=0)
        self.attempts = 0
        self._on_first_refusal = on_first_refusal

    def send(self, request, **kwargs):  # type: ignore[override]
        self.attempts += 1
        try:
            return super().send(request, **kwargs)
        except requests.ConnectionError:
            if self._on_first_refusal is not None:
                callback, self._on_first_refusal = self._on_first_refusal, None
                callback()
            raise


@pytest.fixture
def servers() -> Iterator[list[LocalServer]]:
    started: list[LocalServer] = []
    yield started
    for server in started:
        server.stop()


def test_refused_connection_on_a_post_is_retried_because_nothing_was_sent():
    client = HttpClient("test", f"http://127.0.0.1:{free_port()}", attempts=3)
    counter = AttemptCounter()
    client.session.mount("http://", counter)

    with pytest.raises(PlatformUnavailable) as raised:
        client.send_json("POST", "tickets/1/reply", {"body": "hi"}, idempotent=False)

    assert raised.value.retryable  # not OutcomeUnknown: the platform never saw the request
    assert counter.attempts == 3


def test_a_post_refused_once_is_delivered_exactly_once_when_the_platform_is_back(servers):
    port = free_port()
    client = HttpClient("test", f"http://127.0.0.1:{port}", attempts=4)
    client.session.mount("http://", AttemptCounter(lambda: servers.append(LocalServer(port))))

    response = client.request("POST", "tickets/1/reply", json={"body": "hi"}, idempotent=False)

    assert response.status_code == 201
    assert servers[0].requests == [("POST", "/tickets/1/reply")]


def test_a_read_timeout_on_a_post_is_outcome_unknown_and_not_repeated(servers):
    slow = LocalServer(delay=1.0)
    servers.append(slow)
    client = HttpClient("test", slow.url, timeout=(2.0, 0.2), attempts=3)

    with pytest.raises(OutcomeUnknown):
        client.send_json("POST", "tickets/1/reply", {"body": "hi"}, idempotent=False)

    assert slow.requests == [("POST", "/tickets/1/reply")]


def test_a_read_timeout_on_a_get_is_retried(servers):
    slow = LocalServer(delay=1.0)
    servers.append(slow)
    client = HttpClient("test", slow.url, timeout=(2.0, 0.2), attempts=2)

    with pytest.raises(PlatformUnavailable):
        client.request("GET", "tickets/1")

    assert slow.requests == [("GET", "/tickets/1"), ("GET", "/tickets/1")]
