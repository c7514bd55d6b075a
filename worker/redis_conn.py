"""Which Redis this process uses: REDIS_URL, then REDIS_TLS_URL, else the embedded server.

Every caller gets a plain URL, so the code path is the same whichever server answers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from worker import embedded_redis


class RedisNotConfigured(RuntimeError):
    """Raised on a platform dyno with no REDIS_URL: a private Redis per dyno would lose tickets."""


def on_platform(env: Mapping[str, str]) -> bool:
    """True on Heroku-style platforms (DYNO or PORT set) or when POLICYDESK_ENV=production."""
    return bool(env.get("DYNO") or env.get("PORT")) or env.get("POLICYDESK_ENV", "").lower() == "production"


def resolve_redis_url(env: Mapping[str, str] = os.environ) -> str:
    url = env.get("REDIS_URL") or env.get("REDIS_TLS_URL")
    if url:
        return with_tls_options(url, env)
    if on_platform(env):
        raise RedisNotConfigured(
            "REDIS_URL is not set. On a platform each dyno would start its own private Redis and "
            "tickets accepted by the web process would never reach a worker. Attach a Redis add-on."
        )
    return embedded_redis.ensure_running(embedded_redis.data_dir(env))


def with_tls_options(url: str, env: Mapping[str, str]) -> str:
    """rediss:// URLs need ssl_cert_reqs for Celery; Heroku Redis uses self-signed certificates.

    REDIS_SSL_CERT_REQS (none|optional|required, default none) sets it unless the URL already does.
    """
    parts = urlsplit(url)
    if parts.scheme != "rediss":
        return url
    query = dict(parse_qsl(parts.query))
    if "ssl_cert_reqs" not in query:
        query["ssl_cert_reqs"] = env.get("REDIS_SSL_CERT_REQS", "none")
    return urlunsplit(parts._replace(query=urlencode(query)))


SOCKET_TIMEOUT = 2.0
"""Seconds any one Redis command may take. A frozen (not dead) Redis must fail fast: a receiver then
answers 503 at once (the sender retries) and a worker retries, instead of hanging until a client
gives up. Every command we send is small, so 2 s is far above a healthy answer."""


def socket_timeout(env: Mapping[str, str] = os.environ) -> float:
    return float(env.get("POLICYDESK_REDIS_TIMEOUT") or SOCKET_TIMEOUT)


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """The process-wide client (redis-py's pool is fork-safe), with connect and command timeouts."""
    timeout = socket_timeout()
    return redis.Redis.from_url(
        resolve_redis_url(),
        decode_responses=True,
        health_check_interval=30,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
