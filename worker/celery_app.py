"""The Celery app, configured for at-least-once delivery without duplicate effects.

acks_late + reject_on_worker_lost: a task whose worker dies is redelivered, not lost.
prefetch 1: a worker holds one unacknowledged event at a time, so a crash strands at most one.
visibility_timeout above every retry delay and the time limit: Redis never hands a running task
to a second worker. Duplicate effects are prevented by the per-ticket lock and the action ledger.
Configuration is lazy so importing this module (as the web process does) starts nothing.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from worker.redis_conn import resolve_redis_url
from worker.settings import load_settings

QUEUE = "policydesk"


def celery_config() -> dict[str, Any]:
    settings = load_settings()
    transport = {"visibility_timeout": settings.visibility_timeout}
    if settings.visibility_override:  # crash tests: sweep for a dead worker's tasks every second
        transport.update(unacked_restore_interval=1, unacked_restore_throttle=1)
    return {
        "broker_url": resolve_redis_url(),
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport,
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": soft_time_limit(settings.task_time_limit),
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "enable_utc": True,
    }


def soft_time_limit(hard: int) -> int:
    """Leave the task time to hand off cleanly before the hard limit kills it."""
    return hard - 30 if hard > 150 else max(1, int(hard * 0.8))


app = Celery("policydesk", include=["worker.tasks"])
app.add_defaults(celery_config)
