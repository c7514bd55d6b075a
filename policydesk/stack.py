"""The deployed shape on one machine: gunicorn serving the webhooks, Celery workers, as real processes.

The demo, the end-to-end tests and the benchmarks all run policydesk this way, so what they show is
what a deployment does.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from policydesk.customers import SandboxCustomers

PLATFORM_MARKERS = ("DYNO", "PORT", "POLICYDESK_ENV")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The current environment with `overrides`, minus platform markers (this is one machine)."""
    env = {k: v for k, v in os.environ.items() if k not in PLATFORM_MARKERS}
    env.update(overrides)
    return env


class WebProcess:
    """gunicorn serving studio.web (the receivers with the studio) on a free loopback port, with the
    Procfile's worker class.

    `app_target` lets a benchmark serve its baseline app under exactly the same gunicorn settings;
    `worker_class` lets one compare gevent (the Procfile's) with the threaded worker.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        workers: int = 2,
        threads: int = 4,
        log_dir: Path,
        app_target: str = "studio.web:create_app()",
        worker_class: str = "gevent",
        connections: int = 1000,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / "web.log"
        self._cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            *(
                ["--worker-class", "gevent", "--worker-connections", str(connections)]
                if worker_class == "gevent"
                else ["--worker-class", worker_class, "--threads", str(threads)]
            ),
            "--timeout",
            "30",
            "--config",
            "python:webhooks.gunicorn_settings",
            "--access-logfile",
            "-",
            app_target,
        ]
        self._env = process_env(env)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> WebProcess:
        self.proc = _spawn(self._cmd, self._env, self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web process exited; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # a worker still booting
                pass
            time.sleep(0.1)
        raise RuntimeError(f"web process not healthy after {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        _terminate(self.proc)


class WorkerProcess:
    """A Celery worker (prefork) consuming the policydesk queue."""

    def __init__(self, env: Mapping[str, str], *, concurrency: int = 2, log_dir: Path, name: str = "worker"):
        self.log_path = log_dir / f"{name}.log"
        self._cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker.celery_app",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{name}-{os.getpid()}@%h",
        ]
        self._env = process_env(env)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        self.proc = _spawn(self._cmd, self._env, self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.log_path}")
            if "ready." in self.log_path.read_text(errors="replace"):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        _terminate(self.proc, grace=15)

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and children), as a crashed dyno would die."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class BeatProcess:
    """Celery beat, as the Procfile's `beat` process runs it: it schedules the stale sweep."""

    def __init__(self, env: Mapping[str, str], *, log_dir: Path):
        self.log_path = log_dir / "beat.log"
        self._cmd = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--loglevel=INFO"]
        self._env = process_env(env)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> BeatProcess:
        self.proc = _spawn(self._cmd, self._env, self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"beat exited; see {self.log_path}")
            if "beat: Starting" in self.log_path.read_text(errors="replace"):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"beat not started after {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        _terminate(self.proc)


def _spawn(cmd: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - handed to the child, closed by the OS on exit
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _terminate(proc: subprocess.Popen | None, grace: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass(frozen=True)
class LocalStack:
    env: dict[str, str]
    web: WebProcess
    customers: SandboxCustomers


@contextmanager
def local_stack(
    folder: Path, *, env: Mapping[str, str] | None = None, workers: int = 2
) -> Iterator[LocalStack]:
    """The whole deployment on this machine, in `folder`: an embedded Redis, the sandbox, gunicorn and a
    Celery worker of `workers` processes, with fresh webhook secrets; all stopped on exit."""
    from sandbox.server import SandboxServer
    from worker import embedded_redis

    redis_url = embedded_redis.ensure_running(folder / "redis")
    sandbox = SandboxServer(cert_dir=folder / "tls").start()
    full_env = {
        "REDIS_URL": redis_url,
        "POLICYDESK_DATA_DIR": str(folder),
        "KUSTOMER_WEBHOOK_SECRET": secrets.token_hex(16),
        "FRESHDESK_WEBHOOK_USER": "policydesk",
        "FRESHDESK_WEBHOOK_PASSWORD": secrets.token_hex(16),
        "SALESFORCE_ORG_ID": "00D5g000004AbCdEAF",
        "SALESFORCE_WEBHOOK_URL_SECRET": secrets.token_hex(16),
        **sandbox.env(),
        **(env or {}),
    }
    web = worker = None
    try:
        web = WebProcess(full_env, log_dir=folder / "logs").start()
        worker = WorkerProcess(full_env, concurrency=workers, log_dir=folder / "logs").start()
        yield LocalStack(full_env, web, SandboxCustomers(sandbox.url, str(sandbox.cert), full_env))
    finally:
        for process in (worker, web):
            if process:
                process.stop()
        sandbox.stop()
        embedded_redis.stop(folder / "redis")
