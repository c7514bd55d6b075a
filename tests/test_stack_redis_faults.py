"""A full or frozen Redis never takes the service down, through gunicorn and a Celery worker on a Redis
of their own (the embedded server, as a deployment without REDIS_URL runs it).

- Full: above the admission threshold every webhook is a 503 (the helpdesk retries) and /healthz says
  so; at the cap itself (writes refused) /healthz is 503 too. Freed, both recover.
- Frozen (SIGSTOP): webhooks answer 503 within the socket timeout instead of hanging, the worker
  survives, and what was accepted before is processed once Redis thaws.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import redis
import requests
import sandbox_calls

from policydesk import deliveries
from policydesk.customers import SandboxCustomers
from policydesk.stack import WebProcess, WorkerProcess
from worker import embedded_redis

pytestmark = pytest.mark.crash


@pytest.fixture
def own_redis(tmp_path: Path):
    folder = tmp_path / "redis"
    os.environ["POLICYDESK_REDIS_MAXMEMORY"] = "16mb"
    try:
        url = embedded_redis.ensure_running(folder)
    finally:
        os.environ.pop("POLICYDESK_REDIS_MAXMEMORY", None)
    yield url, folder
    pid = int((folder / "redis.pid").read_text())
    os.kill(pid, signal.SIGCONT)
    embedded_redis.stop(folder)


def test_the_embedded_redis_never_evicts_and_has_a_cap(own_redis):
    url, _ = own_redis
    client = redis.Redis.from_url(url, decode_responses=True)
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert int(client.config_get("maxmemory")["maxmemory"]) == 16 * 1024 * 1024


def delivery(env, ticket_id: str = "48213"):
    return deliveries.freshdesk_ticket_created(
        ticket_id, "Where is my order?", "Where is it?", "jane.doe@example.com"
    ).authenticated(env)


def test_a_full_redis_is_reported_and_refuses_new_work_until_freed(own_redis, base_env, tmp_path):
    url, _ = own_redis
    env = {**base_env, "REDIS_URL": url}
    web = WebProcess(env, log_dir=tmp_path / "logs").start()
    client = redis.Redis.from_url(url)
    try:
        # fill past the admission threshold (90% of 16 MB), then to the cap itself
        cap = 16 * 1024 * 1024
        filled = 0
        while int(client.info("memory")["used_memory"]) < 0.93 * cap:
            client.set(f"filler:{filled}", b"x" * 128 * 1024)
            filled += 1
        time.sleep(1.1)  # the receivers read memory use at most once a second
        assert requests.get(f"{web.url}/healthz", timeout=10).status_code == 503
        assert delivery(env).post(web.url).status_code == 503
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for _ in range(100):
                client.set(f"filler:{filled}", b"x" * 128 * 1024)
                filled += 1
        health = requests.get(f"{web.url}/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["ok"] is False
        client.delete(*[f"filler:{i}" for i in range(filled + 1)])
        time.sleep(1.1)
        assert requests.get(f"{web.url}/healthz", timeout=10).status_code == 200
        assert delivery(env).post(web.url).status_code == 202
    finally:
        web.stop()


def test_a_frozen_redis_gets_fast_503s_and_the_worker_survives(
    own_redis, base_env, tmp_path, sandbox, sandbox_api
):
    """Redis freezes while the worker is inside the ticket's turn, holding its lock: the lock cannot be
    released, the event goes back to the queue, and once Redis thaws its redelivery takes the lock back
    and answers the customer (instead of waiting out the lock for minutes)."""
    url, folder = own_redis
    env = {**base_env, "REDIS_URL": url, "POLICYDESK_MAX_RETRIES": "8", "POLICYDESK_RETRY_BACKOFF_MAX": "2"}
    logs = tmp_path / "logs"
    web = WebProcess(env, log_dir=logs).start()
    worker = WorkerProcess(env, log_dir=logs, name="frozen").start()
    pid = int((folder / "redis.pid").read_text())
    customers = SandboxCustomers(sandbox.url, str(sandbox.cert), env)
    ticket = customers.open_ticket(
        "freshdesk", "Where is my order?", "Where is my order?", "shipped@shipengine.example"
    )
    sandbox_calls.inject(sandbox_api, "shipstation", status=0, method="GET", path_contains="/orders", delay=4)
    try:
        assert ticket.deliveries[0].post(web.url).status_code == 202
        customers.wait_for_held("shipstation", "/orders", since=0)
        os.kill(pid, signal.SIGSTOP)
        answers = []
        for _ in range(3):
            try:
                answers.append(delivery(env).post(web.url, timeout=8).status_code)
            except requests.Timeout:
                answers.append("no answer in 8 s")
        assert answers == [503, 503, 503]
        time.sleep(8)  # the worker meets the frozen Redis too
        os.kill(pid, signal.SIGCONT)
        assert worker.proc.poll() is None, "the worker died"
        view = customers.wait_for(ticket, lambda v: "pd-resolved" in v["tags"], timeout=60)
        assert "pd-resolved" in view["tags"], view
        assert worker.proc.poll() is None
    finally:
        os.kill(pid, signal.SIGCONT)
        worker.stop()
        web.stop()
