"""The Celery tasks: one that handles every ticket event, one that hands a ticket to a person when that
fails, and the periodic sweep for customers left waiting.

Retry policy: transient failures (429, 5xx, timeouts, Redis hiccups, the ticket's lock held by another
event, a write whose outcome is unknown) are retried with exponential backoff and jitter, honouring a
platform's wait hint as given (up to POLICYDESK_MAX_WAIT_HINT), up to POLICYDESK_MAX_RETRIES. A retry
of a write whose outcome was unknown first looks the effect up on the platform (the ledger's
reconciliation): an order that was created is found and the customer is told, one that was not is
made. Permanent failures, exhausted retries, a task out of time and events that keep killing their
worker (the redelivery cap) are handed to humans.

The hand-off after a failure is its own task (`hand_off_after_failure`): it has a full time budget of
its own (the failed task may have used up its time), it runs under the ticket's lock like any event
(so it never interleaves with another event of the same ticket), and it is retried until it is done;
only when even that keeps failing does the event become a dead letter (worker.deadletters).

Time: a task stops itself at a step boundary when its deadline passes (worker.deadline), instead of
Celery's soft time limit, which raises inside whatever the pool child is doing. The hard time limit is
the last resort; a task killed by it is not acked, so it is delivered again (and counted against the
redelivery cap).
"""

from __future__ import annotations

import logging
import random
import time
from contextlib import AbstractContextManager
from typing import NoReturn

import redis
from celery import Task, signals
from celery.exceptions import Reject, Retry

from connectors.errors import BudgetExhausted, OutcomeUnknown, PlatformError, RateLimited
from connectors.helpdesk import default_helpdesk
from connectors.helpdesk.turn_reads import one_turn
from policies.understanding.claude_classifier import default_classifier
from worker import deadletters, pending, published_policies, redrive
from worker.actions import TicketActions
from worker.celery_app import app, working_time
from worker.conversation import Conversation, ConversationStore
from worker.deadline import DeadlineExceeded, deadline
from worker.events import TicketEvent
from worker.intake import HANDLE_EVENT
from worker.ledger import ActionLedger, ActionOutcomeUnknown
from worker.locks import TicketLockBusy, ticket_lock
from worker.notes import failure_note
from worker.pipeline import EventProcessor
from worker.redis_conn import get_redis
from worker.settings import WorkerSettings, load_settings
from worker.warmup import warm_up

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


@signals.worker_init.connect
def warm_before_forking(**_: object) -> None:
    """The worker's main process builds what every turn needs before it forks its pool (see
    worker.warmup); beat and the web process never run this."""
    warm_up()


def requeue_when_redis_returns(event: TicketEvent) -> NoReturn:
    """Redis itself failed: a retry (a new message) or a hand-off could not be published, and an
    acknowledged task would be lost. So the message is handed back unacknowledged: requeued if Redis
    answers again, else restored from the unacked set once the visibility timeout passes."""
    log.warning("redis unavailable ticket=%s: requeued", event.ticket_key)
    time.sleep(random.uniform(1, 3))  # a Redis that is restarting gets a moment before the next try
    raise Reject("redis unavailable", requeue=True)


@app.task(name=HANDLE_EVENT, bind=True, max_retries=None)
def handle_event(self: Task, payload: dict, budget_waits: int = 0) -> str:
    """`budget_waits`: how many of this event's retries were waits for the shared rate budget, which
    are not failures and do not count against POLICYDESK_MAX_RETRIES."""
    settings = load_settings()
    event = TicketEvent.from_dict(payload)
    try:
        deliveries = count_delivery(self.request.id, self.request.retries)
    except REDIS_DOWN:
        requeue_when_redis_returns(event)
    if deliveries > settings.redelivery_cap:
        reason = f"processing stopped the worker {deliveries - 1} times (redelivery cap)"
        return give_up(event, reason, self.request.id)
    try:
        with (
            deadline(working_time(settings.task_time_limit)),
            locked(event, settings, attempt(self)),
            one_turn(),
            published_policies.pinned(get_redis(), event.helpdesk, event.ticket_id),
        ):
            outcome = EventProcessor(
                default_helpdesk(event.helpdesk), get_redis(), default_classifier(), settings
            ).process(event)
    except (Retry, Reject):
        raise
    except REDIS_DOWN:
        requeue_when_redis_returns(event)
    except TicketLockBusy as exc:
        return retry_or_give_up(self, event, exc, settings, retry_after=None)
    except OutcomeUnknown as exc:  # the retry reconciles through the ledger, then carries on
        return retry_or_give_up(self, event, exc, settings, retry_after=None)
    except BudgetExhausted as exc:  # nothing was sent: wait in the queue for the budget's window
        return wait_for_budget(self, event, exc, budget_waits)
    except PlatformError as exc:
        if not exc.retryable:
            return give_up(event, describe(exc), self.request.id)
        return retry_or_give_up(self, event, exc, settings, retry_after=getattr(exc, "retry_after", None))
    except ActionOutcomeUnknown as exc:
        return give_up(event, f"{exc}; it may or may not have happened", self.request.id)
    except DeadlineExceeded:
        return give_up(event, f"processing took longer than {settings.task_time_limit}s", self.request.id)
    except Exception as exc:  # a bug: the customer must still reach a person
        log.exception("unexpected error ticket=%s", event.ticket_key)
        return give_up(event, f"internal error ({type(exc).__name__})", self.request.id)
    forget(self.request.id)
    log.info("event done ticket=%s kind=%s result=%s", event.ticket_key, event.kind, outcome.result)
    return outcome.result


