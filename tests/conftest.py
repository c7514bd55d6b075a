"""Real parts for every test: a real Redis, the sandbox over real HTTPS, and (in stack tests) a real
Celery worker process.

Redis: POLICYDESK_TEST_REDIS_URL if set (its database is flushed, so point it at a spare one),
else the embedded server in a temporary folder. Never REDIS_URL: tests must not flush a real store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from sandbox.server import SandboxServer
from worker import embedded_redis

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
SHARED = Path(os.environ.get("POLICYDESK_SHARED", TESTS.parent.parent / "shared"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policydesk-data")


@pytest.fixture(scope="session")
def redis_url(data_dir: Path) -> Iterator[str]:
    url = os.environ.get("POLICYDESK_TEST_REDIS_URL")
    started = False
    if not url:
        url = embedded_redis.ensure_running(data_dir / "redis")
        started = True
    yield url
    if started:
        embedded_redis.stop(data_dir / "redis")


@pytest.fixture(scope="session")
def sandbox(data_dir: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(cert_dir=data_dir / "tls").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_env(redis_url: str, sandbox: SandboxServer, data_dir: Path) -> dict[str, str]:
    """The environment a deployed policydesk would have, pointed at the sandbox and the test Redis."""
    env = {
        "REDIS_URL": redis_url,
        "POLICYDESK_DATA_DIR": str(data_dir),
        "KUSTOMER_WEBHOOK_SECRET": "kustomer-webhook-token-for-tests",
        "FRESHDESK_WEBHOOK_USER": "policydesk",
        "FRESHDESK_WEBHOOK_PASSWORD": "freshdesk-webhook-password-for-tests",
        "FRESHDESK_WEBHOOK_URL_SECRET": "freshdesk-url-secret-for-tests",
        "SALESFORCE_ORG_ID": "00D5g000004AbCdEAF",
        "SALESFORCE_WEBHOOK_URL_SECRET": "salesforce-url-secret-for-tests",
        **sandbox.env(),
    }
    return env


@pytest.fixture(scope="session")
def configured(base_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Apply base_env to this process (the web app and connectors read os.environ)."""
    from connectors.config import overridden_environ
    from worker.redis_conn import get_redis

    unset = ("REDIS_TLS_URL", "DYNO", "PORT", "POLICYDESK_ENV", "ANTHROPIC_API_KEY")
    with overridden_environ({**dict.fromkeys(unset), **base_env}):
        get_redis.cache_clear()
        yield base_env
    get_redis.cache_clear()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def sandbox_api(sandbox: SandboxServer) -> Iterator[requests.Session]:
    """A session for the sandbox's control API; the sandbox is reset around each test."""
    session = requests.Session()
    session.verify = str(sandbox.cert)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides `verify` and the sandbox cert is refused
    session.base_url = sandbox.url  # type: ignore[attr-defined]
    session.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    yield session
    session.delete(f"{sandbox.url}/_sandbox/faults")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that run the whole stack are marked `stack`, so `make test-fast` can leave them out."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.stack)


STACK_TUNING = {
    # fast retries so failure paths finish within a test's patience
    "POLICYDESK_MAX_RETRIES": "2",
    "POLICYDESK_RETRY_BACKOFF_MAX": "2",
    "POLICYDESK_LOCK_WAIT": "5",
    # the studio and /metrics are on in the stack (tests/studio_client.py knows the password)
    "POLICYDESK_STUDIO_PASSWORD": "studio-password-for-tests",
}


@pytest.fixture(scope="session")
def stack_env(base_env: dict[str, str]) -> dict[str, str]:
    """The stack uses Redis database 1: unit tests flush database 0, which would drop Celery's queue
    bindings under a running worker."""
    url = base_env["REDIS_URL"].rsplit("/", 1)[0] + "/1"
    redis.Redis.from_url(url).flushdb()
    return {**base_env, **STACK_TUNING, "REDIS_URL": url}


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str], data_dir: Path):
    """gunicorn + a Celery worker as real processes, configured like a deployment."""
    from policydesk.stack import WebProcess, WorkerProcess

    logs = data_dir / "logs"
    web = WebProcess(stack_env, log_dir=logs).start()
    worker = WorkerProcess(stack_env, log_dir=logs).start()
    yield web
    worker.stop()
    web.stop()


@pytest.fixture(scope="session")
def customers(sandbox: SandboxServer, stack_env: dict[str, str]):
    from policydesk.customers import SandboxCustomers

    return SandboxCustomers(sandbox.url, str(sandbox.cert), stack_env)
