"""The Freshdesk client against the sandbox over real HTTPS: what an agent or customer would see."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import pytest
import requests
import sandbox_calls

from connectors.errors import AuthFailed, NotFound, OutcomeUnknown, Rejected
from connectors.helpdesk import helpdesk_client
from connectors.helpdesk.freshdesk import FreshdeskClient
from connectors.models import Customer

PLATFORM = "freshdesk"


@pytest.fixture
def client(sandbox, sandbox_api) -> FreshdeskClient:
    return helpdesk_client(PLATFORM, env=sandbox.env())


inject = partial(sandbox_calls.inject, platform=PLATFORM)


def view(api: requests.Session, ticket_id: str) -> dict[str, Any]:
    return sandbox_calls.ticket(api, PLATFORM, ticket_id)


def writes(api: requests.Session, path_contains: str = "") -> list[dict[str, Any]]:
    return [row for row in sandbox_calls.log(api, PLATFORM) if path_contains in row["path"]]


def new_ticket(api: requests.Session, text: str, email: str = "ravi.menon@example.com") -> dict[str, str]:
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


def test_reply_reaches_the_customer_as_html(client, sandbox_api):
    reply_id = client.reply("101", "Your kettle shipped <today>.\n\nTracking: 1Z999")

    assert reply_id.isdigit()
    assert view(sandbox_api, "101")["replies"] == ["Your kettle shipped <today>.\n\nTracking: 1Z999"]
    [write] = writes(sandbox_api, "/tickets/101/reply")
    assert write["body"]["body"] == "<p>Your kettle shipped &lt;today&gt;.</p><p>Tracking: 1Z999</p>"


def test_note_is_internal_and_findable(client, sandbox_api):
    client.add_note("101", "Checked AfterShip: in transit. [pd:note:abc123]")

    ticket = view(sandbox_api, "101")
    assert ticket["notes"] == ["Checked AfterShip: in transit. [pd:note:abc123]"]
    assert ticket["replies"] == []
    assert client.find_note("101", "[pd:note:abc123]")
    assert not client.find_note("101", "[pd:note:other]")


def test_marker_in_a_public_reply_is_not_a_note(client):
    client.reply("101", "Hello [pd:note:xyz]")
    assert not client.find_note("101", "[pd:note:xyz]")


def test_set_tags_merges_with_a_humans_tags(client, sandbox_api):
    assert view(sandbox_api, "101")["tags"] == ["vip"]

    assert client.set_tags("101", ["wismo", "bot-handled"]) == ["vip", "wismo", "bot-handled"]
    assert client.set_tags("101", [], remove=["wismo"]) == ["vip", "bot-handled"]

    assert view(sandbox_api, "101")["tags"] == ["vip", "bot-handled"]


def test_set_tags_writes_nothing_when_nothing_changes(client, sandbox_api):
    assert client.set_tags("101", ["VIP"]) == ["vip"]
    assert writes(sandbox_api, "/tickets/101") == []


def test_handoff_to_the_human_group(client, sandbox, sandbox_api):
    assert client.handoff_group == sandbox.env()["FRESHDESK_HANDOFF_GROUP_ID"]

    client.assign_to_group("101", client.handoff_group)

    ticket = view(sandbox_api, "101")
    assert ticket["group"] == client.handoff_group
    assert ticket["group_name"] == "Customer Support"


@pytest.mark.parametrize(
    ("status", "seen"), [("pending", "pending"), ("resolved", "resolved"), ("open", "open")]
)
def test_set_status(client, sandbox_api, status, seen):
    client.set_status("103" if status == "open" else "101", status)
    assert view(sandbox_api, "103" if status == "open" else "101")["status"] == seen


def test_get_ticket(client):
    ticket = client.get_ticket("101")

    assert ticket.helpdesk == "freshdesk"
    assert ticket.subject == "Where is my order #10452?"
    assert ticket.requester_email == "jane.doe@example.com"
    assert ticket.requester_name == "Jane Doe"
    assert ticket.customer_id == "8001"
    assert ticket.status == "open"
    assert ticket.tags == ("vip",)
    assert "order #10452" in ticket.description and "<div>" not in ticket.description


def test_first_message_is_the_description(client, sandbox_api):
    created = new_ticket(sandbox_api, "Hi, where is order #20001?")

    message = client.latest_customer_message(created["ticket_id"])

    assert message is not None
    assert message.text == "Hi, where is order #20001?"
    assert message.id == created["message_id"]
    assert message.author_email == "ravi.menon@example.com"


def test_latest_customer_message_strips_the_quoted_thread(client, sandbox_api):
    created = new_ticket(sandbox_api, "Where is order #20002?")
    client.reply(created["ticket_id"], "Could you confirm your email address?")
    message_id = customer_writes(sandbox_api, created["ticket_id"], "Sure, it is ravi.menon@example.com")

    message = client.latest_customer_message(created["ticket_id"])

    assert message is not None
    assert message.id == message_id
    assert message.text == "Sure, it is ravi.menon@example.com"
    assert message.incoming
    # the sandbox really did quote our reply under the customer's text
    assert "Could you confirm" in view(sandbox_api, created["ticket_id"])["customer_messages"][-1]


def test_seeded_reply_with_gmail_quote(client):
    message = client.latest_customer_message("102")
    assert message is not None
    assert message.text == "It is omar.haddad@example.com"


def test_customer_reply_reopens_a_pending_ticket(client, sandbox_api):
    client.set_status("101", "pending")
    customer_writes(sandbox_api, "101", "Any news?")
    assert view(sandbox_api, "101")["status"] == "open"


def test_find_customer(client):
    assert client.find_customer("Jane.Doe@example.com") == Customer(
        platform="freshdesk", id="8001", email="jane.doe@example.com", name="Jane Doe"
    )
    assert client.find_customer("nobody@example.com") is None
    assert client.find_customer("") is None


def test_customer_emails_stay_out_of_our_logs(client, caplog):
    with caplog.at_level(logging.DEBUG, logger="connectors"):
        assert client.find_customer("jane.doe@example.com") is not None
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("connectors")]
    assert ours and not any("jane.doe" in line for line in ours)


def test_rate_limit_is_waited_out(client, sandbox_api):
    inject(sandbox_api, status=429, retry_after=1, method="GET", path_contains="/tickets/101")

    assert client.get_ticket("101").subject == "Where is my order #10452?"
    assert [row["fault"] for row in writes(sandbox_api, "/tickets/101")] == [429]


def test_server_error_on_a_read_is_retried(client, sandbox_api):
    inject(sandbox_api, status=503, count=2, method="GET", path_contains="/tickets/101")

    assert client.get_ticket("101").id == "101"
    assert len(writes(sandbox_api, "/tickets/101")) == 2


def test_server_error_on_a_reply_is_never_repeated(client, sandbox_api):
    inject(sandbox_api, status=503, method="POST", path_contains="/reply")

    with pytest.raises(OutcomeUnknown):
        client.reply("101", "Your order shipped.")

    assert len(writes(sandbox_api, "/tickets/101/reply")) == 1
    assert view(sandbox_api, "101")["replies"] == []


def test_wrong_api_key_is_auth_failed(sandbox):
    env = {**sandbox.env(), "FRESHDESK_API_KEY": "not-the-key"}
    with pytest.raises(AuthFailed) as raised:
        helpdesk_client(PLATFORM, env=env).get_ticket("101")
    assert raised.value.status == 401
    assert "invalid_credentials" in raised.value.detail


def test_unknown_ticket_is_not_found(client):
    with pytest.raises(NotFound):
        client.get_ticket("999999")


def test_malformed_ids_are_refused_before_sending(client, sandbox_api):
    with pytest.raises(Rejected):
        client.reply("../contacts", "hi")
    with pytest.raises(Rejected):
        client.assign_to_group("101", "support-team")
    assert writes(sandbox_api) == []


def test_invalid_group_is_rejected_by_the_platform(client, sandbox_api):
    with pytest.raises(Rejected) as raised:
        client.assign_to_group("101", "424242")
    assert raised.value.status == 400
    assert "group_id" in raised.value.detail
    assert view(sandbox_api, "101")["group"] is None


GARBAGE = [
    None,
    "not json",
    [],
    5,
    {"body": 5},
    {"tags": "vip"},
    {"status": [2]},
    {"group_id": {"a": 1}},
    {"custom_fields": "x"},
    {"description": 7},
    {"notify_emails": 5},
    {"email": 5},
    {"requester_id": []},
    {"status": True},
    {"zzz": 1},
]


@pytest.mark.parametrize("path", ["tickets/101/reply", "tickets/101/notes", "tickets/101", "tickets"])
def test_malformed_requests_get_freshdesk_errors_not_crashes(sandbox, sandbox_api, path):
    env = sandbox.env()
    method = "PUT" if path == "tickets/101" else "POST"
    for body in GARBAGE:
        data = body if isinstance(body, str) else None
        response = sandbox_api.request(
            method,
            f"{env['FRESHDESK_BASE_URL']}/{path}",
            auth=(env["FRESHDESK_API_KEY"], "X"),
            json=None if data else body,
            data=data,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, (body, response.text)
        assert "X-Ratelimit-Remaining" in response.headers
        assert response.json().get("errors") or response.json().get("code")
