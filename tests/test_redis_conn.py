"""Which Redis the app uses, and the embedded server it starts when none is configured."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from worker import embedded_redis
from worker.redis_conn import RedisNotConfigured, resolve_redis_url


def test_redis_url_wins_over_tls_url():
    env = {"REDIS_URL": "redis://h:1/0", "REDIS_TLS_URL": "rediss://h:2/0"}
    assert resolve_redis_url(env) == "redis://h:1/0"


def test_heroku_tls_url_gets_cert_option_for_celery():
    url = resolve_redis_url({"REDIS_TLS_URL": "rediss://:pw@h.example:6380"})
    assert url == "rediss://:pw@h.example:6380?ssl_cert_reqs=none"
    kept = resolve_redis_url({"REDIS_URL": "rediss://h:1/0?ssl_cert_reqs=required"})
    assert kept.endswith("ssl_cert_reqs=required")


@pytest.mark.parametrize("marker", [{"DYNO": "web.1"}, {"PORT": "5000"}, {"POLICYDESK_ENV": "production"}])
def test_platform_without_redis_url_refuses_to_start(marker, tmp_path):
    with pytest.raises(RedisNotConfigured, match="REDIS_URL is not set"):
        resolve_redis_url({**marker, "POLICYDESK_DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "redis.json").exists()


def test_embedded_redis_is_shared_by_processes_and_keeps_data(tmp_path):
    folder = tmp_path / "data"
    env = {"POLICYDESK_DATA_DIR": str(folder)}
    url = resolve_redis_url(env)
    try:
        redis.Redis.from_url(url).set("pd:test", "kept")
        # a second process (a worker, the CLI) finds the same server instead of starting another
        code = (
            "import sys; from worker.redis_conn import resolve_redis_url; "
            "print(resolve_redis_url({'POLICYDESK_DATA_DIR': sys.argv[1]}))"
        )
        other = subprocess.run(
            [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert other == url
        assert redis.Redis.from_url(other).get("pd:test") == b"kept"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=int(url.rsplit(":", 1)[1].split("/")[0])).get("pd:test")
    finally:
        assert embedded_redis.stop(folder)
    # restarted, the server still has what it held (appendonly + save on shutdown)
    url = resolve_redis_url(env)
    try:
        assert redis.Redis.from_url(url).get("pd:test") == b"kept"
    finally:
        embedded_redis.stop(folder)
