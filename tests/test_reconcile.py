"""Exactly-once writes: a write whose answer was lost is looked up on the platform, not done again.

"Lost" is made real: a worker process sends the write, the sandbox applies it and holds the answer,
and the process is killed while it waits, leaving the ledger's intent without a result, as a worker
killed mid-call does. The next run (this test process, the same conversation and step) goes through
the worker's port and the Redis ledger to the HTTPS sandbox.

Run as a script, this file is that worker: `python tests/test_reconcile.py <redis> <ticket> <step>
<tool> <json args>` makes one tool call through TicketPolicyPort.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sandbox_calls import log

from connectors import reconcile
from connectors.bigcommerce import cancel_bigcommerce_order, find_bigcommerce_order_by_reference
from connectors.errors import OutcomeUnknown
from connectors.helpdesk import helpdesk_client
from connectors.smartrr import get_smartrr_subscription
from connectors.tools import ToolRegistry, load_all_tools
from worker.actions import TicketActions
from worker.conversation import Conversation
from worker.ledger import ActionLedger, ActionOutcomeUnknown
from worker.policy_port import TicketPolicyPort, derived_reference

HELPDESK = "kustomer"
CUSTOMER = "delivered.eligible@bigcommerce.example"
REPLACEMENT = {
    "items": [{"product_id": 111, "quantity": 2}],
    "address": {},
    "user_email": CUSTOMER,
    "reference": "whatever-the-policy-wrote",
    "original_order_id": "5001",
}
SKIP = {"subscription_id": "9100000001"}  # one.active: every 4 weeks, next on T+5
HOLD_SECONDS = 4  # how long the sandbox holds an applied write's answer; the worker is killed first


def make_port(client: redis.Redis, ticket: str, registry: ToolRegistry | None = None) -> TicketPolicyPort:
    conversation = Conversation(helpdesk=HELPDESK, ticket_id=ticket)
    ledger = ActionLedger(client, conversation.key)
    actions = TicketActions(helpdesk_client(HELPDESK), ledger, conversation)
    return TicketPolicyPort(conversation, actions, ledger, registry or load_all_tools(), date.today(), "test")


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def writes(api: requests.Session, platform: str) -> list[dict[str, Any]]:
    return [w for w in log(api, platform) if "fault" not in w and "held" not in w]


def fault(api: requests.Session, **spec: Any) -> None:
    api.post(f"{api.base_url}/_sandbox/faults", json=spec).raise_for_status()


def ledger_entries(port: TicketPolicyPort, tool: str) -> list[dict[str, Any]]:
    return [e for e in port.ledger.entries() if e["tool"] == tool]


def killed_after_the_platform_applied(
    api: requests.Session, env: dict[str, str], redis_url: str, ticket: str, step: str, tool: str, args: Any
) -> None:
    """A worker process makes the call; the sandbox applies it and holds the answer; the worker dies."""
    platform = "bigcommerce" if "bigcommerce" in tool else "smartrr"
    method, path = ("POST", "/v2/orders") if tool == "create_bigcommerce_order" else ("PUT", "/skip")
    fault(
        api,
        platform=platform,
        status=0,
        method=method,
        path_contains=path,
        delay=HOLD_SECONDS,
        delay_after=True,
    )
    worker = subprocess.Popen(
        [sys.executable, __file__, redis_url, ticket, step, tool, json.dumps(args)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = log(api, platform)
            if any(r.get("held") == "after" and path in r["path"] for r in rows):
                break
            assert worker.poll() is None, "the worker finished before its answer was held"
            time.sleep(0.05)
        else:
            raise AssertionError("the write never reached the sandbox")
    finally:
        worker.kill()
        worker.wait()


@pytest.fixture
def env(configured: dict[str, str], sandbox_api: requests.Session) -> dict[str, str]:
    return configured


# ---- a replacement order -----------------------------------------------------------------------


def test_a_replacement_whose_answer_was_lost_is_found_by_its_reference_not_created_again(
    env: dict[str, str], sandbox_api: requests.Session, redis_client: redis.Redis, redis_url: str
) -> None:
    step = "send-replacement/create/1"
    killed_after_the_platform_applied(
        sandbox_api, env, redis_url, "R-1", step, "create_bigcommerce_order", REPLACEMENT
    )
    port = make_port(redis_client, "R-1")
    [intent] = ledger_entries(port, "create_bigcommerce_order")
    assert intent["status"] == "intent"  # the worker died between the write and its record
    [post] = [w for w in writes(sandbox_api, "bigcommerce") if w["method"] == "POST"]

    result = port.call_tool(step, "create_bigcommerce_order", REPLACEMENT)

    assert result["id"] == str(post["order_id"])
    assert [(i["name"], i["quantity"]) for i in result["items"]] == [("Blue ceramic mug", 2)]
    assert len([w for w in writes(sandbox_api, "bigcommerce") if w["method"] == "POST"]) == 1
    [done] = ledger_entries(port, "create_bigcommerce_order")
    assert done["status"] == "done" and done["reconciled"] is True
    # and from now on the ledger answers: no platform call at all
    assert port.call_tool(step, "create_bigcommerce_order", REPLACEMENT) == result


def test_a_replacement_that_never_reached_the_platform_is_created_once_on_the_next_run(
    env: dict[str, str], sandbox_api: requests.Session, redis_client: redis.Redis
) -> None:
    step = "send-replacement/create/1"
    port = make_port(redis_client, "R-2")
    fault(sandbox_api, platform="bigcommerce", status=503, method="POST", path_contains="/v2/orders")
    with pytest.raises(OutcomeUnknown):
        port.call_tool(step, "create_bigcommerce_order", REPLACEMENT)
    assert writes(sandbox_api, "bigcommerce") == []

    result = port.call_tool(step, "create_bigcommerce_order", REPLACEMENT)

    [post] = [w for w in writes(sandbox_api, "bigcommerce") if w["method"] == "POST"]
    assert result["id"] == str(post["order_id"])
    assert post["body"]["external_order_id"] == derived_reference(port.conversation.key, step)


def test_the_reference_is_the_ports_own_stable_per_step_and_ticket(
    env: dict[str, str], sandbox_api: requests.Session, redis_client: redis.Redis
) -> None:
    port = make_port(redis_client, "R-3")
    reference = derived_reference(port.conversation.key, "p/create/1")
    assert reference == derived_reference(port.conversation.key, "p/create/1")
    assert reference.startswith("pd-") and len(reference) == 19
    assert reference != derived_reference(port.conversation.key, "p/create/2")
    assert reference != derived_reference(make_port(redis_client, "R-4").conversation.key, "p/create/1")

    created = port.call_tool("p/create/1", "create_bigcommerce_order", REPLACEMENT)

    found = find_bigcommerce_order_by_reference(reference, CUSTOMER)
    assert found is not None and found.id == created["id"]
    assert find_bigcommerce_order_by_reference("whatever-the-policy-wrote", CUSTOMER) is None


# ---- a skipped delivery ------------------------------------------------------------------------


def test_a_skip_whose_answer_was_lost_is_found_on_the_subscription(
    env: dict[str, str], sandbox_api: requests.Session, redis_client: redis.Redis, redis_url: str
) -> None:
    step = "skip-next/skip/1"
    killed_after_the_platform_applied(
        sandbox_api, env, redis_url, "S-1", step, "skip_smartrr_next_delivery", SKIP
    )
    port = make_port(redis_client, "S-1")
    [intent] = ledger_entries(port, "skip_smartrr_next_delivery")
    assert intent["status"] == "intent"

    result = port.call_tool(step, "skip_smartrr_next_delivery", SKIP)

    assert (result["next_delivery"], result["skipped_dates"]) == (day(5 + 28), [day(5)])
    assert [w["action"] for w in writes(sandbox_api, "smartrr")] == ["skip"]  # one skip, not two
    [done] = ledger_entries(port, "skip_smartrr_next_delivery")
    assert done["status"] == "done" and done["reconciled"] is True
    subscription = get_smartrr_subscription("9100000001")
    assert subscription is not None and subscription.next_delivery == day(5 + 28)


def test_a_skip_that_never_happened_is_done_once_on_the_next_run(
    env: dict[str, str], sandbox_api: requests.Session, redis_client: redis.Redis
) -> None:
    step = "skip-next/skip/1"
    port = make_port(redis_client, "S-2")
    fault(sandbox_api, platform="smartrr", status=503, method="PUT", path_contains="/skip")
    with pytest.raises(OutcomeUnknown):
        port.call_tool(step, "skip_smartrr_next_delivery", SKIP)
    assert writes(sandbox_api, "smartrr") == []

    result = port.call_tool(step, "skip_smartrr_next_delivery", SKIP)

    assert result["next_delivery"] == day(5 + 28)
    assert [w["action"] for w in writes(sandbox_api, "smartrr")] == ["skip"]


def test_a_subscription_that_moved_without_showing_our_skip_is_for_a_person(
    env: dict[str, str], sandbox_api: requests.Session
) -> None:
    before = {"next_delivery": day(1), "skipped_dates": []}  # the baseline a first attempt recorded
    with pytest.raises(OutcomeUnknown):
        reconcile.skipped(SKIP, before)
    unchanged = reconcile.subscription_now(SKIP)
    assert reconcile.skipped(SKIP, unchanged) is None
    assert reconcile.unskipped(SKIP, unchanged) is None


# ---- cancels, idempotent writes and writes nobody can look up ------------------------------------


def test_a_cancel_is_found_on_the_order(env: dict[str, str], sandbox_api: requests.Session) -> None:
    assert reconcile.bigcommerce_cancellation({"order_id": "5007"}) is None
    cancel_bigcommerce_order("5007")
    found = reconcile.bigcommerce_cancellation({"order_id": "5007"})
    assert found is not None and found["canceled"] is True and found["order_id"] == "5007"


def test_every_write_tool_is_idempotent_or_reconcilable_or_named_as_neither(env: dict[str, str]) -> None:
    writers = {t.name for t in load_all_tools().all() if t.writes and t.platform != "helpdesk"}
    covered = {t for t in writers if reconcile.is_idempotent(t) or reconcile.reconciler_for(t)}
    assert covered == writers
    assert not (set(reconcile.RECONCILERS) & reconcile.IDEMPOTENT_WRITES)


def test_an_unknown_outcome_with_no_way_to_look_it_up_is_for_a_person(redis_client: redis.Redis) -> None:
    registry = ToolRegistry()
    sent: list[str] = []

    def send_gift_card(amount: int) -> dict[str, int]:
        """A write with no way to look it up afterwards."""
        sent.append("sent")
        if len(sent) == 1:
            raise OutcomeUnknown("giftshop", "timeout during POST; effect unknown")
        return {"amount": amount}

    registry.register(send_gift_card, platform="giftshop", writes=True)
    port = make_port(redis_client, "U-1", registry)
    with pytest.raises(OutcomeUnknown):
        port.call_tool("gift/send/1", "send_gift_card", {"amount": 10})
    with pytest.raises(ActionOutcomeUnknown):
        port.call_tool("gift/send/1", "send_gift_card", {"amount": 10})
    assert sent == ["sent"]  # never sent a second time


def main(argv: list[str]) -> None:
    """The worker that gets killed: one tool call through the port, as a policy step makes it."""
    redis_url, ticket, step, tool, args = argv
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    make_port(client, ticket).call_tool(step, tool, json.loads(args))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main(sys.argv[1:])
