"""The Kustomer client against the sandbox over real HTTPS: what an agent or customer would see."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import sandbox_calls

from connectors.errors import AuthFailed, NotFound, OutcomeUnknown, Rejected
from connectors.helpdesk import helpdesk_client
from connectors.helpdesk.kustomer import KustomerClient
from sandbox.kustomer import oid

PLATFORM = "kustomer"
JANE_CONVERSATION = oid(0x2001)  # open, tagged "vip" by a human, one email from Jane
OMAR_CONVERSATION = oid(0x2002)  # snoozed; Omar answered our question with the thread quoted below
JANE = oid(0x1001)


@pytest.fixture
def client(sandbox, sandbox_api) -> KustomerClient:
    return helpdesk_client(PLATFORM, env=sandbox.env())


inject = partial(sandbox_calls.inject, platform=PLATFORM)


def view(api: requests.Session, ticket_id: str) -> dict[str, Any]:
    return sandbox_calls.ticket(api, PLATFORM, ticket_id)


def writes(api: requests.Session, path_contains: str = "") -> list[dict[str, Any]]:
    return [row for row in sandbox_calls.log(api, PLATFORM) if path_contains in row["path"]]


def new_conversation(
    api: requests.Session, text: str, email: str = "ravi.menon@example.com"
) -> dict[str, str]:
    spec = {"subject": "Order question", "text": text, "email": email, "name": "Ravi Menon"}
    response = api.post(f"{api.base_url}/_sandbox/{PLATFORM}/tickets", json=spec)
    response.raise_for_status()
    return response.json()


def customer_writes(api: requests.Session, ticket_id: str, text: str) -> str:
    response = api.post(
        f"{api.base_url}/_sandbox/{PLATFORM}/tickets/{ticket_id}/messages", json={"text": text}
    )
    response.raise_for_status()
    return response.json()["message_id"]


def sent(api: requests.Session, ticket_id: str, replies: int = 1, timeout: float = 15) -> dict[str, Any]:
    """The ticket once Kustomer has sent `replies` replies (a scheduled draft goes out at its time)."""
    deadline = time.monotonic() + timeout
    seen = view(api, ticket_id)
    while len(seen["replies"]) < replies and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = view(api, ticket_id)
    return seen


@pytest.mark.parametrize("unscheduled_drafts", ["held", "sent"])
def test_a_reply_reaches_the_customer_whether_or_not_kustomer_sends_an_unscheduled_draft(
    client, sandbox_api, unscheduled_drafts
):
    sandbox_calls.choose_reading(sandbox_api, PLATFORM, "unscheduled_drafts", unscheduled_drafts)

    draft_id = client.reply(JANE_CONVERSATION, "Your kettle shipped today.")

    assert draft_id
    conversation = sent(sandbox_api, JANE_CONVERSATION)
    assert conversation["replies"] == ["Your kettle shipped today."] and conversation["drafts"] == []
    [write] = writes(sandbox_api, "/drafts")
    assert write["path"].endswith(f"/customers/{JANE}/drafts")
    body = write["body"]
    assert (body["channel"], body["conversation"]) == ("email", JANE_CONVERSATION)
    assert body["to"] == {"email": "jane.doe@example.com", "name": "Jane Doe"}
    assert body["from"] == {"email": "support@acme-shop.example"}
    assert body["subject"] == "Re: Where is my order #10452?"
    assert body["scheduled"] is True
    assert datetime.fromisoformat(body["sendAt"].replace("Z", "+00:00")) > datetime.fromisoformat(
        write_time(write)
    )


def write_time(write: dict[str, Any]) -> str:
    return datetime.fromtimestamp(write["at"], UTC).isoformat()


def test_an_email_draft_addressed_with_plain_strings_is_refused(sandbox, sandbox_api):
    env = sandbox.env()
    response = requests.post(
        f"{env['KUSTOMER_BASE_URL']}/customers/{JANE}/drafts",
        json={
            "channel": "email",
            "conversation": JANE_CONVERSATION,
            "body": "Hello",
            "to": "jane.doe@example.com",
            "from": "support@acme-shop.example",
        },
        headers={"Authorization": f"Bearer {env['KUSTOMER_API_KEY']}"},
        verify=env["POLICYDESK_CA_BUNDLE"],
        timeout=10,
    )

    assert response.status_code == 400 and "to must be" in response.text
    assert view(sandbox_api, JANE_CONVERSATION)["replies"] == []


def test_a_reply_waiting_for_its_time_is_found_so_it_is_never_sent_twice(client, sandbox_api):
    long_reply = "Your order shipped today with UPS. " * 12

    draft_id = client.reply(JANE_CONVERSATION, long_reply)

    assert client.find_reply(JANE_CONVERSATION, long_reply) == draft_id  # still a scheduled draft
    sent(sandbox_api, JANE_CONVERSATION)
    found = client.find_reply(JANE_CONVERSATION, long_reply)  # now an out message: only its preview
    assert found and found != draft_id
    assert client.find_reply(JANE_CONVERSATION, "Something else entirely, never sent.") is None


def test_note_is_internal_and_findable(client, sandbox_api):
    client.add_note(JANE_CONVERSATION, "Checked AfterShip: in transit. [pd:note:abc123]")

    conversation = view(sandbox_api, JANE_CONVERSATION)
    assert conversation["notes"] == ["Checked AfterShip: in transit. [pd:note:abc123]"]
    assert conversation["replies"] == []
    assert client.find_note(JANE_CONVERSATION, "[pd:note:abc123]")
    assert not client.find_note(JANE_CONVERSATION, "[pd:note:other]")
    [write] = writes(sandbox_api, "/notes")
    assert write["path"].endswith(f"/conversations/{JANE_CONVERSATION}/notes")


def test_a_note_made_on_the_org_notes_endpoint_belongs_to_no_conversation(sandbox, sandbox_api):
    env = sandbox.env()
    response = requests.post(
        f"{env['KUSTOMER_BASE_URL']}/notes",
        json={"body": "lost note", "conversation": JANE_CONVERSATION},
        headers={"Authorization": f"Bearer {env['KUSTOMER_API_KEY']}"},
        verify=env["POLICYDESK_CA_BUNDLE"],
        timeout=10,
    )

    assert response.status_code == 201
    assert view(sandbox_api, JANE_CONVERSATION)["notes"] == []


def test_an_oversized_note_keeps_its_marker(client, sandbox_api):
    client.add_note(JANE_CONVERSATION, "x" * 20_000 + " [pd:note:tail]")
    assert client.find_note(JANE_CONVERSATION, "[pd:note:tail]")


def test_set_tags_merges_names_with_a_humans_tags(client, sandbox_api):
    assert view(sandbox_api, JANE_CONVERSATION)["tags"] == ["vip"]

    assert client.set_tags(JANE_CONVERSATION, ["wismo", "damaged"]) == ["vip", "wismo", "damaged"]
    assert client.set_tags(JANE_CONVERSATION, [], remove=["Damaged"]) == ["vip", "wismo"]

    assert view(sandbox_api, JANE_CONVERSATION)["tags"] == ["vip", "wismo"]
    # "wismo" did not exist in the org and was created once; "damaged" already existed
    assert [w["body"] for w in writes(sandbox_api, "/tags") if w["method"] == "POST"] == [{"name": "wismo"}]


def test_existing_tags_are_reused_across_clients(sandbox, client, sandbox_api):
    client.set_tags(JANE_CONVERSATION, ["wismo"])
    other = helpdesk_client(PLATFORM, env=sandbox.env())
    other.set_tags(OMAR_CONVERSATION, ["WISMO"])

    assert view(sandbox_api, OMAR_CONVERSATION)["tags"] == ["wismo"]
    assert len([w for w in writes(sandbox_api, "/tags") if w["method"] == "POST"]) == 1


def test_handoff_to_the_human_team(client, sandbox, sandbox_api):
    assert client.handoff_group == sandbox.env()["KUSTOMER_HANDOFF_TEAM_ID"]

    client.assign_to_group(JANE_CONVERSATION, client.handoff_group)

    conversation = view(sandbox_api, JANE_CONVERSATION)
    assert conversation["group"] == client.handoff_group
    assert conversation["assigned_users"] == []


@pytest.mark.parametrize(("status", "seen"), [("pending", "snoozed"), ("resolved", "done"), ("open", "open")])
def test_set_status(client, sandbox_api, status, seen):
    client.set_status(OMAR_CONVERSATION if status == "open" else JANE_CONVERSATION, status)
    assert view(sandbox_api, OMAR_CONVERSATION if status == "open" else JANE_CONVERSATION)["status"] == seen


def test_pending_is_a_snooze_with_a_time_so_an_unanswered_ticket_comes_back(client, sandbox_api):
    client.set_status(JANE_CONVERSATION, "pending")

    snooze = view(sandbox_api, JANE_CONVERSATION)["snooze"]
    assert snooze["status"] == "scheduled"
    wakes = datetime.fromisoformat(snooze["time"])
    assert timedelta(hours=71) < wakes - datetime.now(UTC) <= timedelta(hours=72)


def test_get_ticket(client):
    ticket = client.get_ticket(JANE_CONVERSATION)

    assert ticket.helpdesk == "kustomer"
    assert ticket.subject == "Where is my order #10452?"
    assert ticket.requester_email == "jane.doe@example.com"
    assert ticket.requester_name == "Jane Doe"
    assert ticket.customer_id == JANE
    assert ticket.status == "open"
    assert ticket.tags == ("vip",)
    assert ticket.description == "Hi, my order #10452 still hasn't arrived. Where is it?"


def test_latest_customer_message_strips_a_plain_text_quote(client):
    message = client.latest_customer_message(OMAR_CONVERSATION)

    assert message is not None
    assert message.id == oid(0x3004)
    assert message.text == "It is omar.haddad@example.com"
    assert message.author_email == "omar.haddad@example.com"


def test_latest_customer_message_after_our_reply(client, sandbox_api):
    created = new_conversation(sandbox_api, "Where is order #20002?")
    first = client.latest_customer_message(created["ticket_id"])
    assert first is not None and first.text == "Where is order #20002?"

    client.reply(created["ticket_id"], "Could you confirm your email address?")
    sent(sandbox_api, created["ticket_id"])  # the customer answers the mail Kustomer sent
    message_id = customer_writes(sandbox_api, created["ticket_id"], "Sure: ravi.menon@example.com")

    message = client.latest_customer_message(created["ticket_id"])
    assert message is not None
    assert message.id == message_id
    assert message.text == "Sure: ravi.menon@example.com"
    assert "Could you confirm" in view(sandbox_api, created["ticket_id"])["customer_messages"][-1]


def test_customer_reply_reopens_a_done_conversation(client, sandbox_api):
    client.set_status(JANE_CONVERSATION, "resolved")
    customer_writes(sandbox_api, JANE_CONVERSATION, "It still hasn't come.")
    assert view(sandbox_api, JANE_CONVERSATION)["status"] == "open"


def test_find_customer(client):
    customer = client.find_customer("Jane.Doe@example.com")
    assert customer is not None
    assert (customer.id, customer.email, customer.name) == (JANE, "jane.doe@example.com", "Jane Doe")
    assert client.find_customer("nobody@example.com") is None
    assert client.find_customer("a/b@example.com") is None


def test_customer_emails_stay_out_of_our_logs(client, caplog):
    with caplog.at_level(logging.DEBUG, logger="connectors"):
        assert client.find_customer("jane.doe@example.com") is not None
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("connectors")]
    assert ours and not any("jane.doe" in line for line in ours)


def test_rate_limit_reset_is_waited_out(client, sandbox_api):
    inject(sandbox_api, status=429, retry_after=1, method="GET", path_contains="/conversations/")

    assert client.get_ticket(JANE_CONVERSATION).id == JANE_CONVERSATION
    assert [row["fault"] for row in writes(sandbox_api, "/conversations/")] == [429]


def test_server_error_on_a_read_is_retried(client, sandbox_api):
    inject(sandbox_api, status=503, count=2, method="GET", path_contains="/messages")

    message = client.latest_customer_message(JANE_CONVERSATION)
    assert message is not None
    assert len(writes(sandbox_api, "/messages")) == 2


def test_server_error_on_a_draft_is_never_repeated(client, sandbox_api):
    inject(sandbox_api, status=503, method="POST", path_contains="/drafts")

    with pytest.raises(OutcomeUnknown):
        client.reply(JANE_CONVERSATION, "Your order shipped.")

    assert len(writes(sandbox_api, "/drafts")) == 1
    assert view(sandbox_api, JANE_CONVERSATION)["replies"] == []


def test_wrong_api_key_is_auth_failed(sandbox):
    env = {**sandbox.env(), "KUSTOMER_API_KEY": "not-the-key"}
    with pytest.raises(AuthFailed) as raised:
        helpdesk_client(PLATFORM, env=env).get_ticket(JANE_CONVERSATION)
    assert raised.value.status == 401


def test_unknown_conversation_is_not_found(client):
    with pytest.raises(NotFound):
        client.get_ticket(oid(0xDEAD))


def test_malformed_ids_are_refused_before_sending(client, sandbox_api):
    with pytest.raises(Rejected):
        client.add_note("../tags", "hi")
    with pytest.raises(Rejected):
        client.set_status("a b", "open")
    assert writes(sandbox_api) == []


def test_unknown_team_is_rejected_by_the_platform(client, sandbox_api):
    with pytest.raises(Rejected) as raised:
        client.assign_to_group(JANE_CONVERSATION, oid(0xBEEF))
    assert raised.value.status == 400
    assert view(sandbox_api, JANE_CONVERSATION)["group"] is None


GARBAGE = [
    None,
    "not json",
    [],
    5,
    {"body": 5},
    {"body": ""},
    {"tags": "vip"},
    {"tags": [5]},
    {"status": ["open"]},
    {"assignedTeams": {"a": 1}},
    {"channel": {}},
    {"conversation": []},
    {"name": 7},
    {"userMentions": "x"},
    {"zzz": 1},
]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "notes"),
        ("PATCH", f"conversations/{JANE_CONVERSATION}"),
        ("POST", f"customers/{JANE}/drafts"),
        ("POST", "tags"),
    ],
)
def test_malformed_requests_get_kustomer_errors_not_crashes(sandbox, sandbox_api, method, path):
    env = sandbox.env()
    for body in GARBAGE:
        data = body if isinstance(body, str) else None
        response = sandbox_api.request(
            method,
            f"{env['KUSTOMER_BASE_URL']}/{path}",
            json=None if data else body,
            data=data,
            headers={
                "Authorization": f"Bearer {env['KUSTOMER_API_KEY']}",
                "Content-Type": "application/json",
            },
        )
        if response.status_code < 300:  # a body the endpoint can ignore, e.g. PATCH {"name": 7}
            continue
        assert response.status_code == 400, (body, response.text)
        assert "x-ratelimit-remaining" in response.headers
        assert response.json()["errors"][0]["status"] == 400


def test_an_email_reply_is_a_draft_in_the_vendors_shape(client, sandbox_api):
    expected = json.loads(
        (Path(__file__).parent / "fixtures" / "kustomer" / "draft_email_request.json").read_text()
    )

    client.reply(JANE_CONVERSATION, "Your parcel is with the carrier and should arrive on Friday.")

    [write] = writes(sandbox_api, "/drafts")
    sent = write["body"]
    assert set(sent) == set(expected)
    assert {k: type(v) for k, v in sent.items()} == {k: type(v) for k, v in expected.items()}
    assert set(sent["to"]) == set(expected["to"]) and set(sent["from"]) == set(expected["from"])
