"""When processing fails, the ticket still ends with a person, consistently, through the real stack.

- A failure hand-off that itself runs long (a slow helpdesk) is its own task with its own time, so it
  finishes (note, group, tags) instead of being cut off by the time limit and acknowledged half done.
- A failure of one event never contradicts another event of the same ticket that succeeded: the
  ticket is never both waiting on the customer and handed off after an error.
- What cannot be handed off becomes a bounded dead letter without customer text, which
  `policydesk deadletters` lists and replays.
- A malformed chunked body is a 400, and a retried task's broker message carries no customer data.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from sandbox_calls import inject

from policydesk.customers import SandboxCustomers
from policydesk.stack import process_env
from tests.private_stack import private_stack


@pytest.fixture
def slow_stack(base_env, data_dir: Path, sandbox_api):
    tuning = {
        "POLICYDESK_TASK_TIME_LIMIT": "12",
        "POLICYDESK_MAX_RETRIES": "4",
        "POLICYDESK_RETRY_BACKOFF_MAX": "2",
        "POLICYDESK_LOCK_WAIT": "4",
    }
    with private_stack(base_env, data_dir, db=4, name="slow", **tuning) as started:
        yield started


def test_a_failure_hand_off_on_a_slow_helpdesk_is_finished(slow_stack, sandbox, sandbox_api):
    """Every Kustomer call takes 2.5 s: the turn runs out of time, and the hand-off (five calls or more)
    would not fit in what was left of it."""
    web, env = slow_stack
    customers = SandboxCustomers(sandbox.url, str(sandbox.cert), env)
    ticket = customers.open_ticket(
        "kustomer", "Where is my order?", "Where is my order?", "in-transit.on-time@shipengine.example"
    )
    inject(sandbox_api, "kustomer", status=0, delay=2.5, count=60)
    for delivery in ticket.deliveries:
        assert delivery.post(web.url).status_code == 202
    view = customers.wait_for(
        ticket, lambda v: "pd-handed-off" in v["tags"] or "pd-resolved" in v["tags"], 150
    )
    assert "pd-handed-off" in view["tags"] or "pd-resolved" in view["tags"], view
    if "pd-handed-off" in view["tags"]:
        assert "pd-error" in view["tags"] and view["group"], view
        assert len([n for n in view["notes"] if "could not process" in n]) == 1, view["notes"]


def test_a_failed_event_never_contradicts_one_that_succeeded(stack, customers, sandbox_api):
    """Kustomer sends two events for a new ticket. One holds the ticket's lock through a slow store
    read (30 s); the other cannot get the lock until its retries run out and gives up. Its hand-off
    waits for the lock, finds the customer answered, and changes nothing: the ticket is never
    handed off after an error while the bot waits on the customer's answer."""
    inject(sandbox_api, "bigcommerce", status=0, delay=30, count=1, method="GET", path_contains="/orders")
    ticket = customers.open_ticket(
        "kustomer",
        "Broken mugs",
        "Order #5001 arrived damaged, both mugs are broken. Can you send a replacement?",
        "delivered.eligible@bigcommerce.example",
    )
    for delivery in ticket.deliveries:
        assert delivery.post(stack.url).status_code == 202
    view = customers.wait_for(ticket, lambda v: "pd-waiting" in v["tags"] or "pd-handed-off" in v["tags"], 90)
    time.sleep(5)  # the other event's hand-off has run by now
    view = customers.view(ticket)
    assert "pd-error" not in view["tags"], (view["tags"], view["notes"])
    assert "pd-waiting" in view["tags"] and "free replacement" in view["replies"][-1], view
    assert view["notes"] == []


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "policydesk.cli", *args],
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_event_that_cannot_be_handed_off_is_a_dead_letter_an_operator_can_replay(
    stack, customers, stack_env, sandbox_api
):
    ticket = customers.open_ticket(
        "freshdesk", "Where is my order?", "Where is my order?", "shipped@shipengine.example"
    )
    inject(sandbox_api, "freshdesk", status=503, count=500)
    for delivery in ticket.deliveries:
        assert delivery.post(stack.url).status_code == 202
    client = redis.Redis.from_url(stack_env["REDIS_URL"], decode_responses=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not client.zcard("pd:deadletters"):
        time.sleep(0.5)
    listed = cli(stack_env, "deadletters", "list")
    assert f"freshdesk:{ticket.ticket_id}" in listed.stdout, (listed.stdout, listed.stderr)
    [record] = [json.loads(client.get(k)) for k in client.keys("pd:deadletter:*")]
    assert "shipped@shipengine.example" not in json.dumps(record) and "Where is my order" not in json.dumps(
        record
    )
    assert 0 < client.ttl(f"pd:deadletter:{record['id']}") <= 14 * 24 * 3600

    sandbox_api.delete(f"{sandbox_api.base_url}/_sandbox/faults")
    replayed = cli(stack_env, "deadletters", "replay", record["id"])
    assert replayed.returncode == 0, replayed.stderr
    view = customers.wait_for(ticket, lambda v: "pd-resolved" in v["tags"], timeout=40)
    assert "pd-resolved" in view["tags"] and "has shipped" in view["replies"][-1], view
    assert cli(stack_env, "deadletters", "list").stdout.strip() == "no dead letters"


def test_a_malformed_chunked_body_is_a_400(stack):
    host, port = urlsplit(stack.url).hostname, urlsplit(stack.url).port
    for path in ("/webhooks/salesforce?token=salesforce-url-secret-for-tests", "/webhooks/kustomer"):
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
        ).encode()
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(request)
            answer = sock.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 400"), answer[:200]


def test_a_retried_task_carries_no_customer_data_in_the_broker(stack, customers, stack_env, sandbox_api):
    email = "in-transit.on-time@shipengine.example"
    inject(sandbox_api, "shipstation", status=429, retry_after=60, count=1, method="GET")
    ticket = customers.open_ticket("freshdesk", "Where is my order?", "My parcel from last week?", email)
    for delivery in ticket.deliveries:
        assert delivery.post(stack.url).status_code == 202
    client = redis.Redis.from_url(stack_env["REDIS_URL"], decode_responses=True)
    seen: dict[str, str] = {}  # every message of this ticket in the broker: first delivery and retry
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(seen) < 2:
        for raw in [*client.hvals("unacked"), *client.lrange("policydesk", 0, -1)]:
            message = json.loads(raw)[0] if raw.startswith("[") else json.loads(raw)
            decoded = raw + base64.b64decode(message.get("body", "")).decode(errors="replace")
            if ticket.ticket_id in decoded:
                seen[message["properties"]["delivery_tag"]] = decoded
        time.sleep(0.2)
    sandbox_api.delete(f"{sandbox_api.base_url}/_sandbox/faults")
    assert len(seen) >= 2, "the retry was not published"
    for decoded in seen.values():
        assert email not in decoded and "parcel" not in decoded, decoded[:400]
