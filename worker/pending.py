"""Accepted events not yet finished, so that a customer who wrote is never left without an answer.

The receiver records each accepted event (by its task id) with the time it was accepted; the worker
forgets it once the event is processed or handed off. The stale sweep (worker.tasks.sweep_stale, run
by Celery beat) hands to a person every ticket whose event has waited longer than
POLICYDESK_STALE_AFTER: a backlog, a stuck retry loop or a lost task all end with a person, never in
silence. Only accepted (authenticated) events are recorded, and each is removed when done, so the
set is as small as the work in flight.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

import redis

INDEX = "pd:pending"  # sorted set: task id -> time accepted
TICKETS = "pd:pending:tickets"  # hash: task id -> "helpdesk:ticket_id"
EVENTS = "pd:pending:events"  # hash: task id -> the event's pointer (ids and times only), as JSON


def record(
    client: redis.Redis,
    task_id: str,
    ticket_key: str,
    at: float | None = None,
    pointer: dict[str, Any] | None = None,
) -> None:
    pipe = client.pipeline()
    pipe.zadd(INDEX, {task_id: at or time.time()}, nx=True)
    pipe.hset(TICKETS, task_id, ticket_key)
    if pointer is not None:
        pipe.hset(EVENTS, task_id, json.dumps(pointer))
    pipe.execute()


def done(client: redis.Redis, task_id: str | None) -> None:
    if not task_id:
        return
    pipe = client.pipeline()
    pipe.zrem(INDEX, task_id)
    pipe.hdel(TICKETS, task_id)
    pipe.hdel(EVENTS, task_id)
    pipe.execute()


def pointers(client: redis.Redis, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The recorded pointer of each of these events (events recorded without one are left out)."""
    if not task_ids:
        return {}
    raw = client.hmget(EVENTS, task_ids)
    return {i: json.loads(r) for i, r in zip(task_ids, raw, strict=True) if r}


def stale(client: redis.Redis, older_than: float, limit: int = 200) -> list[tuple[str, str]]:
    """(task id, ticket key) of events accepted before `older_than`, oldest first."""
    ids = cast(list[str], client.zrangebyscore(INDEX, "-inf", older_than, start=0, num=limit))
    if not ids:
        return []
    keys = cast(list[str | None], client.hmget(TICKETS, ids))
    return [(i, k) for i, k in zip(ids, keys, strict=True) if k]
