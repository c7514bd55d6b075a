"""The one-time code option of the proof of identity, against the sandbox's Salesforce: the code goes to
the address the customer named (through emailSimple, not logged on the Case), only its hash is kept,
the right code proves the email and wrong ones end with a person."""

from __future__ import annotations

import re

import pytest
import redis
import requests

from connectors.helpdesk import helpdesk_client
from connectors.tools import load_all_tools
from worker.actions import TicketActions
from worker.conversation import Conversation
from worker.identity import ASK_CODE, IdentityGate
from worker.ledger import ActionLedger
from worker.policy_port import send_outbox

EMAIL = "shipped@aftership.example"


@pytest.fixture
def gate_and_send(configured, sandbox_api: requests.Session, redis_client: redis.Redis):
    case = sandbox_api.post(
        f"{sandbox_api.base_url}/_sandbox/salesforce/tickets",
        json={"subject": "Where is my order?", "text": "Where is my order?", "email": None},
    ).json()["ticket_id"]
    conversation = Conversation(helpdesk="salesforce", ticket_id=case)
    gate = IdentityGate(conversation, load_all_tools(), "salesforce", mode="code")
    actions = TicketActions(
        helpdesk_client("salesforce"), ActionLedger(redis_client, conversation.key), conversation
    )
    return gate, conversation, lambda: send_outbox(actions, conversation)


def sent_codes(api: requests.Session) -> list[tuple[str, str]]:
    rows = api.get(f"{api.base_url}/_sandbox/writes", params={"platform": "salesforce"}).json()
    found = []
    for row in rows:
        for item in (row.get("body") or {}).get("inputs") or []:
            code = re.search(r"\b(\d{6})\b", item.get("emailBody") or "")
            if code:
                found.append((item["emailAddresses"], code.group(1)))
    return found


def test_the_code_sent_to_the_named_address_proves_it(gate_and_send, sandbox_api):
    gate, conversation, send = gate_and_send
    step = gate.begin(f"Where is my order? My email is {EMAIL}", "wismo-salesforce-aftership")
    assert step.ask == ASK_CODE
    send()
    [(to, code)] = sent_codes(sandbox_api)
    assert to == EMAIL
    assert code not in str(conversation.identity)  # only its hash is kept
    assert gate.resume(f"here it is: {code}").proven == EMAIL


def test_wrong_codes_end_with_a_person(gate_and_send, sandbox_api):
    gate, _, send = gate_and_send
    gate.begin(f"My email is {EMAIL}", "wismo-salesforce-aftership")
    send()
    [(_, code)] = sent_codes(sandbox_api)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert gate.resume(wrong).ask and gate.resume(wrong).ask
    assert gate.resume(wrong).give_up


def test_helpdesks_without_a_way_to_email_an_address_use_order_facts():
    conversation = Conversation(helpdesk="kustomer", ticket_id="x")
    assert IdentityGate(conversation, load_all_tools(), "kustomer", mode="code").mode == "order_facts"
