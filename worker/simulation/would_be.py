"""What an allowed write would have returned, so the policy carries on as it would after a real one.

A simulated write is never sent, yet the policy reads its result next ("replacement order
$replacement.number is on its way", `if not $cancellation.canceled`). Each result here has the shape
of the connector's own success result, built from the call's arguments and from what earlier reads
returned, and says `simulated: true`. Values a platform would have made up (a new order's number, a
claim id) are marked as simulated rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from connectors.bigcommerce import COUPON_VALID_DAYS, coupon_code
from policies.engines.guards import ref

Seen = Mapping[str, Mapping[str, Any]]
"""Orders and subscriptions earlier reads returned, by their comparable reference
(policies.engines.guards.ref)."""

SIMULATED_ID = "SIMULATED"
_FREQUENCY = re.compile(r"every\s+(?:(\d+)\s+)?(day|week|month|year)s?", re.I)


def would_be_result(tool: str, args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    """The success-shaped result of `tool(args)`; a write this module does not know gets only
    {simulated: true}, so a policy reading more from it hands off as it would on an odd answer."""
    build = _BUILDERS.get(tool)
    if build is None and tool.startswith("create_") and tool.endswith("order"):
        build = _created_order
    result = build(args, seen, today) if build else {}
    return {**result, "simulated": True}


def _order_id(args: Mapping[str, Any]) -> str:
    return str(args.get("order_id") or "")


def _created_order(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    return {
        "id": SIMULATED_ID,
        "number": SIMULATED_ID,
        "status": "pending",
        "email": args.get("user_email") or args.get("email"),
        "created_at": today.isoformat(),
        "items": args.get("items") or [],
        "original_order_id": args.get("original_order_id"),
    }


def _paid(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    paid = {"paid": True, "payment_method": "Manual", "status": "awaiting_fulfillment"}
    return {"order_id": _order_id(args), **paid}


def _discount(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    order = seen.get(ref(args.get("order_id")) or "") or {}
    total, percent = order.get("total"), args.get("percent")
    estimate = None
    if isinstance(total, int | float) and isinstance(percent, int | float):
        estimate = round(total * percent / 100, 2)  # the platform takes it off the subtotal before tax
    return {"order_id": _order_id(args), "applied": True, "percent": percent, "discount_amount": estimate}


def _upgrade(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    return {"order_id": _order_id(args), "upgraded": True, "shipping_method": "express", "shipping_cost": 0.0}


def _cancel(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    order = seen.get(ref(args.get("order_id")) or "") or {}
    number = order.get("number")
    return {"order_id": _order_id(args), "number": number, "canceled": True, "status": "canceled"}


def _coupon(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    reference = str(args.get("reference") or "")
    return {
        "code": coupon_code(reference),
        "percent": args.get("percent"),
        "expires": (today + timedelta(days=COUPON_VALID_DAYS)).isoformat(),
        "max_uses": 1,
    }


def _address(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    return {"updated": True, "address": dict(args.get("new_address") or {})}


def _claim(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    return {"claim_id": f"CLM-{SIMULATED_ID}", "status": "open", "order_id": _order_id(args)}


def _message(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
    return {"sent": True, "message_id": None}


def _subscription_change(change: str) -> Callable[[Mapping[str, Any], Seen, date], dict[str, Any]]:
    def build(args: Mapping[str, Any], seen: Seen, today: date) -> dict[str, Any]:
        subscription = dict(seen.get(ref(args.get("subscription_id")) or "") or {})
        subscription.setdefault("id", args.get("subscription_id"))
        following = _next_after(subscription.get("next_delivery"), subscription.get("frequency"))
        skipped = list(subscription.get("skipped_dates") or [])
        if change == "skip" and subscription.get("next_delivery"):
            skipped.append(subscription["next_delivery"])
            subscription["next_delivery"] = following
        elif change == "unskip" and skipped:
            subscription["next_delivery"] = skipped.pop()
        elif change == "pause":
            subscription["status"] = "paused"
        subscription["skipped_dates"] = skipped
        return subscription

    return build


def _next_after(when: Any, frequency: Any) -> str | None:
    """The delivery after `when` at the subscription's frequency ("every 2 weeks"), or None."""
    match = _FREQUENCY.search(str(frequency or ""))
    try:
        start = date.fromisoformat(str(when))
    except ValueError:
        return None
    if match is None:
        return None
    count, unit = int(match.group(1) or 1), match.group(2).lower()
    step = relativedelta(**{f"{unit}s": count})  # type: ignore[arg-type]  # years, months, weeks or days
    return (start + step).isoformat()


_BUILDERS: dict[str, Callable[[Mapping[str, Any], Seen, date], dict[str, Any]]] = {
    "set_order_to_paid": _paid,
    "set_discount_to_order": _discount,
    "upgrade_shipping": _upgrade,
    "cancel_bigcommerce_order": _cancel,
    "cancel_shopify_order": _cancel,
    "create_bigcommerce_coupon": _coupon,
    "update_bigcommerce_address": _address,
    "file_carrier_claim": _claim,
    "send_async_message": _message,
    "skip_smartrr_next_delivery": _subscription_change("skip"),
    "unskip_smartrr_next_delivery": _subscription_change("unskip"),
    "pause_smartrr_subscription": _subscription_change("pause"),
}
