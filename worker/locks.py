"""Per-ticket lock: two events of one ticket never run at once, on any worker.

The lock's token names its owner: one delivery attempt of one event (the task id and its retry
number). A run that dies, or that loses Redis while holding the lock (a frozen or restarting Redis
cannot take the release), leaves the lock behind; the same attempt delivered again is its owner and
takes it back at once, instead of waiting out `hold` while the customer waits. Any other event still
waits until the lock is released or expires.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import LockError
from redis.lock import Lock


class TicketLockBusy(Exception):
    """Another event of the same ticket is being processed; this one is retried shortly."""


class OwnedLock(Lock):
    """A lock that its owner can take back: held already with the owner's token counts as acquired
    (and its expiry is renewed)."""

    def do_acquire(self, token: str) -> bool:
        if super().do_acquire(token):
            return True
        expiry_ms = int(self.timeout * 1000) if self.timeout else 0
        reacquire = self.lua_reacquire
        assert reacquire is not None  # Lock.__init__ registers it
        return bool(reacquire(keys=[self.name], args=[token, expiry_ms], client=self.redis))


@contextmanager
def ticket_lock(
    client: redis.Redis, ticket_key: str, *, owner: str | None = None, hold: float, wait: float
) -> Iterator[None]:
    """`hold` outlasts the task's hard time limit, so a lock is only ever freed early by its owner.
    `owner` is the delivery attempt; None makes the lock this call's alone."""
    lock = client.lock(f"pd:lock:{ticket_key}", timeout=hold, blocking_timeout=wait, lock_class=OwnedLock)
    if not lock.acquire(token=owner):
        raise TicketLockBusy(ticket_key)
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:
            pass  # expired: only possible past the hard time limit, when the task was already killed
