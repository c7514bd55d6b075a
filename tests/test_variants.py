"""Offer variants: every ticket gets one variant for good, and kept/cancelled is counted once per ticket."""

from __future__ import annotations

from collections import Counter

import pytest
import redis

from policies.document.library import PolicyLibrary
from policies.document.variants import assign_variant, declared_variants, parse_variants, variant_for
from worker.conversation import Conversation
from worker.offers import offer_report, outcome_of, record_outcome, record_turn

RETENTION = "cancel-order-retention-bigcommerce-salesforce"


def test_declared_variants_keep_the_written_order_and_report_mistakes() -> None:
    variants, problems = parse_variants({"A": "discount first", "B": "upgrade first", "C": "coupon first"})
    assert list(variants) == ["A", "B", "C"] and variants["B"] == "upgrade first" and problems == []
    assert parse_variants(["control", "bold"]) == ({"control": "", "bold": ""}, [])
    _, problems = parse_variants({"ok": "", "has space": "x", "A:B": "y"})
    assert len(problems) == 2
    assert parse_variants("A, B")[1]  # a plain text is not a list of variants


def test_a_ticket_always_gets_the_same_variant_and_variants_are_spread() -> None:
    names = ["A", "B", "C"]
    first = assign_variant(names, "salesforce", "500Hs00001XyZ")
    assert all(assign_variant(names, "salesforce", "500Hs00001XyZ") == first for _ in range(5))
    assert assign_variant([], "salesforce", "1") is None
    spread = Counter(assign_variant(names, "kustomer", f"ticket-{n}") for n in range(3000))
    assert set(spread) == set(names)
    assert all(800 < count < 1200 for count in spread.values()), spread
    # the helpdesk is part of the key: the same id on two helpdesks is two tickets
    differs = sum(
        assign_variant(names, "kustomer", str(n)) != assign_variant(names, "freshdesk", str(n))
        for n in range(300)
    )
    assert differs > 100


def test_the_retention_policy_declares_its_variants() -> None:
    doc = PolicyLibrary.load().get(RETENTION)
    assert doc is not None
    assert declared_variants(doc) == ["A", "B", "C"]
    assert variant_for(doc, "salesforce", "500X") in {"A", "B", "C"}
    wismo = PolicyLibrary.load().get("wismo-salesforce-aftership")
    assert declared_variants(wismo) == [] and variant_for(wismo, "salesforce", "500X") is None


@pytest.mark.parametrize(
    ("status", "slots", "outcome"),
    [
        ("resolved", {"accept_discount": False, "accept_upgrade": True}, "kept"),
        ("handed_off", {"accept_swap": True}, "kept"),
        ("resolved", {"accept_discount": False, "accept_coupon": False, "confirm_cancel": True}, "cancelled"),
        ("resolved", {"accept_discount": False, "confirm_cancel": False}, "kept"),
        ("handed_off", {"accept_discount": False}, None),  # no decision: not counted
        ("waiting", {"accept_upgrade": True}, None),  # not finished yet
    ],
)
def test_outcome_is_read_from_what_the_customer_answered(status, slots, outcome) -> None:
    assert outcome_of({"status": status, "slots": slots}) == outcome


def test_outcomes_are_counted_once_per_ticket_and_reported(redis_client: redis.Redis) -> None:
    assert record_outcome(redis_client, RETENTION, "A", "kept", "salesforce", "1")
    assert not record_outcome(redis_client, RETENTION, "A", "kept", "salesforce", "1")  # a retried turn
    assert record_outcome(redis_client, RETENTION, "A", "cancelled", "salesforce", "2")
    assert record_outcome(redis_client, RETENTION, "B", "kept", "salesforce", "3")
    with pytest.raises(ValueError):
        record_outcome(redis_client, RETENTION, "A", "maybe", "salesforce", "4")
    rows = [row.to_dict() for row in offer_report(redis_client)]
    assert rows == [
        {"policy": RETENTION, "variant": "A", "kept": 1, "cancelled": 1, "decided": 2, "keep_rate": 0.5},
        {"policy": RETENTION, "variant": "B", "kept": 1, "cancelled": 0, "decided": 1, "keep_rate": 1.0},
    ]


def test_a_finished_conversation_is_counted_under_its_variant(redis_client: redis.Redis) -> None:
    conversation = Conversation(helpdesk="salesforce", ticket_id="500A", context={"variant": "C"})
    conversation.policy = {
        "stack": [{"policy": RETENTION, "step": "done"}],
        "slots": {"accept_coupon": True},
        "status": "resolved",
    }
    assert record_turn(redis_client, conversation) == "kept"
    assert record_turn(redis_client, conversation) is None  # the same ticket again
    without_variant = Conversation(helpdesk="salesforce", ticket_id="500B", policy=conversation.policy)
    assert record_turn(redis_client, without_variant) is None
    assert [(r.variant, r.kept) for r in offer_report(redis_client)] == [("C", 1)]
