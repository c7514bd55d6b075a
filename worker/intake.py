"""The receivers' one entry into the worker: drop duplicate deliveries, enqueue the rest.

Order matters for "nothing lost": the delivery id is claimed (SET NX) before enqueueing and released
again if enqueueing fails, so the sender's retry is not mistaken for a duplicate.
"""

from __future__ import annotations

import logging

from worker.events import TicketEvent
from worker.redis_conn import get_redis
from worker.settings import load_settings

log = logging.getLogger(__name__)


def seen_key(event: TicketEvent) -> str:
    return f"pd:seen:{event.helpdesk}:{event.event_id}"


def accept(event: TicketEvent) -> bool:
    """Enqueue the event unless its delivery id was seen; True if enqueued, False if a duplicate."""
    from worker.tasks import handle_event

    redis = get_redis()
    key = seen_key(event) if event.event_id else None
    if key and not redis.set(key, "1", nx=True, ex=load_settings().event_ttl):
        log.info("duplicate delivery dropped helpdesk=%s ticket=%s", event.helpdesk, event.ticket_id)
        return False
    try:
        # argsrepr: Flower and the broker's message headers show the ticket, never customer text or emails
        # (and Celery's default repr of the whole event costs more than the rest of the receiver).
        handle_event.apply_async(
            args=[event.to_dict()], argsrepr=f"[{event.ticket_key} {event.kind}]", kwargsrepr="{}"
        )
    except Exception:
        if key:
            redis.delete(key)
        raise
    log.debug("enqueued helpdesk=%s ticket=%s kind=%s", event.helpdesk, event.ticket_id, event.kind)
    return True
