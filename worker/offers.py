"""Retention offers: how many customers kept their order, per policy and variant.

A retention policy (cancel-order-retention-*) makes offers in the order of the ticket's `$variant`
(policies/document/variants.py). When its conversation finishes, the outcome is counted once:

- "kept": the customer accepted an offer (a yes to any `accept_*` question), or turned every offer
  down and then answered no to the final cancellation question (`confirm_cancel`);
- "cancelled": the customer turned the offers down and confirmed the cancellation (`confirm_cancel`);
- nothing is counted when the conversation ended before a decision (unclear answers, a failure).

Those slot names are the contract with the retention policy's flow; they are what the customer
said, so the counts do not depend on whether applying the offer succeeded.

Redis: one hash per policy, `pd:offer-results:<policy>` with fields `<variant>:<outcome>`, and a
marker per ticket (`pd:offer-recorded:<helpdesk>:<ticket>`, SET NX in the same Lua script) so a
retried or duplicated turn never counts a ticket twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import redis

from worker.conversation import Conversation

__all__ = ["OUTCOMES", "OfferRow", "offer_report", "outcome_of", "record_outcome", "record_turn"]

Outcome = Literal["kept", "cancelled"]
OUTCOMES: tuple[str, ...] = ("kept", "cancelled")
RESULTS_PREFIX = "pd:offer-results:"
RECORDED_PREFIX = "pd:offer-recorded:"
RECORDED_TTL = 400 * 24 * 3600
FINISHED = ("resolved", "handed_off")

_RECORD_ONCE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3]) then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  return 1
end
return 0
"""


@dataclass(frozen=True)
class OfferRow:
    policy: str
    variant: str
    kept: int
    cancelled: int

    @property
    def decided(self) -> int:
        return self.kept + self.cancelled

    @property
    def keep_rate(self) -> float | None:
        """Share of decided tickets where the customer kept the order; None before any decision."""
        return round(self.kept / self.decided, 3) if self.decided else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decided": self.decided, "keep_rate": self.keep_rate}


def outcome_of(policy_state: Mapping[str, Any] | None) -> Outcome | None:
    """Kept or cancelled, read from a finished retention conversation's answers; None if undecided."""
    state = policy_state or {}
    if state.get("status") not in FINISHED:
        return None
    slots = state.get("slots") or {}
    if any(value is True for name, value in slots.items() if str(name).startswith("accept_")):
        return "kept"
    confirmed = slots.get("confirm_cancel")
    if confirmed is True:
        return "cancelled"
    if confirmed is False:
        return "kept"
    return None


def record_outcome(
    client: redis.Redis, policy_id: str, variant: str, outcome: str, helpdesk: str, ticket_id: str
) -> bool:
    """Count one ticket's outcome; False (and nothing counted) if this ticket was counted before."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    if not policy_id or not variant or ":" in variant:
        raise ValueError("policy_id and variant are required (a variant name has no ':')")
    marker = f"{RECORDED_PREFIX}{helpdesk}:{ticket_id}"
    counted = client.eval(
        _RECORD_ONCE,
        2,
        marker,
        f"{RESULTS_PREFIX}{policy_id}",
        f"{policy_id}:{variant}:{outcome}",
        f"{variant}:{outcome}",
        str(RECORDED_TTL),
    )
    return bool(counted)


def record_turn(client: redis.Redis, conversation: Conversation) -> Outcome | None:
    """The pipeline's one call after saving a turn: counts the outcome of a finished conversation
    that ran with a variant. Returns what was counted (None when there was nothing to count)."""
    variant = (conversation.context or {}).get("variant")
    state = conversation.policy or {}
    stack = state.get("stack") or []
    if not variant or not stack or not isinstance(stack[0], Mapping):
        return None
    outcome = outcome_of(state)
    policy_id = str(stack[0].get("policy") or "")
    if outcome is None or not policy_id:
        return None
    counted = record_outcome(
        client, policy_id, str(variant), outcome, conversation.helpdesk, conversation.ticket_id
    )
    return outcome if counted else None


def offer_report(client: redis.Redis) -> list[OfferRow]:
    """One row per policy and variant with its counts, sorted by policy then variant."""
    rows: list[OfferRow] = []
    for key in client.scan_iter(match=f"{RESULTS_PREFIX}*", count=100):
        name = key.decode() if isinstance(key, bytes) else str(key)
        policy = name[len(RESULTS_PREFIX) :]
        counts: dict[str, dict[str, int]] = {}
        for field, value in (client.hgetall(key) or {}).items():
            field_text = field.decode() if isinstance(field, bytes) else str(field)
            variant, _, outcome = field_text.rpartition(":")
            if not variant or outcome not in OUTCOMES:
                continue
            try:
                counts.setdefault(variant, {})[outcome] = int(value)
            except (TypeError, ValueError):
                continue
        rows.extend(
            OfferRow(policy, variant, found.get("kept", 0), found.get("cancelled", 0))
            for variant, found in counts.items()
        )
    return sorted(rows, key=lambda row: (row.policy, row.variant))
