"""Built-in helpdesk tools: things a policy does on the ticket itself rather than on a store platform.

They are declared in the registry by connectors/helpdesk/builtins.py (platform "helpdesk"), so
`policydesk validate` resolves `@file_carrier_claim`, `policydesk tools` lists them, and their guards
apply to every engine. They act on the ticket being handled, which a registry tool cannot know about,
so the worker's port runs them here with `run(name, desk, conversation, args)` instead of
`registry.invoke`.

Why a carrier claim is a task for a person: none of the platforms policydesk supports (AfterShip,
ShipEngine, ShipStation, BigCommerce, Shopify, Smartrr) exposes an API to open a claim with a carrier,
and each carrier has its own claims portal. So `file_carrier_claim` records everything a person needs
to file it (an internal note, the `pd-claim` tag agents filter on, a Redis record the policy and
reports can read back) and says so: its status is "open" until a person files it.

Both run at most once per step: the port calls them through the action ledger. A retried task that
reaches `run` again (the ledger drops its entry after a definite failure) finds the claim record and
the note it already wrote, so nothing is duplicated.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from connectors.helpdesk.base import Helpdesk
from connectors.helpdesk.builtins import PLATFORM, file_carrier_claim, send_async_message
from connectors.tools import normalize
from worker.conversation import Conversation

__all__ = [
    "CLAIM_TAG",
    "PLATFORM",
    "claim_key",
    "claims_for",
    "file_carrier_claim",
    "is_builtin",
    "run",
    "send_async_message",
]

CLAIM_TAG = "pd-claim"
CLAIM_TTL = 400 * 24 * 3600  # carriers accept claims for months; keep the record well past that
MAX_REASON = 300
MAX_MESSAGE = 5000
MAX_ORDER_ID = 64
_ORDER_ID = re.compile(r"^[\w.:/-]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# ---- execution by the worker's port --------------------------------------------------------------


def is_builtin(name: str) -> bool:
    return normalize(name) in _RUNNERS


def run(
    name: str,
    desk: Helpdesk,
    conversation: Conversation,
    args: Mapping[str, Any],
    *,
    redis_client: redis.Redis | None = None,
) -> dict[str, Any]:
    """Execute a built-in tool on the conversation's ticket. Bad arguments raise ValueError/TypeError
    (the engines turn those into a hand-off); helpdesk failures raise connectors.errors types."""
    runner = _RUNNERS.get(normalize(name))
    if runner is None:
        raise KeyError(f"unknown built-in tool {name!r}")
    expected = _ARGUMENTS[normalize(name)]
    unknown = set(args) - set(expected)
    if unknown:
        raise TypeError(f"{name} takes no argument(s) {sorted(unknown)}")
    if redis_client is None:
        from worker.redis_conn import get_redis

        redis_client = get_redis()
    return runner(desk, conversation, dict(args), redis_client)


def _file_claim(
    desk: Helpdesk, conversation: Conversation, args: dict[str, Any], client: redis.Redis
) -> dict[str, Any]:
    order_id = _order_id(args.get("order_id"))
    reason = _text(args.get("reason"), MAX_REASON, "reason")
    carrier, tracking = _parcel_of(conversation, order_id)
    claim_id = _claim_id(conversation, order_id)
    record = {
        "claim_id": claim_id,
        "status": "open",
        "order_id": order_id,
        "carrier": carrier,
        "tracking_number": tracking,
        "reason": reason,
        "created_at": int(time.time()),
    }
    key = claim_key(conversation.helpdesk, conversation.ticket_id)
    if not client.hsetnx(key, order_id, json.dumps(record)):
        record = json.loads(client.hget(key, order_id) or "{}") or record  # a retry: keep the first
    client.expire(key, CLAIM_TTL)
    if not desk.find_note(conversation.ticket_id, claim_id):
        desk.add_note(conversation.ticket_id, claim_note(record))
    desk.set_tags(conversation.ticket_id, [CLAIM_TAG])
    return {
        "claim_id": record["claim_id"],
        "status": record["status"],
        "order_id": order_id,
        "carrier": record.get("carrier"),
        "tracking_number": record.get("tracking_number"),
    }


def _send_message(
    desk: Helpdesk, conversation: Conversation, args: dict[str, Any], client: redis.Redis
) -> dict[str, Any]:
    message = _text(args.get("message"), MAX_MESSAGE, "message", keep_lines=True)
    message_id = desk.reply(conversation.ticket_id, message)
    conversation.note_turn("bot", message)
    return {"sent": True, "message_id": str(message_id) if message_id is not None else None}


Runner = Callable[[Helpdesk, Conversation, dict[str, Any], redis.Redis], dict[str, Any]]
_RUNNERS: dict[str, Runner] = {
    normalize("file_carrier_claim"): _file_claim,
    normalize("send_async_message"): _send_message,
}
_ARGUMENTS: dict[str, tuple[str, ...]] = {
    normalize("file_carrier_claim"): ("order_id", "reason"),
    normalize("send_async_message"): ("message",),
}


# ---- claims --------------------------------------------------------------------------------------


def claim_key(helpdesk: str, ticket_id: str) -> str:
    return f"pd:claims:{helpdesk}:{ticket_id}"


def claims_for(client: redis.Redis, helpdesk: str, ticket_id: str) -> list[dict[str, Any]]:
    """Every claim recorded on a ticket, oldest first."""
    raw = client.hgetall(claim_key(helpdesk, ticket_id)) or {}
    claims = []
    for value in raw.values():
        try:
            claims.append(json.loads(value))
        except (TypeError, ValueError):
            continue
    return sorted(claims, key=lambda c: c.get("created_at") or 0)


def claim_note(record: Mapping[str, Any]) -> str:
    """The note a colleague files the claim from; no customer contact details, only the parcel."""
    return "\n".join(
        [
            f"Carrier claim to file: order #{record['order_id']}, "
            f"carrier {record.get('carrier') or 'unknown'}, "
            f"tracking {record.get('tracking_number') or 'unknown'}, "
            f"reason: {record.get('reason')}",
            f"Claim {record['claim_id']} (status open). No connected platform can open carrier claims: "
            "please file it in the carrier's claims portal and update the customer.",
        ]
    )


def _claim_id(conversation: Conversation, order_id: str) -> str:
    """Stable per ticket and order: the policy can name it to the customer before anyone files it."""
    seed = f"{conversation.helpdesk}:{conversation.ticket_id}:{order_id}".encode()
    return "CLM-" + hashlib.sha256(seed).hexdigest()[:8].upper()


def _parcel_of(conversation: Conversation, order_id: str) -> tuple[str | None, str | None]:
    """Carrier and tracking number of the order, from what the policy already looked up this ticket.

    The claim tool takes only the order id (so a policy cannot pass a parcel of another order);
    the parcel comes from tool results saved in the conversation, never from the customer's text.
    """
    saved = (conversation.policy or {}).get("saved") or {}
    for value in saved.values():
        for candidate in value if isinstance(value, list) else [value]:
            if not isinstance(candidate, Mapping):
                continue
            ids = {str(candidate.get(k) or "").lstrip("#") for k in ("id", "number")}
            if order_id not in ids:
                continue
            for shipment in candidate.get("shipments") or []:
                if isinstance(shipment, Mapping) and shipment.get("tracking_number"):
                    return shipment.get("carrier"), str(shipment["tracking_number"])
    return None, None


# ---- argument checks -----------------------------------------------------------------------------


def _order_id(value: Any) -> str:
    text = str(value).strip().lstrip("#").strip() if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not text or len(text) > MAX_ORDER_ID or not _ORDER_ID.match(text):
        raise ValueError("order_id must be the order's id or number")
    return text


def _text(value: Any, limit: int, name: str, *, keep_lines: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    text = _CONTROL.sub(" ", value)
    if not keep_lines:
        text = " ".join(text.split())
    text = text.strip()
    if not text:
        raise ValueError(f"{name} must not be empty")
    return text[:limit]
