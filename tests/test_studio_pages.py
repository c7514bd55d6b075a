"""The studio's test screen, tickets and outcomes pages, on real Redis and the sandbox."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import redis
import requests
import yaml
from flask.testing import FlaskClient
from studio_client import PASSWORD, csrf_token, log_in
from test_webhooks_common import env

from policydesk.policy_export import export_published
from policydesk.simulation.policy_tests import load_tests
from studio.outcomes import compare_offers, wilson
from studio.web import create_app
from worker.conversation import Conversation, ConversationStore
from worker.ledger import ActionLedger
from worker.offers import record_outcome
from worker.saved_tests import TESTS_PREFIX
from worker.verdicts import record_verdicts

AISHA = "110"  # Aisha Khan of the sandbox's world: order 10520, two blue mugs
OPENER = "Hi, order 10520 arrived today and one of the two mugs is cracked. Can you send a new one?"


@pytest.fixture
def client(
    configured: dict[str, str], redis_client: redis.Redis, sandbox_api: requests.Session
) -> FlaskClient:
    with env(POLICYDESK_STUDIO_PASSWORD=PASSWORD, POLICYDESK_STUDIO_USERS=None):
        client = create_app().test_client()
    log_in(client, "Ana")
    return client


def say(
    client: FlaskClient, messages: list[str], policy: str = "send-replacement-bigcommerce-kustomer", **extra
):
    data = {
        "csrf_token": csrf_token(client, "/studio/test"),
        "policy": policy,
        "helpdesk": "kustomer",
        "customer_id": AISHA,
        "said": messages[:-1],
        "message": messages[-1],
        **extra,
    }
    response = client.post(extra.pop("path", "/studio/test"), data=data)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_conversation_on_the_test_screen_reaches_a_simulated_write_and_writes_nothing(
    client: FlaskClient, sandbox_api: requests.Session
) -> None:
    page = say(client, [OPENER, "yes same address", "yes go ahead"])
    assert "Shall I send it there?" in page
    assert "simulated write</span><code>@create_bigcommerce_order</code>" in page
    assert "MUG-BLU" in page
    assert "verified_customer ✓" in page  # the guards' verdicts beside the chat
    assert '<span class="kind">step</span><code>' in page  # and the flow's steps
    assert 'id="trial-status">resolved' in page
    assert sandbox_api.get(f"{sandbox_api.base_url}/_sandbox/writes").json() == []


def test_routing_as_a_new_ticket_picks_the_policy_for_its_type(client: FlaskClient) -> None:
    page = say(client, [OPENER], policy="")
    assert "classified replacement" in page
    assert "routed to send-replacement-bigcommerce-kustomer" in page
    assert "Shall I send it there?" in page


def test_a_bad_context_is_said_plainly(client: FlaskClient) -> None:
    page = say(client, [OPENER], context="- just a list")
    assert "the context is a mapping" in page


def test_save_as_test_keeps_the_conversation_in_the_suite_format(
    client: FlaskClient, redis_client: redis.Redis, tmp_path: Path
) -> None:
    messages = [OPENER, "yes same address", "yes go ahead"]
    data = {
        "csrf_token": csrf_token(client, "/studio/test"),
        "policy": "send-replacement-bigcommerce-kustomer",
        "helpdesk": "kustomer",
        "customer_id": AISHA,
        "said": messages,
        "test_name": "One cracked mug is reshipped",
    }
    page = client.post("/studio/test/save", data=data).get_data(as_text=True)
    assert "Saved as test one-cracked-mug-is-reshipped" in page
    saved = redis_client.hget(
        TESTS_PREFIX + "send-replacement-bigcommerce-kustomer", "one-cracked-mug-is-reshipped"
    )
    spec = yaml.safe_load(saved)
    assert spec["customer"] == "aisha.khan@example.com"
    assert spec["opener"] == {"text": OPENER}
    assert spec["turns"] == messages[1:]
    assert spec["expect"]["state"] == "resolved"
    assert spec["expect"]["writes"][0]["replacement"]["order"] == "10520"  # in the suite's vocabulary

    export_published(redis_client, tmp_path, io.StringIO())
    [test] = load_tests(
        ["send-replacement-bigcommerce-kustomer"], root=tmp_path
    )  # `policydesk test` reads it
    assert test.id == "one-cracked-mug-is-reshipped"


def seed_ticket(redis_client: redis.Redis, ticket_id: str, **fields) -> Conversation:
    conversation = Conversation(helpdesk="kustomer", ticket_id=ticket_id, **fields)
    conversation.note_turn("customer", "Where is my order?")
    conversation.note_turn("bot", "It is on its way.")
    ConversationStore(redis_client).save(conversation)
    return conversation


def test_a_ticket_timeline_shows_classification_policy_calls_verdicts_and_the_hand_off(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    conversation = seed_ticket(
        redis_client,
        "T-4411",
        status="handed_off",
        ticket_type="wismo",
        confidence=0.93,
        policy={
            "stack": [{"policy": "wismo-kustomer-shipengine"}],
            "status": "handed_off",
            "versions": {"wismo-kustomer-shipengine": "3f2a9c1d0b7e"},
        },
        handoff_reason="the parcel is late",
    )
    seed_ticket(redis_client, "T-9000", status="resolved", ticket_type="skip_shipment", confidence=0.88)
    ledger = ActionLedger(redis_client, conversation.key)
    ledger.perform("wismo/orders/1", "get_shipengine_orders", {"email": "x"}, lambda: [{"number": "10452"}])
    ledger.perform("wismo/handoff/1", "add_note", {"ticket": "T-4411"}, lambda: {"id": "n1"})
    record_verdicts(
        redis_client, conversation.key, "wismo/claim/1", "file_carrier_claim", [("owns_order", None)]
    )

    listing = client.get("/studio/tickets?q=4411").get_data(as_text=True)
    assert "T-4411" in listing and "T-9000" not in listing
    page = client.get("/studio/tickets/kustomer/T-4411").get_data(as_text=True)
    assert "wismo" in page and "confidence 0.93" in page
    assert "wismo-kustomer-shipengine" in page and "version 3f2a9c1d0b7e of its file" in page
    assert "<code>@get_shipengine_orders</code>" in page and "10452" in page
    assert "owns_order ✓" in page
    assert "Handed off because</b> the parcel is late" in page
    assert "It is on its way." in page
    assert "/app/conversations/T-4411" in page  # the ticket in Kustomer
    assert client.get("/studio/tickets/kustomer/nope").status_code == 404


def test_outcomes_per_policy_and_mode_with_automation_rate_and_reasons(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    wismo = {"stack": [{"policy": "wismo-kustomer-shipengine"}]}
    seed_ticket(redis_client, "A1", status="resolved", policy=wismo)
    seed_ticket(redis_client, "A2", status="resolved", policy=wismo)
    seed_ticket(redis_client, "A3", status="handed_off", policy=wismo, handoff_reason="the parcel is late")
    seed_ticket(redis_client, "A4", status="waiting", policy=wismo)
    seed_ticket(redis_client, "OLD", status="resolved", policy=wismo, created_at=time.time() - 40 * 86400)
    page = client.get("/studio/outcomes?days=7").get_data(as_text=True)
    row = page.split("<td>wismo-kustomer-shipengine</td>")[1].split("</tr>")[0]
    cells = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    assert cells[:7] == ["live", "4", "2", "1", "1", "50%", "1.0"]
    assert "1 × the parcel is late" in row
    assert "<svg" in page
    assert "<td>5</td>" in client.get("/studio/outcomes?days=90").get_data(as_text=True)


def test_offer_variants_get_a_keep_rate_interval_and_a_plain_verdict(redis_client: redis.Redis) -> None:
    policy = "cancel-order-retention-bigcommerce-salesforce"
    for n in range(40):
        record_outcome(redis_client, policy, "A", "kept" if n < 30 else "cancelled", "salesforce", f"a{n}")
        record_outcome(redis_client, policy, "B", "kept" if n < 10 else "cancelled", "salesforce", f"b{n}")
    [comparison] = compare_offers(redis_client)
    assert comparison.p_value is not None and comparison.p_value < 0.05
    assert comparison.statement.startswith("The variants differ: variant A keeps the most orders (75%)")
    low, high = wilson(30, 40)
    assert 0.59 < low < 0.62 and 0.85 < high < 0.87

    redis_client.flushdb()
    for n in range(6):
        record_outcome(redis_client, policy, "A", "kept" if n < 4 else "cancelled", "salesforce", f"a{n}")
        record_outcome(redis_client, policy, "B", "kept" if n < 3 else "cancelled", "salesforce", f"b{n}")
    [comparison] = compare_offers(redis_client)
    assert comparison.statement.startswith("Not significant yet")
