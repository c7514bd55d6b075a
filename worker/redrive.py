"""Accepted events whose queued message vanished are queued again.

kombu's Redis transport takes a message off the queue (BRPOP) before it records it as unacknowledged:
a worker killed between the two, or a Redis killed before its append-only file held both, loses the
message although the event was accepted. The pending record (worker.pending) still names the event.
The sweep (run by Celery beat) queues again every event pending longer than POLICYDESK_REDRIVE_AFTER
whose task is neither waiting in the queue nor held by a worker (running, or waiting for a retry),
nor being handed off. It goes out under a new task id, a new delivery attempt: if the first message
was only slow after all, the worker drops the duplicate (conversation state and action ledger).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from worker import pending
from worker.celery_app import QUEUE
from worker.events import TicketEvent
from worker.intake import enqueue

log = logging.getLogger(__name__)

UNACKED = "unacked"  # kombu's hash of delivered, unacknowledged messages
PRIORITY_SEP = "\x06\x16"  # kombu's separator before a queue's priority suffix
PENDING_HEADER = "pd_pending"  # on a hand-off's message: the pending event it finishes


def in_the_broker(client: redis.Redis) -> set[str]:
    """Every pending event id the broker holds a message for, read in one transaction (a message
    moving from the queue to the unacknowledged hash is seen in one of the two)."""
    pipe = client.pipeline(transaction=True)
    for queue in [QUEUE] + [f"{QUEUE}{PRIORITY_SEP}{p}" for p in (3, 6, 9)]:
        pipe.lrange(queue, 0, -1)
    pipe.hvals(UNACKED)
    *queues, unacked = pipe.execute()
    messages = [json.loads(raw) for queued in queues for raw in queued]
    messages += [json.loads(raw)[0] for raw in unacked]
    return {name for message in messages for name in message_names(message)}


def message_names(message: dict[str, Any]) -> list[str]:
    headers = message.get("headers") or {}
    return [str(v) for v in (headers.get("id"), headers.get(PENDING_HEADER)) if v]


def redrive(client: redis.Redis, older_than: float) -> int:
    """Queue again the events accepted before `older_than` that the broker has lost; how many."""
    waiting = [task_id for task_id, _ in pending.stale(client, older_than)]
    if not waiting:
        return 0
    lost = [task_id for task_id in waiting if task_id not in in_the_broker(client)]
    again = 0
    for task_id, pointer in pending.pointers(client, lost).items():
        event = TicketEvent.from_dict(pointer)
        enqueue(client, event)
        pending.done(client, task_id)
        log.warning("queued again ticket=%s: its message was lost by the broker", event.ticket_key)
        again += 1
    return again
