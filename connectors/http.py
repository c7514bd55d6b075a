"""The one HTTP layer every REST connector uses: timeouts, bounded retries, clear error types.

Retrying is where integrations double-charge customers, so the rules are strict:
- 429 is always safe to repeat (the platform did not process the request) and we honour its wait hint;
- 5xx, timeouts and dropped connections are repeated only for idempotent requests;
- a non-idempotent write that fails ambiguously raises OutcomeUnknown and is never repeated here;
- a wait hint longer than `max_wait` is not slept through in-process: RateLimited carries it up so
  the Celery task can be retried later without holding a worker;
- every request first takes a unit of the account's rate budget shared by all processes
  (connectors.ratelimit), and its answer's rate headers correct that budget.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from connectors import telemetry
from connectors.errors import (
    AuthFailed,
    BudgetExhausted,
    NotFound,
    OutcomeUnknown,
    PlatformError,
    PlatformUnavailable,
    RateLimited,
    Rejected,
)
from connectors.ratelimit import budget_for, wait_hint

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504, 529})


def is_retryable(exc: BaseException) -> bool:
    """Only RateLimited and PlatformUnavailable are repeated; OutcomeUnknown never is, nor our own
    spent budget (BudgetExhausted), whose wait is the queue's."""
    return isinstance(exc, RateLimited | PlatformUnavailable) and not isinstance(exc, BudgetExhausted)


def make_retrying(
    *, attempts: int, max_wait: float, sleep: Callable[[float], None] | None = None
) -> Retrying:
    """A tenacity policy shared by every connector (simple-salesforce calls included)."""
    backoff = wait_random_exponential(multiplier=0.5, max=max_wait)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None)
        return min(hinted, max_wait) if hinted is not None else backoff(state)

    def retry_unless_hint_too_long(exc: BaseException) -> bool:
        hinted = getattr(exc, "retry_after", None)
        return is_retryable(exc) and (hinted is None or hinted <= max_wait)

    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return Retrying(
        retry=retry_if_exception(retry_unless_hint_too_long),
        wait=wait,
        stop=stop_after_attempt(attempts),
        reraise=True,
        **kwargs,
    )


class HttpClient:
    """requests.Session bound to one platform's base URL and credentials."""

    def __init__(
        self,
        platform: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        verify: bool | str = True,
        timeout: tuple[float, float] = (5.0, 30.0),
        attempts: int = 4,
        max_wait: float = 30.0,
    ):
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.max_wait = max_wait
        self.session = pooled_session(platform, headers or {}, auth)
        self.session.verify = verify

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send one logical request (possibly several attempts); return the 2xx response or raise."""
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        retrying = make_retrying(attempts=self.attempts, max_wait=self.max_wait)
        return retrying(self._attempt, method, url, params, json, headers, safe)

    def get_json(self, path: str, **kw: Any) -> Any:
        response = self.request("GET", path, **kw)
        return response.json() if response.content else None

    def send_json(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        response = self.request(method, path, json=body, **kw)
        return response.json() if response.content else None

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: Any,
        headers: Mapping[str, str] | None,
        safe: bool,
    ) -> requests.Response:
        budget = budget_for(self.platform, self.base_url)
        if budget is not None:
            budget.take()  # the account's shared budget, before anything is sent
        try:
            # verify per request: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would override the session's own
            response = self.session.request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                timeout=self.timeout,
                verify=self.session.verify,
            )
        except requests.ConnectTimeout as exc:  # never reached the platform: safe for any method
            raise PlatformUnavailable(self.platform, f"connect timeout on {method}") from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            if safe or _never_sent(exc):
                raise PlatformUnavailable(self.platform, f"{type(exc).__name__} on {method}") from exc
            raise OutcomeUnknown(
                self.platform, f"{type(exc).__name__} during {method}; effect unknown"
            ) from exc
        if budget is not None:
            budget.observe(response.headers)
        log.debug("%s %s %s -> %s", self.platform, method, _path_only(url), response.status_code)
        telemetry.count("platform_requests", platform=self.platform, status=response.status_code)
        if response.status_code == 429:
            telemetry.count("platform_rate_limited", platform=self.platform)
        if response.status_code < 300:
            return response
        raise error_for(self.platform, method, response, safe)


_SESSIONS: dict[tuple[Any, ...], requests.Session] = {}
_SESSIONS_LOCK = threading.Lock()


def pooled_session(
    platform: str, headers: Mapping[str, str], auth: tuple[str, str] | None
) -> requests.Session:
    """One session per platform and credentials for the whole process, so every client built for a
    tool call reuses the open connections instead of a new TLS handshake each time."""
    key = (platform, tuple(sorted(headers.items())), auth)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "User-Agent": "policydesk/0.1"})
            session.headers.update(headers)
            session.auth = auth
            _SESSIONS[key] = session
        return session


def error_for(platform: str, method: str, response: requests.Response, safe: bool) -> PlatformError:
    """Map a non-2xx response to the error type that tells the caller what to do next."""
    status = response.status_code
    detail = response.text[:500]
    if status == 429:
        return RateLimited(
            platform, "rate limited", status=status, detail=detail, retry_after=wait_hint(response.headers)
        )
    if status in RETRYABLE_STATUSES or status >= 500:
        if safe:
            return PlatformUnavailable(platform, f"server error on {method}", status=status, detail=detail)
        return OutcomeUnknown(
            platform, f"server error during {method}; effect unknown", status=status, detail=detail
        )
    if status in (401, 403):
        return AuthFailed(platform, "credentials refused", status=status, detail=detail)
    if status == 404:
        return NotFound(platform, "not found", status=status, detail=detail)
    return Rejected(platform, f"request rejected on {method}", status=status, detail=detail)


def _never_sent(exc: BaseException) -> bool:
    """A refused connection means the request never left us, so repeating it cannot double a write."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


_EMAIL_IN_PATH = re.compile(r"[^/=]+(?:@|%40)[^/]+", re.IGNORECASE)


def _path_only(url: str) -> str:
    """Log paths, never query strings: they can hold customer emails (and so can paths, e.g. Kustomer's
    customers/email=...; those parts are redacted)."""
    return _EMAIL_IN_PATH.sub("[email]", url.split("?", 1)[0])
