"""The sandbox's memory: per-platform data, the log of writes, and faults waiting to be served."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """Answer the next `count` matching requests with `status` instead of serving them.

    `status` 0 with a `delay` serves the request normally but slowly: held before it is handled
    (`delay_after` False: nothing applied yet) or after (`delay_after` True: applied, answer late).
    Crash tests kill a worker inside that window. Holding is logged as a write with `held` set.
    `after_applying` serves the request, then replaces its answer with the fault.
    """

    platform: str
    status: int
    count: int = 1
    method: str | None = None  # None matches every method
    path_contains: str | None = None  # None matches every path of the platform
    retry_after: float | None = None  # sent as the platform's own wait header
    body: Any = None
    delay: float = 0.0
    delay_after: bool = False
    # the request is applied, then answered with `status` (a gateway error after the write went
    # through: the caller cannot tell whether it happened)
    after_applying: bool = False

    def matches(self, platform: str, method: str, path: str) -> bool:
        return (
            self.platform == platform
            and self.count > 0
            and (self.method is None or self.method.upper() == method.upper())
            and (self.path_contains is None or self.path_contains in path)
        )


@dataclass
class SandboxState:
    """Shared by every request thread; all access goes through `lock`."""

    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    readings: dict[str, str] = field(default_factory=dict)  # "platform.name" -> the chosen reading
    requests: list[dict[str, Any]] = field(default_factory=list)  # every platform request, reads too
    latency: float = 0.0  # seconds every platform request is held before it is answered
    lock: threading.RLock = field(default_factory=threading.RLock)

    def section(self, platform: str) -> dict[str, Any]:
        return self.data.setdefault(platform, {})

    def next_id(self, name: str, start: int = 1000) -> int:
        with self.lock:
            value = self.counters.get(name, start) + 1
            self.counters[name] = value
            return value

    def record(self, platform: str, method: str, path: str, body: Any, **extra: Any) -> None:
        """Every write a connector makes, in order, for tests and the demo to read back."""
        with self.lock:
            self.writes.append(
                {
                    "platform": platform,
                    "method": method,
                    "path": path,
                    "body": copy.deepcopy(body),
                    "at": time.time(),
                    **extra,
                }
            )

    def count(self, platform: str, method: str, path: str) -> None:
        """Every request a platform receives, reads included: what an API budget is spent on."""
        with self.lock:
            self.requests.append({"platform": platform, "method": method, "path": path, "at": time.time()})

    def take_fault(self, platform: str, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(platform, method, path):
                    fault.count -= 1
                    return fault
        return None
