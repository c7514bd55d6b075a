"""Reading each platform's "wait this long" hint from a response (docs/platforms/<vendor>.md)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from connectors.errors import BudgetExhausted

EPOCH_THRESHOLD = 1e9  # a reset value above this is a Unix timestamp, below it a number of seconds


def wait_hint(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the platform asks us to wait, or None when it gives no hint.

    Retry-After: Freshdesk, ShipEngine, Shopify REST. X-Rate-Limit-Time-Reset-Ms: BigCommerce.
    X-RateLimit-Reset: AfterShip (epoch seconds) and Kustomer (unit unconfirmed, so both forms).
    `headers` must be case-insensitive, as requests' are.
    """
    if headers.get("Retry-After"):
        try:
            return max(0.0, float(headers["Retry-After"]))
        except ValueError:
            return None
    return _reset_in(headers, time.time() if now is None else now)


# ---- one rate budget per platform account, shared by every process ----------------------------------
#
# Each platform account (a Freshdesk domain, a Kustomer org, a ShipStation key...) whose plan limit is
# configured (POLICYDESK_RATE_LIMITS, e.g. `freshdesk=400/60`) has one budget of requests per window,
# kept in Redis so that every worker process spends the same budget, and corrected from the platform's
# own headers as answers arrive (the limit it reports, what remains, when the window resets), because
# the store's other integrations spend the same budget. A request takes one unit before it is sent;
# when none is left it waits for the window: in-process for a short wait, otherwise the task goes back
# to the queue for that long (connectors.errors.BudgetExhausted), neither failed nor handed off.
# Typical plans (README): Freshdesk 200-700/min, Kustomer 300-2,000/min, ShipStation 40/min,
# ShipEngine 200/min, BigCommerce 150 or 450 per 30 s, AfterShip 10/s.

SHORT_WAIT = 2.0  # a wait for budget up to this long is slept in-process; longer ones go to the queue
HEADROOM = 0.02  # of the limit, kept back for requests in flight whose headers have not arrived

# KEYS[1] the budget; ARGV now, plan limit, window. Returns seconds to wait (0 = taken).
_TAKE = """
local now, plan, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'remaining', 'reset', 'limit')
local limit = tonumber(b[3]) or plan
local remaining, reset = tonumber(b[1]), tonumber(b[2])
if (not reset) or now >= reset then
  remaining = limit - math.ceil(limit * tonumber(ARGV[4]))
  reset = now + window
end
if remaining > 0 then
  redis.call('HSET', KEYS[1], 'remaining', remaining - 1, 'reset', reset)
  redis.call('EXPIRE', KEYS[1], math.ceil(window * 2) + 60)
  return '0'
end
redis.call('HSET', KEYS[1], 'remaining', 0, 'reset', reset)
return tostring(reset - now)
"""

# KEYS[1] the budget; ARGV now, limit or '', remaining or '', seconds to reset or ''.
_OBSERVE = """
local now = tonumber(ARGV[1])
local b = redis.call('HMGET', KEYS[1], 'remaining', 'reset')
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'limit', ARGV[2]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'reset', now + tonumber(ARGV[4])) end
if ARGV[3] ~= '' then
  local seen = tonumber(ARGV[3])
  local held = tonumber(b[1])
  if (not held) or seen < held then redis.call('HSET', KEYS[1], 'remaining', seen) end
end
return 1
"""


def plans(env: Mapping[str, str]) -> dict[str, tuple[int, float]]:
    """POLICYDESK_RATE_LIMITS: `platform=requests/seconds`, comma-separated (window 60 s if left out)."""
    found: dict[str, tuple[int, float]] = {}
    for part in (env.get("POLICYDESK_RATE_LIMITS") or "").split(","):
        name, _, spec = part.strip().partition("=")
        count, _, window = spec.partition("/")
        if name and count.strip().isdigit():
            found[name.strip()] = (int(count), float(window or 60))
    return found


def budget_headers(
    headers: Mapping[str, str], now: float | None = None
) -> tuple[int | None, int | None, float | None]:
    """(limit, remaining, seconds until the window resets) as the platform reports them, each None
    when not given: Freshdesk X-Ratelimit-Total/-Remaining; Kustomer and AfterShip X-RateLimit-*;
    ShipStation X-Rate-Limit-*; BigCommerce X-Rate-Limit-Requests-Quota/-Left, -Time-Reset-Ms.
    `headers` must be case-insensitive, as requests' are."""
    limit = _number(
        headers, "X-Ratelimit-Total", "X-RateLimit-Limit", "X-Rate-Limit-Limit", "X-Rate-Limit-Requests-Quota"
    )
    remaining = _number(
        headers, "X-Ratelimit-Remaining", "X-Rate-Limit-Remaining", "X-Rate-Limit-Requests-Left"
    )
    return limit, remaining, _reset_in(headers, time.time() if now is None else now)


def _reset_in(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the platform's rate window resets, from its reset header (see wait_hint)."""
    try:
        if headers.get("X-Rate-Limit-Time-Reset-Ms"):
            return max(0.0, int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000)
        if headers.get("X-RateLimit-Reset"):  # AfterShip: epoch seconds; Kustomer: either form
            value = float(headers["X-RateLimit-Reset"])
            return max(0.0, value - now) if value > EPOCH_THRESHOLD else max(0.0, value)
        if headers.get("X-Rate-Limit-Reset"):  # ShipStation v1: seconds until reset
            return max(0.0, float(headers["X-Rate-Limit-Reset"]))
    except ValueError:
        return None
    return None


def _number(headers: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = headers.get(name)
        if value:
            try:
                return int(float(value))
            except ValueError:
                return None
    return None


class RateBudget:
    """The shared budget of one platform account in Redis (see above)."""

    def __init__(self, client: Any, platform: str, account: str, plan: tuple[int, float]):
        self.redis = client
        self.platform = platform
        self.key = f"pd:rate:{platform}:{hashlib.sha256(account.encode()).hexdigest()[:16]}"
        self.limit, self.window = plan
        self._take = client.register_script(_TAKE)
        self._observe = client.register_script(_OBSERVE)

    def take(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """One request's unit: at once, after a short wait, or BudgetExhausted (wait in the queue)."""
        waited = 0.0
        while True:
            wait = float(self._take(keys=[self.key], args=[time.time(), self.limit, self.window, HEADROOM]))
            if wait <= 0:
                return
            if waited + wait > SHORT_WAIT:
                raise BudgetExhausted(self.platform, "the shared rate budget is spent", retry_after=wait)
            sleep(wait)
            waited += wait

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the budget from what the platform just said about it."""
        limit, remaining, reset = budget_headers(headers)
        if limit is None and remaining is None and reset is None:
            return
        args = [time.time(), "" if limit is None else limit, "" if remaining is None else remaining]
        self._observe(keys=[self.key], args=[*args, "" if reset is None else reset])


_SHARED: dict[str, Any] = {}


def share_budgets(client: Any, env: Mapping[str, str]) -> None:
    """Turn the shared budgets on for this process (the worker does, with its Redis); without it a
    client spends no budget (the command line, unit tests)."""
    _SHARED.update(redis=client, plans=plans(env))


def budget_for(platform: str, account: str) -> RateBudget | None:
    """The shared budget of this account, or None when budgets are off or the platform has no plan."""
    client = _SHARED.get("redis")
    plan = (_SHARED.get("plans") or {}).get(platform)
    if client is None or plan is None:
        return None
    return RateBudget(client, platform, account, plan)
