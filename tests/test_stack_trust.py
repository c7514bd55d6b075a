"""Whom the bot believes, through the real stack (gunicorn, a Celery worker, Redis, the sandbox).

- A notification is only a pointer: an authenticated Salesforce message that names another requester
  changes nothing about whom the bot talks to or whose orders it reads.
- The bot acts only on a ticket that is ours to act on: a Case a person owns, never sent to us as new,
  is left alone however the notification reads.
- Our own API user, read from each helpdesk's API, is ours: a waiting ticket the helpdesk assigned to
  it is still the bot's to finish.
"""

from __future__ import annotations

import time

import pytest
import redis
import requests
from conversations import lifecycle, open_and_wait, reply_and_wait

from policydesk import deliveries
from worker import pending

AGENT_USER_ID = "0055g0000000003AAA"  # the sandbox org's human agent (Dana Agent)


def wait_until_processed(stack_env: dict[str, str], ticket_key: str, timeout: float = 40) -> None:
    """Every accepted event of the ticket is finished (the pending set the stale sweep reads is empty)."""
    client = redis.Redis.from_url(stack_env["REDIS_URL"], decode_responses=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ticket_key not in client.hvals(pending.TICKETS):
            return
        time.sleep(0.2)
    raise AssertionError(f"{ticket_key} still pending")


def api(stack_env: dict[str, str]) -> requests.Session:
    session = requests.Session()
    session.verify = stack_env["POLICYDESK_CA_BUNDLE"]
    session.trust_env = False
    return session


def test_a_salesforce_message_naming_another_requester_changes_nothing(stack, customers, stack_env):
    """The attacker's own Case; an authenticated message about it claims the victim's address.
    The bot reads the Case: the victim's parcel is never looked up or described."""
    # the victim wrote in once before, so Salesforce has her as a Contact
    customers.open_ticket("salesforce", "Hello", "Hello", "shipped@aftership.example", "Victim")
    ticket = customers.open_ticket(
        "salesforce", "Where is my order?", "Where is my order?", "mallory@evil.example", "Mallory"
    )
    forged = deliveries.salesforce_case_created(
        ticket.ticket_id,
        "Where is my order?",
        "Where is my order?",
        "shipped@aftership.example",
        "Victim",
        org_id=stack_env["SALESFORCE_ORG_ID"],
    ).authenticated(stack_env)
    assert forged.post(stack.url).status_code == 200
    wait_until_processed(stack_env, f"salesforce:{ticket.ticket_id}")
    view = customers.view(ticket)
    assert not any("on its way" in reply for reply in view["replies"]), view["replies"]
    assert not any("shipped@aftership.example" in note for note in view["notes"]), view["notes"]


def test_a_case_a_person_owns_is_left_alone(stack, customers, stack_env):
    """Never sent to us as new, owned by an agent: a "customer reply" about it gets no answer."""
    ticket = customers.open_ticket(
        "salesforce", "Where is my order?", "Where is my order?", "shipped@aftership.example", "Sam"
    )
    instance = stack_env["SALESFORCE_INSTANCE_URL"]
    response = api(stack_env).patch(
        f"{instance}/services/data/v59.0/sobjects/Case/{ticket.ticket_id}",
        json={"OwnerId": AGENT_USER_ID},
        headers={
            "Authorization": f"Bearer {stack_env['SALESFORCE_ACCESS_TOKEN']}",
            "Sforce-Auto-Assign": "FALSE",
        },
    )
    assert response.status_code == 204, response.text
    delivery = customers.reply(ticket, "Any news?")
    assert delivery.post(stack.url).status_code == 200
    wait_until_processed(stack_env, f"salesforce:{ticket.ticket_id}")
    view = customers.view(ticket)
    assert view["replies"] == []
    assert not any(tag.startswith("pd-") for tag in view["tags"]), view["tags"]
    assert view["group"] == AGENT_USER_ID


def assign_to_our_api_user(stack_env: dict[str, str], helpdesk: str, ticket_id: str) -> None:
    """What a helpdesk does when it assigns a ticket to the agent whose API key replied."""
    http = api(stack_env)
    if helpdesk == "kustomer":
        me = http.get(
            f"{stack_env['KUSTOMER_BASE_URL']}/users/current",
            headers={"Authorization": f"Bearer {stack_env['KUSTOMER_API_KEY']}"},
        ).json()["data"]["id"]
        response = http.patch(
            f"{stack_env['KUSTOMER_BASE_URL']}/conversations/{ticket_id}",
            json={"assignedUsers": [me]},
            headers={"Authorization": f"Bearer {stack_env['KUSTOMER_API_KEY']}"},
        )
    else:
        auth = (stack_env["FRESHDESK_API_KEY"], "X")
        me = http.get(f"{stack_env['FRESHDESK_BASE_URL']}/agents/me", auth=auth).json()["id"]
        response = http.put(
            f"{stack_env['FRESHDESK_BASE_URL']}/tickets/{ticket_id}", json={"responder_id": me}, auth=auth
        )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("helpdesk", ["kustomer", "freshdesk"])
def test_a_ticket_assigned_to_our_own_api_user_is_still_ours(stack, customers, stack_env, helpdesk):
    ticket, view = open_and_wait(
        stack, customers, helpdesk, "delivered@shipengine.example", "Where is it?", "Where?", "Sam"
    )
    assert lifecycle(view) == "pd-waiting", view
    assign_to_our_api_user(stack_env, helpdesk, ticket.ticket_id)
    view = reply_and_wait(stack, customers, ticket, "Yes, it arrived, thanks!", len(view["replies"]))
    assert lifecycle(view) == "pd-resolved", (view["tags"], view["replies"], view["notes"])