def locked(event: TicketEvent, settings: WorkerSettings, owner: str | None) -> AbstractContextManager[None]:
    """The ticket's lock, held past the hard time limit so only its owner ever frees it early."""
    return ticket_lock(
        get_redis(),
        event.ticket_key,
        owner=owner,
        hold=settings.task_time_limit + 10,
        wait=lock_wait(settings),
    )


def attempt(task: Task) -> str | None:
    """This delivery attempt of the task: the same on a redelivery (after a crash, or a requeue while
    Redis was away), new on each retry. It owns the ticket lock, so a redelivered attempt takes back
    the lock its earlier run could not release."""
    return f"{task.request.id}:{task.request.retries}" if task.request.id else None


def lock_wait(settings: WorkerSettings) -> float:
    """Waiting for a lock counts against the task's time: keep it well inside, retry instead."""
    return min(settings.lock_wait, working_time(settings.task_time_limit) / 2)


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


def wait_for_budget(task: Task, event: TicketEvent, exc: BudgetExhausted, budget_waits: int) -> NoReturn:
    """The account's shared rate budget is spent: the event goes back to the queue until its window
    resets (plus jitter, so waiting tickets do not all return at once); not a failure."""
    countdown = (exc.retry_after or 1.0) + random.uniform(0, 1)
    log.info("waiting %.1fs for the %s rate budget ticket=%s", countdown, exc.platform, event.ticket_key)
    raise task.retry(
        args=[event.pointer()],
        kwargs={"budget_waits": budget_waits + 1},
        countdown=countdown,
        argsrepr=f"[{event.ticket_key} {event.kind}]",
        kwargsrepr="{}",
    )


def retry_or_give_up(
    task: Task, event: TicketEvent, exc: Exception, settings: WorkerSettings, retry_after: float | None
) -> str:
    attempt = task.request.retries - int((task.request.kwargs or {}).get("budget_waits") or 0)
    if attempt >= settings.max_retries:
        return give_up(event, f"{describe(exc)}, still failing after {attempt} retries", task.request.id)
    countdown = retry_delay(attempt, retry_after, settings)
    log.warning("retrying ticket=%s in %.1fs after %s", event.ticket_key, countdown, type(exc).__name__)
    # the retry carries the same pointer and the same short argsrepr as the first delivery
    raise task.retry(
        args=[event.pointer()],
        countdown=countdown,
        argsrepr=f"[{event.ticket_key} {event.kind}]",
        kwargsrepr="{}",
    )


def retry_delay(attempt: int, hint: float | None, settings: WorkerSettings) -> float:
    """A platform's own wait hint is honoured as given (Salesforce's daily limit: 900 s by default);
    only our own backoff is capped by POLICYDESK_RETRY_BACKOFF_MAX."""
    if hint is not None:
        return min(max(hint, 0.0), settings.max_wait_hint)
    return backoff(attempt, settings.retry_backoff_max)


def backoff(attempt: int, ceiling: int) -> float:
    """Full jitter: spreads retries of many tickets hitting the same rate limit."""
    return random.uniform(1, min(ceiling, 2 ** (attempt + 1)))


def describe(exc: Exception) -> str:
    if isinstance(exc, RateLimited):
        return f"{exc.platform} kept answering 'too many requests'"
    if isinstance(exc, PlatformError):
        return str(exc)
    return type(exc).__name__


def forget(task_id: str | None) -> None:
    """The event is finished (done or with a person): the stale sweep no longer watches it."""
    try:
        pending.done(get_redis(), task_id)
    except redis.RedisError:
        log.warning("could not clear a finished event from the pending set")


