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
    return {
        "broker_url": resolve_redis_url(),
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout},
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": max(1, settings.task_time_limit - 30),
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "enable_utc": True,
    }


app = Celery("policydesk", include=["worker.tasks"])
app.add_defaults(celery_config)
