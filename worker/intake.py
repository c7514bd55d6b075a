"""The receivers' one entry into the worker: drop duplicate deliveries, enqueue the rest.

Order matters for "nothing lost": the delivery id is claimed (SET NX) before enqueueing and released
again if enqueueing fails, so the sender's retry is not mistaken for a duplicate. Only an event whose
sender was authenticated ever gets here, so no key below can be grown by forged traffic.

What is queued is the event's pointer (ids and times, see TicketEvent.pointer): no customer text or
email reaches the broker, its headers or Flower, on the first delivery or any retry.

A Redis close to its memory cap refuses new work (503, the sender retries later) before it is full,
so the worker keeps the room it needs to finish and drain what is queued (see redis_health).
"""

from __future__ import annotations

import logging
import uuid

from redis import Redis

from worker import pending, redis_health
from worker.celery_app import app
from worker.events import TicketEvent
from worker.redis_conn import get_redis
from worker.settings import load_settings

log = logging.getLogger(__name__)

HANDLE_EVENT = "policydesk.handle_event"  # worker.tasks.handle_event


class QueueFull(Exception):
    """Redis is near its memory cap: new events wait at the sender until the queue drains."""


def seen_key(event: TicketEvent) -> str:
    return f"pd:seen:{event.helpdesk}:{event.event_id}"


def accept(event: TicketEvent) -> bool:
    """Enqueue the event unless its delivery id was seen; True if enqueued, False if a duplicate."""
    redis = get_redis()
    if not redis_health.has_headroom(redis):
        raise QueueFull("redis is near its memory cap")
    key = seen_key(event) if event.event_id else None
    if key and not redis.set(key, "1", nx=True, ex=load_settings().event_ttl):
        log.info("duplicate delivery dropped helpdesk=%s ticket=%s", event.helpdesk, event.ticket_id)
        return False
    try:
        enqueue(redis, event)
    except Exception:
        if key:
            try:
                redis.delete(key)
            except Exception:  # Redis is the thing that failed; the sender's retry will sort it out
                log.warning("could not release a failed enqueue ticket=%s", event.ticket_key)
        raise
    log.debug("enqueued helpdesk=%s ticket=%s kind=%s", event.helpdesk, event.ticket_id, event.kind)
    return True


def enqueue(redis: Redis, event: TicketEvent) -> str:
    """Record the event as pending and queue it under a new task id (a new delivery attempt); on a
    failure nothing stays recorded. Returns the task id."""
    task_id = str(uuid.uuid4())
    try:
        pending.record(redis, task_id, event.ticket_key, event.received_at, event.pointer())
        # retry=False: a frozen broker fails this request at once (503) instead of stalling it.
        # by name: the receivers never import the worker's tasks (and with them the classifier and
        # the policies), which would make each web process's first webhook wait for those imports
        app.send_task(
            HANDLE_EVENT,
            args=[event.pointer()],
            task_id=task_id,
            argsrepr=f"[{event.ticket_key} {event.kind}]",
            kwargsrepr="{}",
            retry=False,
        )
    except Exception:
        try:
            pending.done(redis, task_id)
        except Exception:
            log.warning("could not release a failed enqueue ticket=%s", event.ticket_key)
        raise
    return task_id
