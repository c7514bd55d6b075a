"""The reshipment eligibility rule: when the store sends a free replacement for an order.

A replacement costs the store the goods and the postage again, so the rule is deliberately strict and
is checked in code, never left to a policy's wording. An order is eligible only when ALL hold:

1. it was not cancelled, refunded or disputed (the customer already has their money back, or a
   chargeback is open: a replacement would pay twice);
2. it has left the warehouse: status shipped, in_transit or delivered, or exception (a parcel the
   carrier lost or damaged is the typical reason to reship), and the platform does not know that
   nothing shipped (BigCommerce's 0 Incomplete is an "exception" that never left). Approved,
   processing and pending_shipment orders are not reshipped: they can still be fixed or cancelled;
3. it is not itself a replacement, and no replacement for it exists yet (one replacement per order;
   a replacement that was cancelled does not count);
4. it was placed at most POLICYDESK_RESHIP_MAX_AGE_DAYS days ago (default 60), counted in whole
   calendar days (UTC) from the order date; an order with no readable date is not eligible;
5. its total is at most POLICYDESK_RESHIP_MAX_VALUE (default 250, in the store's currency); an order
   with no total is not eligible. Anything dearer goes to a human.

The first rule that fails is the `reason`; every failing rule is listed in `failed`. Thresholds come
from the environment; an unreadable value falls back to the default and is logged, so a typo in a
config var never stops the worker.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from connectors.models import Order

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE_DAYS = 60
DEFAULT_MAX_VALUE = 250.0
RESHIPPABLE_STATUSES = ("shipped", "in_transit", "delivered", "exception")


@dataclass(frozen=True)
class Thresholds:
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    max_value: float = DEFAULT_MAX_VALUE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Thresholds:
        return cls(
            max_age_days=int(_env_number(env, "POLICYDESK_RESHIP_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS)),
            max_value=_env_number(env, "POLICYDESK_RESHIP_MAX_VALUE", DEFAULT_MAX_VALUE),
        )

    def describe(self) -> dict[str, Any]:
        """What a policy, the agent and a human reading the ledger see as `rule`."""
        return {
            "statuses": list(RESHIPPABLE_STATUSES),
            "max_age_days": self.max_age_days,
            "max_value": self.max_value,
            "one_replacement_per_order": True,
            "text": (
                f"Reship only orders that shipped (shipped, in transit, delivered or a carrier exception), "
                f"were not cancelled, refunded or disputed, are at most {self.max_age_days} days old, "
                f"cost at most {self.max_value:g} and have not been replaced before."
            ),
        }


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        log.warning("%s is not a non-negative number; using the default %s", name, default)
        return default
    return value


@dataclass(frozen=True)
class OrderFacts:
    """What the rule needs beyond the normalized Order; the platform connector supplies it."""

    money_returned: bool = False  # refunded, partially refunded or disputed
    never_shipped: bool = False  # the platform knows nothing left the warehouse (e.g. an incomplete checkout)
    is_replacement: bool = False
    replacement_ids: Sequence[str] = ()


def assess(order: Order, facts: OrderFacts, *, today: date, thresholds: Thresholds) -> dict[str, Any]:
    """Apply the rule to one order: {eligible, reason, failed, rule, order_id, replacement_order_ids}."""
    failed: list[str] = []
    if order.status == "canceled":
        failed.append("the order was cancelled")
    if facts.money_returned:
        failed.append("the order was refunded or is disputed")
    if order.status != "canceled" and (facts.never_shipped or order.status not in RESHIPPABLE_STATUSES):
        failed.append(f"the order has not shipped yet (status {order.status})")
    if facts.is_replacement:
        failed.append("the order is itself a replacement")
    if facts.replacement_ids:
        failed.append(f"a replacement already exists (order {', '.join(facts.replacement_ids)})")
    age = _age_days(order.created_at, today)
    if age is None:
        failed.append("the order date is unknown")
    elif age > thresholds.max_age_days:
        failed.append(f"the order is {age} days old; the limit is {thresholds.max_age_days}")
    if order.total is None:
        failed.append("the order total is unknown")
    elif order.total > thresholds.max_value:
        failed.append(f"the order total {order.total:.2f} is above the limit {thresholds.max_value:.2f}")
    return {
        "eligible": not failed,
        "reason": failed[0] if failed else "the order meets every reshipment rule",
        "failed": failed,
        "rule": thresholds.describe(),
        "order_id": order.id,
        "replacement_order_ids": list(facts.replacement_ids),
    }


def not_found(order_id: str, thresholds: Thresholds) -> dict[str, Any]:
    """The answer for an order the platform does not have (same shape, so a flow can branch on it)."""
    return {
        "eligible": False,
        "reason": "the order was not found",
        "failed": ["the order was not found"],
        "rule": thresholds.describe(),
        "order_id": order_id,
        "replacement_order_ids": [],
    }


def _age_days(created_at: str | None, today: date) -> int | None:
    if not created_at:
        return None
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return None
    return (today - created.date()).days
