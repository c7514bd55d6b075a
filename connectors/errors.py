"""One error type per way a platform call can fail, so callers decide by type, not by status code."""

from __future__ import annotations


class PlatformError(Exception):
    """A call to an external platform failed. `retryable` says whether trying later can help."""

    retryable = False

    def __init__(self, platform: str, message: str, *, status: int | None = None, detail: str = ""):
        self.platform = platform
        self.status = status
        self.detail = detail[:500]
        super().__init__(f"{platform}: {message}" + (f" (HTTP {status})" if status else ""))


class RateLimited(PlatformError):
    """429 (or the platform's equivalent) that outlasted our in-process waits; retry after `retry_after`."""

    retryable = True

    def __init__(self, platform: str, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(platform, message, **kw)
        self.retry_after = retry_after


class BudgetExhausted(RateLimited):
    """Our own shared rate budget for the account is spent until `retry_after`: nothing was sent.
    The task waits in the queue for that long; it is neither failed nor handed off for it."""


class PlatformUnavailable(PlatformError):
    """5xx, timeout or connection failure on a call that is safe to repeat."""

    retryable = True


class OutcomeUnknown(PlatformError):
    """A non-idempotent write failed in a way that leaves its effect unknown; never repeat it blindly.

    Retryable in the sense that trying later helps: the ledger keeps the write's intent, so the retried
    turn first looks the effect up on the platform (reconciliation) and only writes if it is not
    there; a write that cannot be looked up goes to a person. In-process retries never repeat it
    (connectors.http.is_retryable)."""

    retryable = True


class AuthFailed(PlatformError):
    """401/403: credentials are wrong or lack a permission. Retrying will not help."""


class NotFound(PlatformError):
    """404: the resource does not exist on the platform."""


class Rejected(PlatformError):
    """Any other 4xx: the platform refused the request as malformed or not allowed."""


class NotConfigured(PlatformError):
    """The platform has no credentials in the environment, so it is off."""
