"""The helpdesk API calls a turn makes, counted at the sandbox (docs/api-budget.md has the floor).

Each turn reads its ticket once, posts what it says, and sets tags, status and group in one write; on
Salesforce the reads are one composite request and a note travels with the Case update in another.
The counts are deterministic: a test warms the worker's once-per-process reads (our own API user,
Salesforce's login, Kustomer's tag ids) with a first ticket, then counts a second one.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.conversations import open_and_wait, reply_and_wait

QUIET = 1.5  # seconds without a platform request: the turn (and any webhook it raised) is over
OTHER = ("Store question", "Do you have a shop in Berlin where I can try the shoes on?")
WISMO = ("Where is my order?", "Hi, where is my order? It hasn't arrived yet.")


def quiet_total(sandbox_api) -> int:
    last, since = -1, time.monotonic()
    while time.monotonic() - since < QUIET:
        now = sandbox_api.get(f"{sandbox_api.base_url}/_sandbox/requests", params={"since": 0}).json()[
            "total"
        ]
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.2)
    return last


def calls(sandbox_api, helpdesk: str, since: int) -> Counter:
    rows = sandbox_api.get(
        f"{sandbox_api.base_url}/_sandbox/requests", params={"since": since, "platform": helpdesk}
    ).json()["requests"]
    made = Counter(
        f"{r['method']} {r['path'].split('/')[-1] if r['method'] != 'GET' else 'read'}" for r in rows
    )
    # a Kustomer tag the org does not have yet is created once per org (each test resets the sandbox)
    made.pop("POST tags", None)
    return made


def counted_turn(sandbox_api, helpdesk: str, play):
    """The helpdesk calls `play()` causes, once the platform has fallen quiet after it."""
    start = quiet_total(sandbox_api)
    result = play()
    quiet_total(sandbox_api)
    return calls(sandbox_api, helpdesk, start), result


TRIAGE_CALLS = {
    # one read (ticket with requester and conversations), the note, one PUT (tags, group, status)
    "freshdesk": 3,
    # conversation, its messages, the customer; the note; one PATCH (the conversation's second
    # webhook finds its message already handled, without a call)
    "kustomer": 5,
    # one composite read; one composite with the note and the Case update
    "salesforce": 2,
}


@pytest.mark.parametrize("helpdesk", ["freshdesk", "kustomer", "salesforce"])
def test_a_ticket_for_people_costs_a_read_a_note_and_one_update(stack, customers, sandbox_api, helpdesk):
    open_and_wait(stack, customers, helpdesk, "sam.rivera@example.com", OTHER[1], OTHER[0], "Sam Rivera")
    made, (ticket, view) = counted_turn(
        sandbox_api,
        helpdesk,
        lambda: open_and_wait(
            stack, customers, helpdesk, "jane.doe@example.com", OTHER[1], OTHER[0], "Jane Doe"
        ),
    )
    assert "pd-handed-off" in view["tags"] and len(view["notes"]) == 1
    assert sum(made.values()) == TRIAGE_CALLS[helpdesk], made


WISMO_CALLS = {
    # the question: one read, the reply, one PUT; the answer: the same
    "freshdesk": (3, 3),
    # conversation, messages, the customer (on the answer, for the name the draft is addressed to),
    # the draft, one PATCH
    "kustomer": (5, 5),
    # one composite read (the question also looks the Contact up by email: the policy's account
    # check), emailSimple, the Case update
    "salesforce": (4, 3),
}


@pytest.mark.parametrize("helpdesk", ["freshdesk", "kustomer", "salesforce"])
def test_a_question_and_its_answer_cost_a_read_a_reply_and_one_update_each(
    stack, customers, sandbox_api, helpdesk
):
    """The customer names one of three orders by its item and age."""
    email = "oscar.nilsson@example.org"  # three orders: the bot asks which one
    open_and_wait(stack, customers, helpdesk, "sam.rivera@example.com", OTHER[1], OTHER[0], "Sam Rivera")
    asked, (ticket, view) = counted_turn(
        sandbox_api,
        helpdesk,
        lambda: open_and_wait(stack, customers, helpdesk, email, WISMO[1], WISMO[0], "Amelia"),
    )
    assert "pd-waiting" in view["tags"] and len(view["replies"]) == 1
    answered, view = counted_turn(
        sandbox_api,
        helpdesk,
        lambda: reply_and_wait(stack, customers, ticket, "the teapot, the newest one", 1),
    )
    assert len(view["replies"]) == 2
    assert (sum(asked.values()), sum(answered.values())) == WISMO_CALLS[helpdesk], (asked, answered)


def test_above_its_share_of_salesforces_daily_limit_a_new_ticket_goes_to_people_with_a_note(
    stack, customers, sandbox_api
):
    """Sforce-Limit-Info says 85% of the org's daily allocation is used (the default share is 80%):
    the bot leaves the rest to the org's other integrations, and says so to the agent."""
    sandbox_api.post(
        f"{sandbox_api.base_url}/_sandbox/salesforce/usage", json={"used": 12_750, "total": 15_000}
    )
    ticket, view = open_and_wait(
        stack, customers, "salesforce", "oscar.nilsson@example.org", WISMO[1], WISMO[0], "Oscar Nilsson"
    )
    assert "pd-handed-off" in view["tags"] and view["replies"] == []
    [note] = view["notes"]
    assert "daily API limit is 85% used" in note and "automatic work is paused" in note
