"""Reading each platform's "wait this long" hint from a response (docs/platforms/<vendor>.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping

EPOCH_THRESHOLD = 1e9  # a reset value above this is a Unix timestamp, below it a number of seconds


def wait_hint(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the platform asks us to wait, or None when it gives no hint.

    Retry-After: Freshdesk, ShipEngine, Shopify REST. X-Rate-Limit-Time-Reset-Ms: BigCommerce.
    X-RateLimit-Reset: AfterShip (epoch seconds) and Kustomer (unit unconfirmed, so both forms).
    `headers` must be case-insensitive, as requests' are.
    """
    now = time.time() if now is None else now
    try:
        if headers.get("Retry-After"):
            return max(0.0, float(headers["Retry-After"]))
        if headers.get("X-Rate-Limit-Time-Reset-Ms"):
            return max(0.0, int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000)
        if headers.get("X-RateLimit-Reset"):
            value = float(headers["X-RateLimit-Reset"])
            return max(0.0, value - now) if value > EPOCH_THRESHOLD else max(0.0, value)
        if headers.get("X-Rate-Limit-Reset"):  # ShipStation v1: seconds until reset
            return max(0.0, float(headers["X-Rate-Limit-Reset"]))
    except ValueError:
        return None
    return None
