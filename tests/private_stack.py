"""A web process and a worker of a test's own, for a test whose worker must be configured unlike the
shared stack's (a slow helpdesk, a small rate budget)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


@contextmanager
def private_stack(
    base_env: dict[str, str], data_dir: Path, *, db: int, name: str, **tuning: str
) -> Iterator[tuple[object, dict[str, str]]]:
    """A web process and a worker of their own on Redis database `db` (flushed), with `tuning` over
    base_env: for a test whose worker must be configured unlike the shared stack's."""
    from policydesk.stack import WebProcess, WorkerProcess

    url = base_env["REDIS_URL"].rsplit("/", 1)[0] + f"/{db}"
    redis.Redis.from_url(url).flushdb()
    env = {**base_env, "REDIS_URL": url, **tuning}
    logs = data_dir / f"{name}-logs"
    web = WebProcess(env, log_dir=logs).start()
    worker = WorkerProcess(env, log_dir=logs, name=name).start()
    try:
        yield web, env
    finally:
        worker.stop()
        web.stop()
