"""Nothing lost, nothing done twice, when a worker dies: a real Celery worker is SIGKILLed at each point of
a turn, the task is redelivered to a fresh worker, and the sandbox must have received each write once.

The sandbox holds one request open (delay fault) so the kill lands exactly where the test wants it:
- before the write: a read the turn makes before replying is held; nothing was written yet;
- right after the write: the reply is applied and its answer held, so the worker never learns it happened;
- before the state save: the turn's last helpdesk call is held, after the reply was recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from kombu.transport.redis import Channel

from policydesk.stack import WebProcess, WorkerProcess
from worker.celery_app import transport_options
from worker.settings import load_settings

pytestmark = pytest.mark.crash

CRASH_TUNING = {
    "POLICYDESK_TASK_TIME_LIMIT": "10",
    "POLICYDESK_VISIBILITY_TIMEOUT": "12",  # a dead worker's task comes back after 12 s
    "POLICYDESK_LOCK_WAIT": "4",  # then retries until the dead worker's lock expires (time limit + 10 s)
    "POLICYDESK_MAX_RETRIES": "6",
    "POLICYDESK_RETRY_BACKOFF_MAX": "2",
}
EMAIL = "in-transit.on-time@shipengine.example"


@pytest.fixture(scope="module")
def crash_env(base_env: dict[str, str]) -> dict[str, str]:
    url = base_env["REDIS_URL"].rsplit("/", 1)[0] + "/2"
    redis.Redis.from_url(url).flushdb()
    return {**base_env, **CRASH_TUNING, "REDIS_URL": url}


@pytest.fixture(scope="module")
def crash_web(crash_env: dict[str, str], data_dir: Path):
    web = WebProcess(crash_env, log_dir=data_dir / "crash-logs").start()
    yield web
    web.stop()


@pytest.fixture(scope="module")
def crash_customers(sandbox, crash_env):
    from policydesk.customers import SandboxCustomers

    return SandboxCustomers(sandbox.url, str(sandbox.cert), crash_env)


def drafts_for(customers, ticket_id: str) -> list[dict]:
    """Replies the sandbox actually applied for this conversation (not held markers or faults)."""
    return [
        w
        for w in customers.writes("kustomer")
        if w["method"] == "POST"
        and w["path"].endswith("/drafts")
        and not w.get("held")
        and not w.get("fault")
        and (w.get("body") or {}).get("conversation") == ticket_id
    ]


def leave_restore_lock_behind(env: dict[str, str]) -> None:
    """The broker transport's lock around restoring dead workers' tasks, as a worker leaves it when
    it loses Redis (or dies) while holding it: taken with the expiry our configuration gives it (or
    kombu's default) and never released."""
    options = transport_options(load_settings(env))
    expire = options.get("unacked_mutex_expire", Channel.unacked_mutex_expire)
    redis.Redis.from_url(env["REDIS_URL"]).set(Channel.unacked_mutex_key, "lost-worker", ex=expire)


@pytest.mark.parametrize(
    ("point", "fault", "held_platform", "held_path"),
    [
        (
            "before the write",
            {"platform": "shipstation", "method": "GET", "path_contains": "/orders", "delay": 25},
            "shipstation",
            "/orders",
        ),
        (
            # a worker that lost Redis (frozen, restarted) or died while restoring tasks leaves the
            # restore lock behind: a dead worker's task must still come back within the test's patience
            "before the write, with the restore lock of a lost worker left behind",
            {"platform": "shipstation", "method": "GET", "path_contains": "/orders", "delay": 25},
            "shipstation",
            "/orders",
        ),
        (
            "right after the write",
            {
                "platform": "kustomer",
                "method": "POST",
                "path_contains": "/drafts",
                "delay": 25,
                "delay_after": True,
            },
            "kustomer",
            "/drafts",
        ),
        (
            "before the state save",
            {"platform": "kustomer", "method": "GET", "path_contains": "/v1/tags", "delay": 25},
            "kustomer",
            "/v1/tags",
        ),
    ],
)
def test_worker_killed_mid_turn_answers_the_customer_exactly_once(
    crash_web, crash_customers, crash_env, data_dir, sandbox, point, fault, held_platform, held_path
):
    customers = crash_customers
    logs = data_dir / "crash-logs"
    first = WorkerProcess(crash_env, log_dir=logs, name=f"doomed-{held_platform}").start()
    since = len(customers.writes(held_platform))
    customers.http.post(f"{sandbox.url}/_sandbox/faults", json={**fault, "status": 0}).raise_for_status()
    try:
        ticket = customers.open_ticket("kustomer", "Where is my order?", "Where is my order?", EMAIL)
        for delivery in ticket.deliveries:
            assert delivery.post(crash_web.url).status_code == 202
        customers.wait_for_held(held_platform, held_path, since)
        first.kill()
    finally:
        customers.http.delete(f"{sandbox.url}/_sandbox/faults")
        first.kill()
    if "restore lock" in point:
        leave_restore_lock_behind(crash_env)

    second = WorkerProcess(crash_env, log_dir=logs, name=f"rescuer-{held_platform}").start()
    try:
        view = customers.wait_for(ticket, lambda v: "pd-resolved" in v["tags"], timeout=90)
    finally:
        second.stop()
    assert "pd-resolved" in view["tags"], (point, view["tags"], view["notes"])
    assert len(drafts_for(customers, ticket.ticket_id)) == 1, point
    assert len(view["replies"]) == 1 and "on schedule" in view["replies"][0]
    assert view["notes"] == []


def test_worker_killed_after_the_store_created_a_replacement_creates_no_second_order(
    crash_web, crash_customers, crash_env, data_dir, sandbox
):
    """The replacement order exists on BigCommerce but its answer never reached the worker: the redelivered
    turn finds it by the reference it carries instead of creating another."""
    customers = crash_customers
    logs = data_dir / "crash-logs"
    first = WorkerProcess(crash_env, log_dir=logs, name="doomed-bigcommerce").start()
    try:
        ticket = customers.open_ticket(
            "kustomer",
            "Broken mugs",
            "Order #5001 arrived damaged, both mugs are broken. Can you send a replacement?",
            "delivered.eligible@bigcommerce.example",
        )
        for delivery in ticket.deliveries:
            assert delivery.post(crash_web.url).status_code == 202
        view = customers.wait_for(ticket, lambda v: "pd-waiting" in v["tags"] and v["replies"], timeout=40)
        assert "free replacement for order 5001" in view["replies"][-1]
        since = len(customers.writes("bigcommerce"))
        customers.http.post(
            f"{sandbox.url}/_sandbox/faults",
            json={
                "platform": "bigcommerce",
                "status": 0,
                "method": "POST",
                "path_contains": "/v2/orders",
                "delay": 25,
                "delay_after": True,
            },
        ).raise_for_status()
        assert customers.reply(ticket, "Yes, same address").post(crash_web.url).status_code == 202
        customers.wait_for_held("bigcommerce", "/v2/orders", since)
        first.kill()
    finally:
        customers.http.delete(f"{sandbox.url}/_sandbox/faults")
        first.kill()

    second = WorkerProcess(crash_env, log_dir=logs, name="rescuer-bigcommerce").start()
    try:
        view = customers.wait_for(ticket, lambda v: len(v["replies"]) >= 2, timeout=90)
    finally:
        second.stop()
    created = [
        w
        for w in customers.writes("bigcommerce")[since:]
        if w["method"] == "POST"
        and w["path"].endswith("/v2/orders")
        and not w.get("held")
        and not w.get("fault")
    ]
    assert len(created) == 1, created
    assert "is set up for you" in view["replies"][-1], view["replies"]


def test_an_answer_to_a_question_posted_just_before_the_worker_died_is_acted_on(
    crash_web, crash_customers, crash_env, data_dir, sandbox, sandbox_api
):
    """The worker dies after the question went out but before it learnt so; the customer has answered
    by the time a new worker picks the ticket up. The answer is applied to that question (one
    replacement order, the customer told), never to the previous one, and nothing waits forever."""
    customers = crash_customers
    logs = data_dir / "crash-logs"
    first = WorkerProcess(crash_env, log_dir=logs, name="doomed-question").start()
    since = len(customers.writes("kustomer"))
    customers.http.post(
        f"{sandbox.url}/_sandbox/faults",
        json={
            "platform": "kustomer",
            "status": 0,
            "method": "POST",
            "path_contains": "/drafts",
            "delay": 25,
            "delay_after": True,
        },
    ).raise_for_status()
    try:
        ticket = customers.open_ticket(
            "kustomer",
            "Broken mugs",
            "Order #5001 arrived damaged, both mugs are broken. Can you send a replacement?",
            "delivered.eligible@bigcommerce.example",
        )
        for delivery in ticket.deliveries:
            assert delivery.post(crash_web.url).status_code == 202
        customers.wait_for_held("kustomer", "/drafts", since)
        # the question is on the ticket (applied, its answer held): the customer answers it
        shown = customers.http.get(f"{sandbox.url}/_sandbox/kustomer/tickets/{ticket.ticket_id}").json()
        assert any("free replacement" in text for text in shown["replies"] + shown["drafts"]), shown
        assert customers.reply(ticket, "Yes, same address").post(crash_web.url).status_code == 202
        first.kill()
    finally:
        customers.http.delete(f"{sandbox.url}/_sandbox/faults")
        first.kill()

    orders_before = len(customers.writes("bigcommerce"))
    second = WorkerProcess(crash_env, log_dir=logs, name="rescuer-question").start()
    try:
        view = customers.wait_for(ticket, lambda v: any("is set up" in r for r in v["replies"]), timeout=90)
    finally:
        second.stop()
    created = [
        w
        for w in customers.writes("bigcommerce")[orders_before:]
        if w["method"] == "POST" and w["path"].endswith("/v2/orders") and not w.get("fault")
    ]
    assert len(created) == 1, (view["replies"], view["notes"])
    assert sum("free replacement" in r for r in view["replies"]) == 1, view["replies"]
    assert "is set up" in view["replies"][-1], view["replies"]
