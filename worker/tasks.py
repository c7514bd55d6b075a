"""The Celery task that handles every ticket event, and what happens when it cannot.

Retry policy: transient failures (429, 5xx, timeouts, Redis hiccups, the ticket's lock held by another
event) are retried with exponential backoff and jitter, honouring a platform's wait hint, up to
POLICYDESK_MAX_RETRIES. Permanent failures, exhausted retries and events that keep killing their worker
(the redelivery cap) are handed to humans with a note saying what failed. If even that fails, the event
goes to the dead-letter list `pd:deadletter` and an error is logged: nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import random
import time

import redis
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded

from connectors.errors import PlatformError, RateLimited
from connectors.helpdesk import default_helpdesk
from policies.classifier import default_classifier
from worker.actions import TicketActions
from worker.celery_app import app, soft_time_limit
from worker.conversation import Conversation, ConversationStore
from worker.events import TicketEvent
from worker.ledger import ActionLedger, ActionOutcomeUnknown
from worker.locks import TicketLockBusy, ticket_lock
from worker.notes import failure_note
from worker.pipeline import EventProcessor
from worker.redis_conn import get_redis
from worker.settings import WorkerSettings, load_settings

log = logging.getLogger(__name__)

DEAD_LETTER = "pd:deadletter"


@app.task(name="policydesk.handle_event", bind=True, max_retries=None)
def handle_event(self: Task, payload: dict) -> str:
    settings = load_settings()
    event = TicketEvent.from_dict(payload)
    deliveries = count_delivery(self.request.id, self.request.retries)
    if deliveries > settings.redelivery_cap:
        return give_up(event, f"processing stopped the worker {deliveries - 1} times (redelivery cap)")
    try:
        with ticket_lock(
            get_redis(), event.ticket_key, hold=settings.task_time_limit + 10, wait=lock_wait(settings)
        ):
            outcome = EventProcessor(
                default_helpdesk(event.helpdesk), get_redis(), default_classifier(), settings
            ).process(event)
    except Retry:
        raise
    except (TicketLockBusy, redis.ConnectionError, redis.TimeoutError) as exc:
        return retry_or_give_up(self, event, exc, settings, retry_after=None)
    except PlatformError as exc:
        if not exc.retryable:
            return give_up(event, describe(exc))
        return retry_or_give_up(self, event, exc, settings, retry_after=getattr(exc, "retry_after", None))
    except ActionOutcomeUnknown as exc:
        return give_up(event, f"{exc}; it may or may not have happened")
    except SoftTimeLimitExceeded:
        return give_up(event, f"processing took longer than {settings.task_time_limit}s")
    except Exception as exc:  # a bug: the customer must still reach a person
        log.exception("unexpected error ticket=%s", event.ticket_key)
        return give_up(event, f"internal error ({type(exc).__name__})")
    log.info("event done ticket=%s kind=%s result=%s", event.ticket_key, event.kind, outcome.result)
    return outcome.result


def lock_wait(settings: WorkerSettings) -> float:
    """Waiting for a lock counts against the task's time limit: keep it well inside, retry instead."""
    return min(settings.lock_wait, soft_time_limit(settings.task_time_limit) / 2)


def count_delivery(task_id: str | None, retries: int) -> int:
    """How many times this very attempt was delivered. Redis redelivers an unacked task when its
    worker died; an event that kills every worker it touches must not loop forever."""
    if not task_id:
        return 1
    key = f"pd:deliveries:{task_id}:{retries}"
    pipe = get_redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, 7 * 24 * 3600)
    return int(pipe.execute()[0])


def retry_or_give_up(
    task: Task, event: TicketEvent, exc: Exception, settings: WorkerSettings, retry_after: float | None
) -> str:
    attempt = task.request.retries
    if attempt >= settings.max_retries:
        return give_up(event, f"{describe(exc)}, still failing after {attempt} retries")
    countdown = retry_after if retry_after is not None else backoff(attempt, settings.retry_backoff_max)
    log.warning("retrying ticket=%s in %.1fs after %s", event.ticket_key, countdown, type(exc).__name__)
    raise task.retry(exc=exc, countdown=min(countdown, settings.retry_backoff_max))


def backoff(attempt: int, ceiling: int) -> float:
    """Full jitter: spreads retries of many tickets hitting the same rate limit."""
    return random.uniform(1, min(ceiling, 2 ** (attempt + 1)))


def describe(exc: Exception) -> str:
    if isinstance(exc, RateLimited):
        return f"{exc.platform} kept answering 'too many requests'"
    if isinstance(exc, PlatformError):
        return str(exc)
    return type(exc).__name__


def give_up(event: TicketEvent, error: str) -> str:
    """Hand the ticket to humans with a note saying what failed; dead-letter it if even that fails."""
    log.error("handing off after failure ticket=%s error=%s", event.ticket_key, error)
    try:
        client = get_redis()
        store = ConversationStore(client)
        conversation = store.load(event.helpdesk, event.ticket_id) or Conversation(
            helpdesk=event.helpdesk, ticket_id=event.ticket_id
        )
        actions = TicketActions(
            default_helpdesk(event.helpdesk), ActionLedger(client, conversation.key), conversation
        )
        step = f"failure-{event.event_id or event.received_at}"
        actions.hand_off(step, failure_note(error), ["pd-error"])
        conversation.status = "handed_off"
        conversation.handoff_reason = error
        store.save(conversation)
        return "handed_off_after_failure"
    except Exception as handoff_error:
        dead_letter(event, error, handoff_error)
        return "dead_lettered"


def dead_letter(event: TicketEvent, error: str, handoff_error: Exception) -> None:
    record = {
        "event": event.to_dict(),
        "error": error,
        "handoff_error": describe(handoff_error),
        "at": time.time(),
    }
    try:
        get_redis().lpush(DEAD_LETTER, json.dumps(record, default=str))
    finally:
        log.error(
            "DEAD LETTER ticket=%s error=%s handoff_error=%s",
            event.ticket_key,
            error,
            describe(handoff_error),
        )
