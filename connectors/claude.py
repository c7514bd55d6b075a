"""Claude through the anthropic SDK: the one place that builds the client, reads its limits from the
environment and decides how a Messages API call is retried.

Retry budget. POLICYDESK_CLAUDE_RETRIES is the total number of HTTP attempts one logical call may make.
`call_messages` switches the SDK's own retry loop off (max_retries=0 for the call) and retries here with
the tenacity policy every other connector uses (connectors.http.make_retrying), never both, because:
- one loop means one count: the server sees exactly the budget, not budget x (SDK retries + 1);
- the SDK sleeps for whatever `retry-after` says with no ceiling, which would hold a worker for as long
  as the API asks; here a hint longer than POLICYDESK_CLAUDE_MAX_WAIT is not slept through and surfaces
  as RateLimited / ClaudeUnavailable with `retry_after`, so the task can be retried later instead;
- 429, 529, other 5xx, 408/409 and timeouts are repeated (a Messages call changes nothing on the API's
  side, so repeating it is safe); 400/401/403/404 are not: repeating cannot help.

`claude_client(max_retries=...)` still lets a caller that talks to the SDK directly keep the SDK's loop;
it defaults to 0 so a client handed around the code base cannot double the budget by accident.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.types import Message

from connectors import telemetry
from connectors.config import tls_verify
from connectors.errors import AuthFailed, NotFound, PlatformError, PlatformUnavailable, RateLimited, Rejected
from connectors.http import make_retrying
from connectors.ratelimit import wait_hint

__all__ = [
    "PLATFORM",
    "ClaudeRateLimited",
    "ClaudeSettings",
    "ClaudeUnavailable",
    "ToolOutputInvalid",
    "call_messages",
    "claude_client",
    "claude_error",
    "claude_settings",
    "forced_tool_input",
]

log = logging.getLogger(__name__)

PLATFORM = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class ClaudeSettings:
    """Model and limits, from the environment (see `claude_settings`)."""

    model: str = "claude-sonnet-4-6"
    max_steps: int = 8  # agent tool-use steps per customer turn
    max_tokens: int = 60_000  # tokens per conversation, input and output together
    retries: int = 3  # total HTTP attempts per logical call, the first one included
    timeout: float = 60.0  # seconds per attempt
    max_wait: float = 10.0  # longest wait between attempts slept in-process


SETTINGS_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "model": ("ANTHROPIC_MODEL", str),
    "max_steps": ("POLICYDESK_AGENT_MAX_STEPS", int),
    "max_tokens": ("POLICYDESK_AGENT_MAX_TOKENS", int),
    "retries": ("POLICYDESK_CLAUDE_RETRIES", int),
    "timeout": ("POLICYDESK_CLAUDE_TIMEOUT", float),
    "max_wait": ("POLICYDESK_CLAUDE_MAX_WAIT", float),
}


def claude_settings(env: Mapping[str, str] = os.environ) -> ClaudeSettings:
    """Settings from `env`. A malformed or non-positive value keeps its default (and says so) rather
    than stopping the worker: Claude is an optional layer with a local fallback."""
    values: dict[str, Any] = {}
    for field, (var, parse) in SETTINGS_ENV.items():
        raw = (env.get(var) or "").strip()
        if not raw:
            continue
        try:
            value = parse(raw)
        except ValueError:
            log.warning("ignoring %s: %r is not a valid value", var, raw)
            continue
        if field != "model" and value <= 0:
            log.warning("ignoring %s: it must be positive", var)
            continue
        values[field] = value
    return ClaudeSettings(**values)


def claude_client(
    env: Mapping[str, str] = os.environ, max_retries: int = 0, *, timeout: float | None = None
) -> anthropic.Anthropic | None:
    """An SDK client for ANTHROPIC_API_KEY, or None when there is no key (Claude is off).

    ANTHROPIC_BASE_URL points it elsewhere (the sandbox); POLICYDESK_CA_BUNDLE is the certificate it
    trusts there. Everything comes from `env`, never from the process environment behind its back,
    so a test's client reaches exactly the server the test started.
    """
    key = env.get("ANTHROPIC_API_KEY")
    if not key:
        return None
    _keep_ticket_text_out_of_logs()
    settings = claude_settings(env)
    seconds = timeout if timeout is not None else settings.timeout
    limit = anthropic.Timeout(seconds, connect=min(CONNECT_TIMEOUT, seconds))
    verify = tls_verify(env)
    context = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else True
    return anthropic.Anthropic(
        api_key=key,
        base_url=env.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
        max_retries=max_retries,
        timeout=limit,
        http_client=anthropic.DefaultHttpxClient(verify=context, timeout=limit),
    )


def _keep_ticket_text_out_of_logs() -> None:
    """At DEBUG the SDK logs every request's options, ticket text and customer emails included. Cap its
    logger at INFO unless someone asked for SDK debugging explicitly (ANTHROPIC_LOG sets a level)."""
    sdk = logging.getLogger("anthropic")
    if sdk.level == logging.NOTSET:
        sdk.setLevel(logging.INFO)


class ClaudeRateLimited(RateLimited):
    """429 from the Messages API that outlasted the retry budget (or asked for too long a wait)."""

    attempts = 0


class ClaudeUnavailable(PlatformUnavailable):
    """529 overloaded, another 5xx, or a timeout / dropped connection, after the retry budget."""

    attempts = 0

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any):
        super().__init__(PLATFORM, message, **kw)
        self.retry_after = retry_after


def claude_error(exc: anthropic.AnthropicError) -> PlatformError:
    """The connectors.errors type that tells the caller what to do about an SDK exception.

    The message never carries the request (it holds ticket text); `detail` is the API's own error type,
    message and request id, which are safe to log.
    """
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        given = body.get("error")
        error: dict[str, Any] = given if isinstance(given, dict) else {}
        request_id = exc.response.headers.get("request-id")
        detail = f"{error.get('type', 'error')}: {error.get('message', '')} (request-id {request_id})"
        hint = _retry_after(exc.response.headers)
        if status == 429:
            return ClaudeRateLimited(PLATFORM, "rate limited", status=status, detail=detail, retry_after=hint)
        if status >= 500 or status in (408, 409):
            kind = "overloaded" if status == 529 else "server error"
            return ClaudeUnavailable(kind, status=status, detail=detail, retry_after=hint)
        if status in (401, 403):
            return AuthFailed(PLATFORM, "credentials refused", status=status, detail=detail)
        if status == 404:
            return NotFound(PLATFORM, "model or endpoint not found", status=status, detail=detail)
        return Rejected(PLATFORM, "request rejected", status=status, detail=detail)
    if isinstance(exc, anthropic.APITimeoutError):
        return ClaudeUnavailable("timeout")
    if isinstance(exc, anthropic.APIConnectionError):
        return ClaudeUnavailable("connection failed")
    return PlatformError(PLATFORM, f"unusable response ({type(exc).__name__})")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The API's wait hint; `retry-after-ms` first, as the SDK reads it."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
    except ValueError:
        pass
    return wait_hint(headers)


def call_messages(
    client: anthropic.Anthropic, *, settings: ClaudeSettings | None = None, **request: Any
) -> Message:
    """POST /v1/messages under the retry budget; `request` is what `client.messages.create` takes
    (`model` defaults to ANTHROPIC_MODEL).

    Raises, after at most `settings.retries` attempts in all: ClaudeRateLimited / ClaudeUnavailable
    (retryable later; `retry_after` when the API gave a hint, `attempts` made), or at once AuthFailed,
    NotFound, Rejected for requests that no repetition can fix.
    """
    settings = settings or claude_settings()
    request.setdefault("model", settings.model)
    single = client.with_options(max_retries=0)  # the SDK's loop off: this function owns the budget
    attempts = 0

    def attempt() -> Message:
        nonlocal attempts
        attempts += 1
        try:
            message = single.messages.create(**request)
        except anthropic.AnthropicError as exc:
            raise claude_error(exc) from exc
        usage = getattr(message, "usage", None)
        telemetry.count("claude_tokens", float(getattr(usage, "input_tokens", 0) or 0), kind="input")
        telemetry.count("claude_tokens", float(getattr(usage, "output_tokens", 0) or 0), kind="output")
        return message

    retrying = make_retrying(attempts=settings.retries, max_wait=settings.max_wait)
    try:
        return retrying(attempt)
    except (ClaudeRateLimited, ClaudeUnavailable) as exc:
        exc.attempts = attempts
        log.warning("anthropic: giving up after %d attempt(s): %s", attempts, exc)
        raise


class ToolOutputInvalid(PlatformError):
    """Claude answered, but not with the forced tool call we asked for (text instead, cut off, other tool)."""

    def __init__(self, message: str):
        super().__init__(PLATFORM, message)


def forced_tool_input(
    client: anthropic.Anthropic,
    tool: Mapping[str, Any],
    *,
    system: str,
    content: str,
    max_tokens: int = 512,
    settings: ClaudeSettings | None = None,
) -> dict[str, Any]:
    """One forced call of `tool` (tool_choice {"type": "tool"}); returns the input Claude gave it.

    For structured extraction: the answer must come back through the tool's input schema, never as
    prose. The system prompt is marked for prompt caching: it and the tool definition are the stable
    prefix of every such call. Raises call_messages' errors, or ToolOutputInvalid when the reply does
    not hold exactly that tool call (the caller still checks the values against the schema).
    """
    message = call_messages(
        client,
        settings=settings,
        max_tokens=max_tokens,
        system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        tools=[dict(tool)],
        tool_choice={"type": "tool", "name": tool["name"]},
        messages=[{"role": "user", "content": content}],
    )
    if message.stop_reason != "tool_use":
        raise ToolOutputInvalid(f"stop_reason {message.stop_reason!r} instead of tool_use")
    calls = [block for block in message.content if block.type == "tool_use" and block.name == tool["name"]]
    if len(calls) != 1 or not isinstance(calls[0].input, dict):
        raise ToolOutputInvalid(f"expected one {tool['name']} call, got {len(calls)}")
    return dict(calls[0].input)
