"""How to find a write's effect on the platform when its answer was lost.

The action ledger never repeats a write blindly. When a run finds an intent without a result (the
worker died during the call, or the platform answered ambiguously), it needs one of three things:
- the write is idempotent: the same request again leaves the platform as one request would, so it is
  simply sent again (IDEMPOTENT_WRITES);
- a Reconciler: read the platform and say whether the effect is there (and what the tool would have
  returned), or that it is not, in which case the write is done now;
- neither: nobody can tell, and a person must check (the ledger raises ActionOutcomeUnknown).

Some effects can only be told apart from the state before the write: a skip moves the next delivery
one period later, and a subscription that was already skipped once looks the same. Such a Reconciler
has a `baseline` read; the caller records it (in the ledger, before the intent) and hands it back to
`find` on the re-run.

Every function takes the tool's own arguments, as they were passed to the tool, and returns
JSON-able values, or None for "not on the platform". When the platform shows a change that may or
may not be ours, `find` raises OutcomeUnknown: guessing either way would skip twice or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors import bigcommerce, shopify, smartrr
from connectors.errors import OutcomeUnknown
from connectors.tools import to_jsonable

__all__ = ["IDEMPOTENT_WRITES", "RECONCILERS", "Reconciler", "is_idempotent", "reconciler_for"]

Args = Mapping[str, Any]


@dataclass(frozen=True)
class Reconciler:
    find: Callable[[Args, Any], Any | None]
    """(args, baseline) -> what the tool would have returned if its effect is there, else None."""
    baseline: Callable[[Args], Any] | None = None
    """Read before the write; what `find` compares the platform against."""


IDEMPOTENT_WRITES = frozenset(
    {
        # Absolute PUTs computed from the order and the arguments: the same values again.
        "set_discount_to_order",  # discount_amount = percent of the subtotal, replacing the last one
        "set_order_to_paid",  # payment_method "Manual", status Awaiting Fulfillment
        "upgrade_shipping",  # shipping method Express, shipping cost 0
        "update_bigcommerce_address",  # the same address fields
        "pause_smartrr_subscription",  # pausing a paused subscription changes nothing
        # The coupon code is derived from the reference and looked up before one is created.
        "create_bigcommerce_coupon",
    }
)


def _text(args: Args, name: str) -> str:
    value = args.get(name)
    return value.strip() if isinstance(value, str) else str(value or "").strip()


# ---- BigCommerce ----------------------------------------------------------------------------------


def created_replacement(args: Args, _baseline: Any = None) -> Any | None:
    """The order this conversation created with this reference, found by `external_order_id`."""
    found = bigcommerce.find_bigcommerce_order_by_reference(
        _text(args, "reference"), _text(args, "user_email")
    )
    return to_jsonable(found) if found is not None else None


def bigcommerce_cancellation(args: Args, _baseline: Any = None) -> Any | None:
    """The order shows Cancelled: the cancel took effect (the tool's own answer, rebuilt)."""
    order = bigcommerce.bigcommerce_order_details(_text(args, "order_id"))
    if order is None or order.status != "canceled":
        return None
    return {
        "order_id": order.id,
        "canceled": True,
        "status": "canceled",
        "platform_status": order.platform_status,
    }


# ---- Shopify --------------------------------------------------------------------------------------


def shopify_cancellation(args: Args, _baseline: Any = None) -> Any | None:
    """The order shows `cancelledAt`."""
    return shopify.cancellation_of(_text(args, "order_id"))


# ---- Smartrr --------------------------------------------------------------------------------------


def subscription_now(args: Args) -> Any | None:
    found = smartrr.get_smartrr_subscription(_text(args, "subscription_id"))
    return to_jsonable(found) if found is not None else None


def _dates(subscription: Mapping[str, Any]) -> tuple[str | None, set[str]]:
    skipped = subscription.get("skipped_dates") or ()
    return subscription.get("next_delivery"), {str(d) for d in skipped}


def skipped(args: Args, baseline: Any) -> Any | None:
    """The delivery that was next before the skip is now a skipped date: the skip took effect.

    Nothing moved: it did not. The next delivery moved but no skip is recorded (a renewal in
    between, or a platform that does not report skipped dates): nobody can tell, a person checks."""
    now = subscription_now(args)
    if not isinstance(now, Mapping) or not isinstance(baseline, Mapping):
        return None
    before_next, before_skipped = _dates(baseline)
    now_next, now_skipped = _dates(now)
    if before_next and before_next in now_skipped and before_next not in before_skipped:
        return now
    if now_next == before_next and now_skipped == before_skipped:
        return None
    raise OutcomeUnknown(smartrr.PLATFORM, "the subscription changed but shows no skip; check it by hand")


def unskipped(args: Args, baseline: Any) -> Any | None:
    """A skipped date is gone from the list: the unskip took effect. Nothing changed: it did not."""
    now = subscription_now(args)
    if not isinstance(now, Mapping) or not isinstance(baseline, Mapping):
        return None
    before_next, before_skipped = _dates(baseline)
    now_next, now_skipped = _dates(now)
    if before_skipped - now_skipped:
        return now
    if now_next == before_next and now_skipped == before_skipped:
        return None
    raise OutcomeUnknown(smartrr.PLATFORM, "the subscription changed but shows no unskip; check it by hand")


RECONCILERS: dict[str, Reconciler] = {
    "create_bigcommerce_order": Reconciler(find=created_replacement),
    "cancel_bigcommerce_order": Reconciler(find=bigcommerce_cancellation),
    "cancel_shopify_order": Reconciler(find=shopify_cancellation),
    "skip_smartrr_next_delivery": Reconciler(find=skipped, baseline=subscription_now),
    "unskip_smartrr_next_delivery": Reconciler(find=unskipped, baseline=subscription_now),
}


def reconciler_for(tool: str) -> Reconciler | None:
    """How to look `tool`'s effect up (by its canonical name), or None when there is no way."""
    return RECONCILERS.get(tool)


def is_idempotent(tool: str) -> bool:
    return tool in IDEMPOTENT_WRITES
