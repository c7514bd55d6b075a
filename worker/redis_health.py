"""Can Redis take more work? Used by /healthz and by the receivers before they accept an event.

Two questions, both answered by Redis itself:
- writable: a small SET with an expiry succeeds (a Redis over its `maxmemory` with `noeviction`
  refuses writes with OOM while it still answers PING, which is why a PING is not a health check);
- headroom: below POLICYDESK_REDIS_ADMIT_RATIO (default 0.9) of `maxmemory`. Receivers stop
  accepting above it, so the last tenth stays for the worker to finish, ack and drain what is queued,
  which is what frees memory. Read from INFO at most once a second per process.
"""

from __future__ import annotations

import os
import time

import redis

PROBE_TTL = 30
_cache: dict[str, float] = {"at": 0.0, "ok": 1.0}


def writable(client: redis.Redis) -> bool:
    try:
        client.set(f"pd:health:{os.getpid()}", "1", ex=PROBE_TTL)
    except redis.RedisError:
        return False
    return True


def admit_ratio() -> float:
    return float(os.environ.get("POLICYDESK_REDIS_ADMIT_RATIO") or 0.9)


def has_headroom(client: redis.Redis) -> bool:
    now = time.monotonic()
    if now - _cache["at"] < 1.0:
        return bool(_cache["ok"])
    memory = client.info("memory")
    cap = int(memory.get("maxmemory") or 0)
    ok = cap == 0 or int(memory.get("used_memory") or 0) < cap * admit_ratio()
    _cache.update(at=now, ok=1.0 if ok else 0.0)
    return ok
