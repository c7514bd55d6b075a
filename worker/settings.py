"""Worker tunables, from the environment. Every name here is in the README."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return int(env.get(name) or default)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return float(env.get(name) or default)


@dataclass(frozen=True)
class WorkerSettings:
    task_time_limit: int  # hard limit per task run, seconds
    max_retries: int  # retries of one event before it is handed to humans
    retry_backoff_max: int  # the longest wait between retries, seconds
    redelivery_cap: int  # deliveries of one attempt (worker crashes) before handing off
    lock_wait: float  # how long an event waits for its ticket's lock before retrying
    event_ttl: int  # how long delivery ids are remembered (longer than every sender's retries)
    min_confidence: float  # below this the classifier's label is not trusted
    visibility_override: int | None = None
    max_wait_hint: int = 3600  # the longest platform wait hint honoured as given, seconds
    stale_after: int = 1800  # a customer message unanswered this long is handed to a person
    sweep_interval: int = 60  # how often the stale sweep runs (Celery beat), seconds
    redrive_after: int = 120  # an accepted event the broker holds no message for is queued again
    dead_letter_cap: int = 1000  # dead letters kept at most (oldest dropped first)
    dead_letter_ttl: int = 14 * 24 * 3600  # how long one dead letter is kept

    @property
    def visibility_timeout(self) -> int:
        """Above every retry delay and time limit, so Redis never redelivers a task that still runs.

        POLICYDESK_VISIBILITY_TIMEOUT overrides it for crash tests, which need a killed worker's task
        redelivered within seconds; it must still exceed the time limit and the longest retry delay.
        """
        if self.visibility_override:
            return self.visibility_override
        return max(3600, max(self.retry_backoff_max, self.max_wait_hint) + self.task_time_limit + 600)


def load_settings(env: Mapping[str, str] = os.environ) -> WorkerSettings:
    return WorkerSettings(
        task_time_limit=_int(env, "POLICYDESK_TASK_TIME_LIMIT", 300),
        max_retries=_int(env, "POLICYDESK_MAX_RETRIES", 6),
        retry_backoff_max=_int(env, "POLICYDESK_RETRY_BACKOFF_MAX", 600),
        redelivery_cap=_int(env, "POLICYDESK_REDELIVERY_CAP", 3),
        lock_wait=_float(env, "POLICYDESK_LOCK_WAIT", 20.0),
        event_ttl=_int(env, "POLICYDESK_EVENT_TTL", 3 * 24 * 3600),
        min_confidence=_float(env, "CLASSIFIER_MIN_CONFIDENCE", 0.7),
        visibility_override=_int(env, "POLICYDESK_VISIBILITY_TIMEOUT", 0) or None,
        max_wait_hint=_int(env, "POLICYDESK_MAX_WAIT_HINT", 3600),
        stale_after=_int(env, "POLICYDESK_STALE_AFTER", 1800),
        sweep_interval=_int(env, "POLICYDESK_SWEEP_INTERVAL", 60),
        redrive_after=_int(env, "POLICYDESK_REDRIVE_AFTER", 120),
        dead_letter_cap=_int(env, "POLICYDESK_DEAD_LETTER_CAP", 1000),
        dead_letter_ttl=_int(env, "POLICYDESK_DEAD_LETTER_TTL", 14 * 24 * 3600),
    )
