"""Per-ticket lock: two events of one ticket never run at once, on any worker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import LockError


class TicketLockBusy(Exception):
    """Another event of the same ticket is being processed; this one is retried shortly."""


@contextmanager
def ticket_lock(client: redis.Redis, ticket_key: str, *, hold: float, wait: float) -> Iterator[None]:
    """`hold` outlasts the task's hard time limit, so a lock is only ever freed early by its owner."""
    lock = client.lock(f"pd:lock:{ticket_key}", timeout=hold, blocking_timeout=wait)
    if not lock.acquire():
        raise TicketLockBusy(ticket_key)
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:
            pass  # expired: only possible past the hard time limit, when the task was already killed