def give_up(event: TicketEvent, error: str, pending_id: str | None = None, *, stale: bool = False) -> str:
    """Ask the hand-off task to give the ticket to humans; dead-letter the event if even that fails.
    `pending_id` is the event's task, which the stale sweep stops watching once the hand-off is done."""
    log.error("handing off after failure ticket=%s error=%s", event.ticket_key, error)
    try:
        hand_off_after_failure.apply_async(
            args=[event.pointer(), error, pending_id, stale],
            argsrepr=f"[{event.ticket_key} hand-off]",
            kwargsrepr="{}",
            headers={redrive.PENDING_HEADER: pending_id} if pending_id else None,
        )
    except Exception as exc:
        try:
            dead_letter(event, error, exc)
        except REDIS_DOWN:
            requeue_when_redis_returns(event)  # nothing could be recorded: keep the message itself
        return "dead_lettered"
    return "handing_off"


@app.task(name="policydesk.hand_off_after_failure", bind=True, max_retries=None)
def hand_off_after_failure(
    self: Task, payload: dict, error: str, pending_id: str | None = None, stale: bool = False
) -> str:
    """The failure hand-off, under the ticket's lock, with its own time; retried until done.

    It first checks that the customer is still unanswered: another event of the same ticket may have
    handled every message meanwhile (Kustomer sends two events per new ticket), and a hand-off then
    would contradict the answer the customer just got. `stale` marks the sweep's hand-offs."""
    settings = load_settings()
    event = TicketEvent.from_dict(payload)
    try:
        with (
            deadline(working_time(settings.task_time_limit)),
            locked(event, settings, attempt(self)),
            one_turn(),
        ):
            if not still_unanswered(event):
                forget(pending_id)
                log.info("nothing left unanswered ticket=%s (stale=%s): no hand-off", event.ticket_key, stale)
                return "answered_meanwhile"
            hand_off_now(event, error)
    except Retry:
        raise
    except Exception as exc:
        if self.request.retries >= settings.max_retries:
            dead_letter(event, error, exc)
            return "dead_lettered"
        countdown = retry_delay(self.request.retries, getattr(exc, "retry_after", None), settings)
        log.warning("hand-off retrying ticket=%s after %s", event.ticket_key, type(exc).__name__)
        raise self.retry(countdown=countdown) from None
    forget(pending_id)
    return "handed_off_after_failure"


def still_unanswered(event: TicketEvent) -> bool:
    """The ticket has customer words the bot has not handled (or was never handled at all), and no
    person has it yet."""
    conversation = ConversationStore(get_redis()).load(event.helpdesk, event.ticket_id)
    if conversation is None or conversation.status == "new" or conversation.outbox:
        return True
    if conversation.status == "handed_off":
        return False
    unseen = default_helpdesk(event.helpdesk).customer_messages(event.ticket_id, after=conversation.last_seen)
    return any(not conversation.saw(m.id) for m in unseen)


def hand_off_now(event: TicketEvent, error: str) -> None:
    client = get_redis()
    store = ConversationStore(client)
    conversation = store.load(event.helpdesk, event.ticket_id) or Conversation(
        helpdesk=event.helpdesk, ticket_id=event.ticket_id
    )
    actions = TicketActions(
        default_helpdesk(event.helpdesk), ActionLedger(client, conversation.key), conversation
    )
    # one hand-off per turn, whichever of the ticket's events failed (Kustomer sends two per ticket)
    step = f"failure-{len(conversation.seen_messages)}"
    actions.hand_off(step, failure_note(error), ["pd-error"])
    conversation.status = "handed_off"
    conversation.handoff_reason = error
    store.save(conversation)
    log.info("handed off after failure ticket=%s", event.ticket_key)


def dead_letter(event: TicketEvent, error: str, handoff_error: Exception) -> None:
    try:
        deadletters.add(get_redis(), load_settings(), event, error, describe(handoff_error))
    finally:
        log.error(
            "DEAD LETTER ticket=%s error=%s handoff_error=%s",
            event.ticket_key,
            error,
            describe(handoff_error),
        )


def waited(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"


@app.task(name="policydesk.sweep_stale")
def sweep_stale() -> int:
    """Queue again what the broker lost (worker.redrive), then hand to a person every ticket whose
    customer has waited past POLICYDESK_STALE_AFTER."""
    settings = load_settings()
    client = get_redis()
    redrive.redrive(client, time.time() - settings.redrive_after)
    handed = 0
    for task_id, ticket_key in pending.stale(client, time.time() - settings.stale_after):
        helpdesk, _, ticket_id = ticket_key.partition(":")
        event = TicketEvent(
            helpdesk=helpdesk, ticket_id=ticket_id, kind="customer_message", event_id=f"stale-{task_id}"
        )
        reason = f"the customer has waited more than {waited(settings.stale_after)} for an answer"
        if give_up(event, reason, task_id, stale=True) == "handing_off":
            handed += 1
    if handed:
        log.warning("stale sweep handed off %d waiting tickets", handed)
    return handed
