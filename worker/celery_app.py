"""The Celery app, configured for at-least-once delivery without duplicate effects.

acks_late + reject_on_worker_lost: a task whose worker dies is redelivered, not lost.
prefetch 1: a worker holds one unacknowledged event at a time, so a crash strands at most one.
visibility_timeout above every retry delay and the time limit: Redis never hands a running task
to a second worker. Duplicate effects are prevented by the per-ticket lock and the action ledger.
Configuration is lazy so importing this module (as the web process does) starts nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, signals

from connectors import telemetry
from worker import embedded_redis, json_logs, metrics, published_policies
from worker.redis_conn import get_redis, resolve_redis_url, socket_timeout
from worker.settings import WorkerSettings, load_settings

QUEUE = "policydesk"
RESTORE_LOCK_SECONDS = 10


def celery_config() -> dict[str, Any]:
    settings = load_settings()
    return {
        "broker_url": resolve_redis_url(),
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options(settings),
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # a task that raised is done with (our tasks hand off before they raise); one killed by the
        # hard time limit is not: it is requeued and counted against the redelivery cap
        "task_acks_on_failure": True,
        "task_acks_on_timeout": False,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": settings.task_time_limit,
        # no soft time limit: it raises asynchronously inside the pool child (see worker.deadline)
        "task_soft_time_limit": None,
        "beat_schedule": {
            "sweep-stale": {"task": "policydesk.sweep_stale", "schedule": float(settings.sweep_interval)}
        },
        "beat_schedule_filename": str(beat_schedule_file()),
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "enable_utc": True,
    }


def transport_options(settings: WorkerSettings) -> dict[str, Any]:
    """How the worker talks to Redis as a broker."""
    transport: dict[str, Any] = {
        "visibility_timeout": settings.visibility_timeout,
        # a frozen Redis must fail fast, not hang (the poll for work blocks 1 s at a time)
        "socket_timeout": max(5.0, socket_timeout()),
        "socket_connect_timeout": socket_timeout(),
        # the lock around restoring a dead worker's unacknowledged tasks: a worker killed, or cut off
        # from a frozen or restarting Redis, while it held it would block every restore for kombu's
        # default 5 minutes. Each restore is a WATCH transaction, so the lock only saves work: short.
        "unacked_mutex_expire": RESTORE_LOCK_SECONDS,
    }
    if settings.visibility_override:  # crash tests: sweep for a dead worker's tasks every second
        transport.update(unacked_restore_interval=1, unacked_restore_throttle=1)
    return transport


def working_time(hard: int) -> int:
    """The task's own deadline: it stops at a step boundary this long after it started, leaving the
    rest of the hard limit for the call in progress to finish (each has its own socket timeout)."""
    return hard - 30 if hard > 150 else max(1, int(hard * 0.8))


def beat_schedule_file() -> Path:
    """Celery beat's schedule state, in the data folder (it is re-created if lost)."""
    folder = embedded_redis.data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "celerybeat-schedule"


app = Celery("policydesk", include=["worker.tasks"])
app.add_defaults(celery_config)


@signals.worker_process_init.connect
def share_rate_budgets(**_: Any) -> None:
    """Every worker process spends the same per-account rate budgets, kept in Redis."""
    import os

    from connectors.ratelimit import share_budgets
    from worker.redis_conn import get_redis

    share_budgets(get_redis(), os.environ)


@signals.worker_init.connect
def _observe_worker(**_: Any) -> None:
    """The worker's log lines (LOG_FORMAT) and counters (GET /metrics) go where the web process's go,
    and its tickets run on the policies published in the studio."""
    json_logs.configure_root()
    metrics.install_default()
    published_policies.install(get_redis)


@signals.after_setup_logger.connect
def _json_celery_logs(logger: Any = None, **_: Any) -> None:
    if logger is not None and json_logs.wants_json():
        json_logs.use_json(logger)


@signals.task_postrun.connect
def _count_task(task: Any = None, state: str | None = None, **_: Any) -> None:
    telemetry.count("tasks", task=getattr(task, "name", "?"), state=state or "UNKNOWN")
