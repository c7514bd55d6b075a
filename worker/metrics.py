"""The numbers behind `GET /metrics`, kept in Redis so every process adds to the same counters.

gunicorn runs several web workers and Celery several pool children, often on other machines; a
per-process Prometheus registry would show whichever process answered the scrape. So each count is a
HINCRBYFLOAT on one Redis hash per metric (field = its labels as JSON), and the scrape renders the
hashes in Prometheus text format with prometheus_client. Labels never carry customer data: only
helpdesk, platform, tool and policy names, results and statuses.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from connectors import telemetry
from worker.redis_conn import resolve_redis_url

__all__ = ["METRICS", "install", "install_default", "metrics_client", "redis_sink", "render"]

log = logging.getLogger(__name__)

KEY_PREFIX = "pd:metrics:"
COUNT_TIMEOUT = 1.0  # seconds a count may wait for Redis: a frozen Redis must not slow a 503 down much
PAUSE_AFTER_FAILURE = 5.0  # seconds counting stays off after Redis did not take a count


@dataclass(frozen=True)
class Metric:
    help: str
    labels: tuple[str, ...]


METRICS: dict[str, Metric] = {
    "webhooks": Metric("Webhook deliveries by helpdesk and result", ("helpdesk", "result")),
    "tasks": Metric("Celery task runs by task and final state", ("task", "state")),
    "policy_outcomes": Metric("Policy turns by policy, mode and status", ("policy", "mode", "status")),
    "tool_calls": Metric("Tool calls made by policies, by tool and result", ("tool", "result")),
    "platform_requests": Metric(
        "HTTP requests to platform APIs by platform and status", ("platform", "status")
    ),
    "platform_rate_limited": Metric("HTTP 429 answers from platform APIs", ("platform",)),
    "claude_tokens": Metric("Claude tokens used, by kind (input or output)", ("kind",)),
}


def redis_sink(client: redis.Redis | Callable[[], redis.Redis]) -> telemetry.Sink:
    """A sink adding to the Redis hashes; after a failed count it stays silent for a few seconds, so a
    Redis that is down costs each request at most one short wait, not one per count."""
    paused_until = 0.0

    def sink(metric: str, labels: Mapping[str, str], amount: float) -> None:
        nonlocal paused_until
        spec = METRICS.get(metric)
        if spec is None or time.monotonic() < paused_until:
            return
        field = json.dumps({name: labels.get(name, "") for name in spec.labels}, sort_keys=True)
        target = client() if callable(client) else client
        try:
            target.hincrbyfloat(KEY_PREFIX + metric, field, amount)
        except redis.RedisError:
            paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
            raise

    return sink


@lru_cache(maxsize=1)
def metrics_client() -> redis.Redis:
    """A client of its own with a short timeout: counting must never hold up a ticket or a webhook."""
    return redis.Redis.from_url(
        resolve_redis_url(),
        decode_responses=True,
        socket_timeout=COUNT_TIMEOUT,
        socket_connect_timeout=COUNT_TIMEOUT,
    )


_INSTALLED: list[telemetry.Sink] = []


def install_default() -> None:
    """Count into the process's Redis (REDIS_URL or the embedded server), connected on first count."""
    metrics_client.cache_clear()
    install(metrics_client)


def install(client: redis.Redis | Callable[[], redis.Redis]) -> None:
    """Send this process's counts to `client` (a later call replaces the earlier one)."""
    for sink in _INSTALLED:
        telemetry.remove_sink(sink)
    _INSTALLED.clear()
    sink = redis_sink(client)
    telemetry.add_sink(sink)
    _INSTALLED.append(sink)


class _RedisCollector(Collector):
    def __init__(self, client: redis.Redis):
        self.client = client

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, spec in METRICS.items():
            family = CounterMetricFamily(f"policydesk_{name}", spec.help, labels=list(spec.labels))
            for field, value in sorted(self.client.hgetall(KEY_PREFIX + name).items()):
                try:
                    labels = json.loads(field)
                except ValueError:
                    continue
                family.add_metric([str(labels.get(label, "")) for label in spec.labels], float(value))
            yield family


def render(client: redis.Redis) -> bytes:
    """Every counter in Prometheus text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RedisCollector(client))
    return generate_latest(registry)
