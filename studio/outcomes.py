"""The outcomes page's figures: what each policy did with its tickets over a period, and the offers.

Per policy and mode (from the conversations the worker keeps, by the day they were opened): tickets,
resolved / handed off / waiting, the automation rate (resolved without a person, over all tickets),
the top hand-off reasons and the customer turns per ticket. Tickets no policy ran on are one row of
their own ("no policy": triaged to people).

Retention offers (worker.offers, counted once per ticket over all time) per variant: the keep rate
with a 95% Wilson interval, and whether the variants differ: a chi-square test of independence when
every expected count is at least 5, Fisher's exact test for two variants with fewer, otherwise "too
few decided tickets to tell". The statement is about association in these counts, at the 5% level.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import redis
from scipy.stats import chi2_contingency, fisher_exact

from studio.tickets import all_conversations, policy_of
from worker.offers import OfferRow, offer_report

__all__ = ["OfferComparison", "PolicyOutcome", "compare_offers", "policy_outcomes", "wilson"]

NO_POLICY = "no policy (triaged to people)"
Z95 = 1.959964
TOP_REASONS = 3


@dataclass
class PolicyOutcome:
    policy: str
    mode: str
    tickets: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    turns: int = 0

    @property
    def resolved(self) -> int:
        return self.statuses.get("resolved", 0)

    @property
    def handed_off(self) -> int:
        return self.statuses.get("handed_off", 0)

    @property
    def waiting(self) -> int:
        return self.statuses.get("waiting", 0) + self.statuses.get("active", 0) + self.statuses.get("new", 0)

    @property
    def automation_rate(self) -> float:
        return self.resolved / self.tickets if self.tickets else 0.0

    @property
    def turns_per_ticket(self) -> float:
        return self.turns / self.tickets if self.tickets else 0.0

    @property
    def top_reasons(self) -> list[tuple[str, int]]:
        return self.reasons.most_common(TOP_REASONS)


def policy_outcomes(client: redis.Redis, days: int, now: float | None = None) -> list[PolicyOutcome]:
    since = (now or time.time()) - days * 86400
    rows: dict[tuple[str, str], PolicyOutcome] = {}
    for conversation in all_conversations(client):
        if conversation.created_at < since:
            continue
        policy = policy_of(conversation) or NO_POLICY
        mode = conversation.mode if policy != NO_POLICY else "-"
        row = rows.setdefault((policy, mode), PolicyOutcome(policy, mode))
        row.tickets += 1
        row.statuses[conversation.status] += 1
        if conversation.status == "handed_off" and conversation.handoff_reason:
            row.reasons[conversation.handoff_reason[:160]] += 1
        row.turns += sum(1 for turn in conversation.transcript if turn.get("role") == "customer")
    return sorted(rows.values(), key=lambda r: (r.policy == NO_POLICY, r.policy, r.mode))


def wilson(successes: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (sound at small counts, unlike p ± 2σ)."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    centre = (p + Z95**2 / (2 * total)) / (1 + Z95**2 / total)
    half = Z95 * math.sqrt(p * (1 - p) / total + Z95**2 / (4 * total**2)) / (1 + Z95**2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class OfferComparison:
    policy: str
    rows: list[OfferRow]
    p_value: float | None
    test: str
    statement: str

    def interval(self, row: OfferRow) -> tuple[float, float]:
        return wilson(row.kept, row.decided)


def _statement(rows: list[OfferRow], p_value: float | None, test: str) -> str:
    if p_value is None:
        return test
    best = max(rows, key=lambda r: r.keep_rate or 0)
    if p_value < 0.05:
        return (
            f"The variants differ: variant {best.variant} keeps the most orders "
            f"({(best.keep_rate or 0):.0%}), and a difference this large would happen by chance "
            f"less than 5% of the time "
            f"({test}, p = {p_value:.3f})."
        )
    return (
        f"Not significant yet: with these counts the difference between variants could be chance "
        f"({test}, p = {p_value:.2f}). Keep collecting before choosing a variant."
    )


def compare_offers(client: redis.Redis) -> list[OfferComparison]:
    by_policy: dict[str, list[OfferRow]] = {}
    for row in offer_report(client):
        by_policy.setdefault(row.policy, []).append(row)
    comparisons = []
    for policy, rows in by_policy.items():
        decided = [r for r in rows if r.decided]
        table = [[r.kept, r.cancelled] for r in decided]
        p_value: float | None = None
        if len(decided) < 2:
            test = "Only one variant has decided tickets: nothing to compare yet."
        elif any(sum(column) == 0 for column in zip(*table, strict=True)):
            test = "Every decided ticket ended the same way: no difference to test yet."
        else:
            _chi2, p, _dof, expected = chi2_contingency(table, correction=len(decided) == 2)
            if (expected >= 5).all():
                p_value, test = float(p), "chi-square test"
            elif len(decided) == 2:
                p_value, test = float(fisher_exact(table)[1]), "Fisher's exact test"
            else:
                test = "Too few decided tickets to tell (fewer than 5 expected in some cell)."
        comparisons.append(OfferComparison(policy, rows, p_value, test, _statement(decided, p_value, test)))
    return comparisons
