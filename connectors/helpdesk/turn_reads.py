"""What the current turn has already read from its helpdesk, so a turn reads each record once.

A store's helpdesk API budget is shared with every other integration it runs (docs/api-budget.md), and
one turn asks for the same ticket many times: to place the event, to check who owns it, to find the
customer's words, to address the reply, to merge tags. Inside `one_turn()` a client's reads go through
`remembered`, keyed by what they read; the first asks the platform, the rest answer from memory. Our
own writes update the remembered record (`revise`), so the turn's next write merges with what is there
now. Outside a turn (tests, the command line) nothing is remembered and every read goes to the platform.

Reconciliation lookups (is that reply or note already on the ticket?) never use this: they must see
the platform as it is, not as the turn first found it.

The memory lives in a context variable: one per task, never shared between tickets or threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")

_reads: ContextVar[dict[Hashable, Any] | None] = ContextVar("helpdesk_turn_reads", default=None)


@contextmanager
def one_turn() -> Iterator[None]:
    """Reads inside this block are remembered until it ends."""
    token = _reads.set({})
    try:
        yield
    finally:
        _reads.reset(token)


def in_turn() -> bool:
    return _reads.get() is not None


def remembered(key: Hashable, read: Callable[[], T]) -> T:
    """The value read under `key` in this turn, reading it now if the turn has not yet."""
    memory = _reads.get()
    if memory is None:
        return read()
    if key not in memory:
        memory[key] = read()
    return memory[key]


def known(key: Hashable) -> Any | None:
    """What the turn read under `key`, or None if it has not read it."""
    memory = _reads.get()
    return None if memory is None else memory.get(key)


def remember(key: Hashable, value: Any) -> None:
    """Record a value the turn learnt another way (a record embedded in another answer)."""
    memory = _reads.get()
    if memory is not None:
        memory[key] = value


def revise(key: Hashable, change: Callable[[Any], None]) -> None:
    """Apply our own write to the remembered record, if the turn holds one."""
    memory = _reads.get()
    if memory is not None and memory.get(key) is not None:
        change(memory[key])


def forget(key: Hashable) -> None:
    memory = _reads.get()
    if memory is not None:
        memory.pop(key, None)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def together(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """Two independent reads at the same time: a turn's latency grows with every call made after
    another, not with calls made beside one. Both see (and fill) this turn's memory."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:  # made on first use, so a forked worker process gets its own threads
            _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="turn-read")
    beside = _POOL.submit(copy_context().run, second)
    return first(), beside.result()
