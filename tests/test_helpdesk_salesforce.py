"""The Salesforce helpdesk client against the sandbox's Salesforce, over real HTTPS.

Every outcome is read back the way an agent would see it (the Case view of the sandbox_api API), or from
the sandbox's log of served faults, never from the client's own return values alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from sandbox_calls import choose_reading, inject, log, served_faults, ticket

from connectors.errors import AuthFailed, NotFound, OutcomeUnknown, RateLimited, Rejected
from connectors.helpdesk import helpdesk_client
from connectors.helpdesk.salesforce import SalesforceClient
from sandbox.server import SandboxServer

QUOTED_REPLY = (
    "Thanks, that works for me!\n\n"
    "On Mon, 3 Jun 2024 at 10:02, Acme Support <support@acme-shop.example> wrote:\n"
    "> Hello Ann, your order ships tomorrow.\n"
)


@pytest.fixture
def env(sandbox: SandboxServer) -> dict[str, str]:
    return sandbox.env()


@pytest.fixture
def client(env: dict[str, str]) -> SalesforceClient:
    made = helpdesk_client("salesforce", env=env)
    assert isinstance(made, SalesforceClient)
    return made


def new_case(sandbox_api: requests.Session, sandbox: SandboxServer, **spec: Any) -> dict[str, str]:
    body = {
        "subject": "Where is my order?",
        "text": "Hi, order #1001 has not arrived.",
        "email": "ann.lee@example.com",
        "name": "Ann Lee",
        **spec,
    }
    response = sandbox_api.post(f"{sandbox.url}/_sandbox/salesforce/tickets", json=body)
    response.raise_for_status()
    return response.json()


def served_writes(sandbox_api: requests.Session) -> list[dict[str, Any]]:
    return [w for w in log(sandbox_api, "salesforce") if "fault" not in w]


def view(sandbox_api: requests.Session, sandbox: SandboxServer, case_id: str) -> dict[str, Any]:
    return ticket(sandbox_api, "salesforce", case_id)


def add_fault(sandbox_api: requests.Session, sandbox: SandboxServer, **spec: Any) -> None:
    inject(sandbox_api, "salesforce", **spec)


def faults_served(sandbox_api: requests.Session, sandbox: SandboxServer, status: int) -> int:
    return served_faults(sandbox_api, "salesforce").count(status)


def raw_api(
    sandbox_api: requests.Session,
    env: dict[str, str],
    method: str,
    path: str,
    token: str | None = None,
    **kw: Any,
) -> requests.Response:
    """A direct REST call, as another integration or an admin in the org would make it."""
    headers = {"Authorization": f"Bearer {token or env['SALESFORCE_ACCESS_TOKEN']}", **kw.pop("headers", {})}
    url = f"{env['SALESFORCE_INSTANCE_URL']}/services/data/v59.0/{path}"
    return sandbox_api.request(method, url, headers=headers, **kw)


# ------------------------------------------------------------------ writes


def customer_answers(sandbox_api: requests.Session, sandbox: SandboxServer, case_id: str, text: str) -> dict:
    response = sandbox_api.post(
        f"{sandbox.url}/_sandbox/salesforce/tickets/{case_id}/messages", json={"text": text}
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("threading", ["token", "headers"])
@pytest.mark.parametrize("place", ["subject", "body", "both"])
def test_the_customers_answer_to_our_reply_lands_on_the_same_case(
    sandbox_api, sandbox, env, threading, place
):
    choose_reading(sandbox_api, "salesforce", "email_to_case_threading", threading)
    client = helpdesk_client("salesforce", env={**env, "SALESFORCE_THREADING_TOKEN": place})
    case = new_case(sandbox_api, sandbox)

    client.reply(case["ticket_id"], "Which email did you order with?")
    answered = customer_answers(sandbox_api, sandbox, case["ticket_id"], "ann.lee@example.com")

    assert "new_case" not in answered
    assert client.latest_customer_message(case["ticket_id"]).text == "ann.lee@example.com"


def test_without_a_thread_token_a_token_threading_org_opens_a_new_case(sandbox_api, sandbox, env):
    client = helpdesk_client("salesforce", env={**env, "SALESFORCE_THREADING_TOKEN": "none"})
    case = new_case(sandbox_api, sandbox)

    client.reply(case["ticket_id"], "Which email did you order with?")
    answered = customer_answers(sandbox_api, sandbox, case["ticket_id"], "ann.lee@example.com")

    assert answered["new_case"] and answered["ticket_id"] != case["ticket_id"]
    assert client.latest_customer_message(case["ticket_id"]).text != "ann.lee@example.com"


def test_an_unknown_threading_token_setting_is_refused(env):
    with pytest.raises(ValueError, match="SALESFORCE_THREADING_TOKEN"):
        helpdesk_client("salesforce", env={**env, "SALESFORCE_THREADING_TOKEN": "footer"})


def test_reply_emails_the_requester_and_is_logged_on_the_case(client, sandbox_api, sandbox, env):
    case = new_case(sandbox_api, sandbox)
    before = view(sandbox_api, sandbox, case["ticket_id"])

    reply_id = client.reply(case["ticket_id"], "Hello Ann, your order ships tomorrow.")

    after = view(sandbox_api, sandbox, case["ticket_id"])
    assert after["replies"] == ["Hello Ann, your order ships tomorrow."]
    assert after["emails"] == [
        {
            "to": ["ann.lee@example.com"],
            "subject": f"Re: Where is my order? [Case {before['case_number']}] [ thread::"
            f"{case['ticket_id'][:15]}:: ]",
            "body": "Hello Ann, your order ships tomorrow.",
            "sender": env["SALESFORCE_SENDER_ADDRESS"],
        }
    ]
    assert reply_id == f"emailSimple:{case['ticket_id']}"  # no extra call to ask for the logged EmailMessage
    assert after["notes"] == []


def test_reply_goes_to_the_contact_when_the_case_has_no_supplied_email(client, sandbox_api, sandbox, env):
    contact = client.find_customer("jane.doe@example.com")
    assert contact is not None
    created = raw_api(
        sandbox_api,
        env,
        "POST",
        "sobjects/Case",
        json={"Subject": "Phone call follow-up", "Origin": "Phone", "ContactId": contact.id},
    )
    case_id = created.json()["id"]

    client.reply(case_id, "As promised on the phone: your refund is on its way.")

    assert view(sandbox_api, sandbox, case_id)["emails"][0]["to"] == ["jane.doe@example.com"]


def test_note_is_private_and_find_note_reconciles_it(client, sandbox_api, sandbox):
    case = new_case(sandbox_api, sandbox)
    marker = "[policydesk:step_2%]"

    note_id = client.add_note(case["ticket_id"], f"Checked tracking, handing off. {marker}")

    seen = view(sandbox_api, sandbox, case["ticket_id"])
    assert seen["notes"] == [f"Checked tracking, handing off. {marker}"]
    assert seen["replies"] == []  # never shown to the customer
    assert note_id.startswith("00a")
    assert client.find_note(case["ticket_id"], marker) is True
    # LIKE wildcards in a marker are literal: "_" and "%" must not match other characters.
    assert client.find_note(case["ticket_id"], "[policydesk:stepX2Y]") is False
    assert client.find_note(case["ticket_id"], "[policydesk:step_3%]") is False


def test_long_note_is_cut_to_the_field_limit_not_refused(client, sandbox_api, sandbox):
    case = new_case(sandbox_api, sandbox)
    client.add_note(case["ticket_id"], "[marker-at-start] " + "é" * 5000)
    (note,) = view(sandbox_api, sandbox, case["ticket_id"])["notes"]
    assert note.startswith("[marker-at-start]")
    assert len(note.encode()) <= 4000


def test_set_tags_merges_with_tags_a_human_set(client, sandbox_api, sandbox, env):
    case = new_case(sandbox_api, sandbox)
    raw_api(
        sandbox_api,
        env,
        "PATCH",
        f"sobjects/Case/{case['ticket_id']}",
        json={"Policydesk_Tags__c": "vip;fragile"},
        headers={"Sforce-Auto-Assign": "FALSE"},
    ).raise_for_status()

    returned = client.set_tags(case["ticket_id"], ["wismo", "policydesk", "vip"], remove=["fragile"])

    assert view(sandbox_api, sandbox, case["ticket_id"])["tags"] == ["vip", "wismo", "policydesk"]
    assert returned == ["vip", "wismo", "policydesk"]
    assert client.get_ticket(case["ticket_id"]).tags == ("vip", "wismo", "policydesk")


def test_handoff_stays_with_humans_through_later_updates(client, sandbox_api, sandbox, env):
    case = new_case(sandbox_api, sandbox)
    assert (
        view(sandbox_api, sandbox, case["ticket_id"])["group"] != client.handoff_group
    )  # Triage, by the rule

    client.assign_to_group(case["ticket_id"], client.handoff_group)
    client.set_tags(case["ticket_id"], ["handoff"])
    client.set_status(case["ticket_id"], "open")
    client.add_note(case["ticket_id"], "Summary for the agent.")

    seen = view(sandbox_api, sandbox, case["ticket_id"])
    assert seen["group"] == env["SALESFORCE_HANDOFF_QUEUE_ID"]
    assert seen["status"] == "Working"
    assert seen["last_modified_by"] == env["SALESFORCE_INTEGRATION_USER_ID"]  # what the loop guard filters on


def test_sandbox_assignment_rule_takes_the_case_back_without_the_header(sandbox_api, sandbox, env):
    """Why the client must send Sforce-Auto-Assign: FALSE: an update without it is re-routed."""
    case = new_case(sandbox_api, sandbox)
    raw_api(
        sandbox_api,
        env,
        "PATCH",
        f"sobjects/Case/{case['ticket_id']}",
        json={"OwnerId": env["SALESFORCE_HANDOFF_QUEUE_ID"]},
    ).raise_for_status()
    assert view(sandbox_api, sandbox, case["ticket_id"])["group"] != env["SALESFORCE_HANDOFF_QUEUE_ID"]


@pytest.mark.parametrize(
    ("status", "expected"), [("open", "Working"), ("pending", "Waiting on Customer"), ("resolved", "Closed")]
)
def test_set_status_uses_the_orgs_status_values(client, sandbox_api, sandbox, status, expected):
    case = new_case(sandbox_api, sandbox)
    client.set_status(case["ticket_id"], status)
    assert view(sandbox_api, sandbox, case["ticket_id"])["status"] == expected


def test_status_values_are_configurable_and_a_wrong_one_is_rejected(sandbox_api, sandbox, env):
    case = new_case(sandbox_api, sandbox)
    escalating = helpdesk_client("salesforce", env={**env, "SALESFORCE_STATUS_OPEN": "Escalated"})
    escalating.set_status(case["ticket_id"], "open")
    assert view(sandbox_api, sandbox, case["ticket_id"])["status"] == "Escalated"

    misconfigured = helpdesk_client("salesforce", env={**env, "SALESFORCE_STATUS_RESOLVED": "Done"})
    with pytest.raises(Rejected):
        misconfigured.set_status(case["ticket_id"], "resolved")
    assert view(sandbox_api, sandbox, case["ticket_id"])["status"] == "Escalated"


# ------------------------------------------------------------------ reads


def test_get_ticket_reads_the_case(client, sandbox_api, sandbox):
    case = new_case(sandbox_api, sandbox)
    ticket = client.get_ticket(case["ticket_id"])
    assert ticket.helpdesk == "salesforce"
    assert ticket.id == case["ticket_id"]
    assert ticket.subject == "Where is my order?"
    assert ticket.description == "Hi, order #1001 has not arrived."
    assert (ticket.requester_email, ticket.requester_name) == ("ann.lee@example.com", "Ann Lee")
    assert ticket.customer_id == case["customer_id"]
    assert ticket.status == "New"
    assert ticket.group_id is not None and ticket.group_id.startswith("00G")


def test_latest_customer_message_is_the_newest_email_without_quoted_history(client, sandbox_api, sandbox):
    case = new_case(sandbox_api, sandbox)
    first = client.latest_customer_message(case["ticket_id"])
    assert first is not None and first.text == "Hi, order #1001 has not arrived."

    added = sandbox_api.post(
        f"{sandbox.url}/_sandbox/salesforce/tickets/{case['ticket_id']}/messages", json={"text": QUOTED_REPLY}
    ).json()

    latest = client.latest_customer_message(case["ticket_id"])
    assert latest is not None
    assert latest.id == added["message_id"]
    assert latest.text == "Thanks, that works for me!"
    assert latest.incoming is True
    assert latest.author_email == "ann.lee@example.com"


def test_latest_customer_message_falls_back_to_the_case_description(client, sandbox_api, env):
    created = raw_api(
        sandbox_api,
        env,
        "POST",
        "sobjects/Case",
        json={
            "Subject": "Web form",
            "Origin": "Web",
            "Description": "Please cancel order #1002.",
            "SuppliedEmail": "bo@example.com",
        },
    )
    message = client.latest_customer_message(created.json()["id"])
    assert message is not None
    assert message.text == "Please cancel order #1002."
    assert message.author_email == "bo@example.com"


def test_find_customer_by_email(client, sandbox_api, sandbox):
    case = new_case(sandbox_api, sandbox)
    found = client.find_customer("Ann.Lee@Example.com")
    assert found is not None
    assert (found.id, found.email, found.name) == (case["customer_id"], "ann.lee@example.com", "Ann Lee")
    assert client.find_customer("nobody@example.com") is None
    assert client.find_customer("it's not an email") is None


def test_unknown_or_malformed_case_ids_are_not_found(client):
    with pytest.raises(NotFound):
        client.get_ticket("5005g0000009999AAA")
    with pytest.raises(NotFound):
        client.set_tags("x' OR Id != '", ["spam"])


# ------------------------------------------------------------------ failures


def test_server_error_on_a_query_is_retried(client, sandbox_api, sandbox):
    case = new_case(sandbox_api, sandbox)
    add_fault(
        sandbox_api, sandbox, status=503, count=2, method="POST", path_contains="/composite"
    )  # the read

    assert client.get_ticket(case["ticket_id"]).subject == "Where is my order?"
    assert faults_served(sandbox_api, sandbox, 503) == 2


def test_request_limit_exceeded_is_rate_limited_and_left_to_a_later_retry(client, sandbox_api, sandbox):
    case = new_case(sandbox_api, sandbox)
    add_fault(sandbox_api, sandbox, status=403, count=5)

    with pytest.raises(RateLimited) as raised:
        client.get_ticket(case["ticket_id"])

    assert raised.value.status == 403 and "REQUEST_LIMIT_EXCEEDED" in raised.value.detail
    assert raised.value.retry_after is not None and raised.value.retry_after > client.max_wait
    assert faults_served(sandbox_api, sandbox, 403) == 1  # a daily allocation is not waited for in-process


def test_request_limit_on_a_reply_sends_nothing(client, sandbox_api, sandbox):
    case = new_case(sandbox_api, sandbox)
    add_fault(sandbox_api, sandbox, status=403, method="POST", path_contains="emailSimple")
    with pytest.raises(RateLimited):
        client.reply(case["ticket_id"], "Hello")
    assert view(sandbox_api, sandbox, case["ticket_id"])["emails"] == []


@pytest.mark.parametrize("write, path", [("reply", "emailSimple"), ("add_note", "CaseComment")])
def test_server_error_on_a_create_is_outcome_unknown_and_not_repeated(
    client, sandbox_api, sandbox, write, path
):
    case = new_case(sandbox_api, sandbox)
    add_fault(sandbox_api, sandbox, status=500, count=3, method="POST", path_contains=path)

    with pytest.raises(OutcomeUnknown):
        getattr(client, write)(case["ticket_id"], "Hello [marker-1]")

    assert faults_served(sandbox_api, sandbox, 500) == 1


def test_bad_token_is_auth_failed(sandbox_api, sandbox, env):
    case = new_case(sandbox_api, sandbox)
    stale = helpdesk_client("salesforce", env={**env, "SALESFORCE_ACCESS_TOKEN": "00D5g000004AbCd!expired"})
    with pytest.raises(AuthFailed):
        stale.get_ticket(case["ticket_id"])
    with pytest.raises(AuthFailed):
        stale.add_note(case["ticket_id"], "never written")
    assert view(sandbox_api, sandbox, case["ticket_id"])["notes"] == []


# ------------------------------------------------------------------ the sandbox speaks Salesforce


def test_sandbox_answers_in_salesforce_shapes(sandbox_api, env):
    unauthorized = raw_api(
        sandbox_api, env, "GET", "query", token="wrong", params={"q": "SELECT Id FROM Case"}
    )
    assert unauthorized.status_code == 401
    assert unauthorized.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]

    ok = raw_api(sandbox_api, env, "GET", "query", params={"q": "SELECT Id, Subject FROM Case LIMIT 1"})
    assert ok.headers["Sforce-Limit-Info"].startswith("api-usage=")
    body = ok.json()
    assert (body["totalSize"], body["done"]) == (1, True)
    assert body["records"][0]["attributes"]["type"] == "Case"

    malformed = raw_api(sandbox_api, env, "GET", "query", params={"q": "SELECT FROM Case"})
    assert (malformed.status_code, malformed.json()[0]["errorCode"]) == (400, "MALFORMED_QUERY")

    read_only = raw_api(
        sandbox_api,
        env,
        "PATCH",
        f"sobjects/Case/{body['records'][0]['Id']}",
        json={"CaseNumber": "1"},
        headers={"Sforce-Auto-Assign": "FALSE"},
    )
    assert (read_only.status_code, read_only.json()[0]["errorCode"]) == (
        400,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    )


def test_a_reply_is_an_email_simple_request_in_the_vendors_shape(client, sandbox_api, sandbox):
    expected = json.loads(
        (Path(__file__).parent / "fixtures" / "salesforce" / "email_simple_request.json").read_text()
    )
    case = new_case(sandbox_api, sandbox)

    client.reply(case["ticket_id"], "Hello Ann, your order ships tomorrow.")

    [write] = [w for w in served_writes(sandbox_api) if "emailSimple" in w["path"]]
    [sent] = write["body"]["inputs"]
    [wanted] = expected["inputs"]
    assert {k: type(v) for k, v in sent.items()} == {k: type(v) for k, v in wanted.items()}
