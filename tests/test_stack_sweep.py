"""Nobody is left waiting in silence: the `beat` process (as the Procfile runs it) schedules the stale
sweep, and a ticket whose customer wrote longer ago than POLICYDESK_STALE_AFTER without an answer goes
to a person with a note, while its event is still stuck in a long retry."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from sandbox_calls import inject

from policydesk.customers import SandboxCustomers
from policydesk.stack import BeatProcess, WebProcess, WorkerProcess
from worker.celery_app import QUEUE

SWEEP = {
    "POLICYDESK_STALE_AFTER": "4",
    "POLICYDESK_SWEEP_INTERVAL": "1",
    "POLICYDESK_MAX_RETRIES": "3",
}


@pytest.fixture
def sweep_stack(base_env, data_dir: Path, sandbox_api):
    url = base_env["REDIS_URL"].rsplit("/", 1)[0] + "/3"
    redis.Redis.from_url(url).flushdb()
    env = {**base_env, **SWEEP, "REDIS_URL": url, "POLICYDESK_DATA_DIR": str(data_dir / "sweep")}
    logs = data_dir / "sweep-logs"
    web = WebProcess(env, log_dir=logs).start()
    worker = WorkerProcess(env, log_dir=logs, name="sweeper").start()
    beat = BeatProcess(env, log_dir=logs)
    yield web, env, beat
    for process in (beat, worker, web):
        process.stop()


def test_a_ticket_stuck_in_a_long_retry_is_handed_to_a_person(sweep_stack, sandbox, sandbox_api):
    web, env, beat = sweep_stack
    beat.start()
    customers = SandboxCustomers(sandbox.url, str(sandbox.cert), env)
    # the store asks for a 10-minute pause: the event waits that long before its next attempt
    inject(sandbox_api, "shipstation", status=429, retry_after=600, count=1, method="GET")
    ticket = customers.open_ticket(
        "freshdesk", "Where is my order?", "Where is my order?", "in-transit.on-time@shipengine.example"
    )
    for delivery in ticket.deliveries:
        assert delivery.post(web.url).status_code == 202
    view = customers.wait_for(ticket, lambda v: "pd-handed-off" in v["tags"], timeout=40)
    assert "pd-handed-off" in view["tags"], (view["tags"], view["notes"])
    assert any("waited more than" in note for note in view["notes"]), view["notes"]
    assert view["replies"] == []


def test_a_stuck_duplicate_event_of_an_answered_ticket_hands_nothing_off(sweep_stack, sandbox, sandbox_api):
    """Kustomer sends two events per new ticket: one is stuck in the long retry, the other answers the
    customer. The sweep sees the stuck one, finds nothing unanswered, and leaves the ticket alone."""
    web, env, beat = sweep_stack
    customers = SandboxCustomers(sandbox.url, str(sandbox.cert), env)
    inject(sandbox_api, "shipstation", status=429, retry_after=600, count=1, method="GET")
    ticket = customers.open_ticket(
        "kustomer", "Where is my order?", "Where is my order?", "in-transit.on-time@shipengine.example"
    )
    for delivery in ticket.deliveries:
        assert delivery.post(web.url).status_code == 202
    view = customers.wait_for(ticket, lambda v: "pd-resolved" in v["tags"], timeout=30)
    beat.start()  # the sweep starts once the customer is answered: only the stuck event is left
    client = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    swept = customers.wait_for(ticket, lambda v: client.zcard("pd:pending") == 0, timeout=20)
    assert client.zcard("pd:pending") == 0
    assert "pd-resolved" in swept["tags"] and "pd-handed-off" not in swept["tags"], swept["notes"]
    assert len(swept["replies"]) == len(view["replies"]) == 1


def test_an_event_whose_message_the_broker_lost_is_queued_again_and_answered(
    base_env, data_dir: Path, sandbox, sandbox_api
):
    """kombu takes a message off the queue before it records it as delivered: a worker killed in
    between loses it. The event is still pending, so the sweep queues it again and the customer is
    answered once (not handed off half an hour later)."""
    url = base_env["REDIS_URL"].rsplit("/", 1)[0] + "/4"
    client = redis.Redis.from_url(url)
    client.flushdb()
    env = {
        **base_env,
        "REDIS_URL": url,
        "POLICYDESK_REDRIVE_AFTER": "2",
        "POLICYDESK_SWEEP_INTERVAL": "1",
        "POLICYDESK_DATA_DIR": str(data_dir / "redrive"),
    }
    logs = data_dir / "redrive-logs"
    web = WebProcess(env, log_dir=logs).start()
    worker = beat = None
    try:
        customers = SandboxCustomers(sandbox.url, str(sandbox.cert), env)
        ticket = customers.open_ticket(
            "freshdesk", "Where is my order?", "Where is my order?", "in-transit.on-time@shipengine.example"
        )
        assert ticket.deliveries[0].post(web.url).status_code == 202
        assert client.rpop(QUEUE) is not None  # taken off the queue by a worker that then died
        worker = WorkerProcess(env, log_dir=logs, name="redriven").start()
        beat = BeatProcess(env, log_dir=logs).start()
        view = customers.wait_for(ticket, lambda v: "pd-resolved" in v["tags"], timeout=60)
    finally:
        for process in (beat, worker, web):
            if process:
                process.stop()
    assert "pd-resolved" in view["tags"], (view["tags"], view["notes"])
    assert len(view["replies"]) == 1 and view["notes"] == [], view
