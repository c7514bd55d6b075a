"""Counting what the code does (calls, results, tokens) without the counting layer knowing where counts go.

Connectors are the lowest layer and must not import the worker or Redis; they call `count(...)` and
whoever runs the process (the web app, the Celery worker) adds a sink that keeps the numbers. With no
sink a count is simply dropped, and a failing sink never breaks the call being counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

__all__ = ["Sink", "add_sink", "count", "remove_sink"]

log = logging.getLogger(__name__)

Sink = Callable[[str, Mapping[str, str], float], None]
_SINKS: list[Sink] = []


def add_sink(sink: Sink) -> None:
    if sink not in _SINKS:
        _SINKS.append(sink)


def remove_sink(sink: Sink) -> None:
    if sink in _SINKS:
        _SINKS.remove(sink)


def count(metric: str, amount: float = 1.0, **labels: object) -> None:
    """Add `amount` to the counter `metric` with these labels (values are turned into strings)."""
    clean = {name: str(value) for name, value in labels.items()}
    for sink in list(_SINKS):
        try:
            sink(metric, clean, amount)
        except Exception as exc:  # counting is never worth failing a ticket for
            log.debug("metric %s not counted: %s", metric, type(exc).__name__)
