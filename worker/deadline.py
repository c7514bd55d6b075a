"""A task's own deadline, checked between steps instead of Celery's soft time limit.

Celery's soft limit raises SoftTimeLimitExceeded asynchronously, from a signal, wherever the pool child
happens to be: inside a platform call, a Redis reply, or while the child writes its result to the
pool's pipe, which corrupts that pipe and kills the whole worker (UnicodeDecodeError in the parent).
So the task sets a deadline and every external action checks it before it starts (the ledger does);
a turn that runs out of time stops at a step boundary, where stopping is safe, and the hard time limit
stays only as the last resort for a call that hangs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("policydesk_deadline", default=None)


class DeadlineExceeded(Exception):
    """The task's time is up; it stopped before starting another external action."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left, or None outside a task."""
    end = _deadline.get()
    return None if end is None else end - time.monotonic()


def check() -> None:
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded("the task ran out of time")
