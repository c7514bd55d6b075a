"""Dead letters: events that could neither be processed nor handed to a person, kept for an operator.

Bounded in every way, so nothing (a flood of failing events included) can fill Redis with them:
- each dead letter is its own key with an expiry (POLICYDESK_DEAD_LETTER_TTL);
- an index sorted by time holds at most POLICYDESK_DEAD_LETTER_CAP of them, the oldest dropped first;
- a record holds the event's pointer (helpdesk, ticket, kind, ids, times) and what failed, never the
  customer's text, email or the sender's raw body.

`policydesk deadletters list|replay|drop` reads, re-enqueues and deletes them.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, cast

import redis

from worker.events import TicketEvent
from worker.settings import WorkerSettings

INDEX = "pd:deadletters"
RECORD_PREFIX = "pd:deadletter:"


def add(
    client: redis.Redis, settings: WorkerSettings, event: TicketEvent, error: str, handoff_error: str
) -> str:
    letter_id = f"{int(time.time())}-{secrets.token_hex(4)}"
    record = {
        "id": letter_id,
        "event": event.pointer(),
        "error": error[:300],
        "handoff_error": handoff_error[:300],
        "at": time.time(),
    }
    pipe = client.pipeline()
    pipe.set(RECORD_PREFIX + letter_id, json.dumps(record, default=str), ex=settings.dead_letter_ttl)
    pipe.zadd(INDEX, {letter_id: cast(float, record["at"])})
    pipe.zremrangebyrank(INDEX, 0, -settings.dead_letter_cap - 1)
    pipe.zremrangebyscore(INDEX, "-inf", time.time() - settings.dead_letter_ttl)
    pipe.expire(INDEX, settings.dead_letter_ttl)
    pipe.execute()
    return letter_id


def listing(client: redis.Redis) -> list[dict[str, Any]]:
    """Every kept dead letter, oldest first; index entries whose record expired are pruned."""
    ids = cast(list[str], client.zrange(INDEX, 0, -1))
    if not ids:
        return []
    records = client.mget([RECORD_PREFIX + i for i in ids])
    gone = [i for i, raw in zip(ids, records, strict=True) if raw is None]
    if gone:
        client.zrem(INDEX, *gone)
    return [json.loads(raw) for raw in records if raw is not None]


def get(client: redis.Redis, letter_id: str) -> dict[str, Any] | None:
    raw = client.get(RECORD_PREFIX + letter_id)
    return json.loads(raw) if raw else None


def drop(client: redis.Redis, letter_id: str) -> bool:
    pipe = client.pipeline()
    pipe.delete(RECORD_PREFIX + letter_id)
    pipe.zrem(INDEX, letter_id)
    return bool(pipe.execute()[0])
