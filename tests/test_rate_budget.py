"""One rate budget per platform account, in Redis, shared by every worker (connectors/ratelimit.py):
requests beyond it are not sent, and the platform's own headers correct it."""

from __future__ import annotations

import threading

import pytest

from connectors import ratelimit
from connectors.errors import BudgetExhausted
from connectors.helpdesk import helpdesk_client
from policydesk.customers import SandboxCustomers
from tests.private_stack import private_stack

FRESHDESK_TICKET = "101"
OTHER_QUESTION = "Do you have a shop in Berlin where I can try the shoes on?"


@pytest.fixture
def shared(monkeypatch, redis_client):
    """Budgets on for this test, as the worker turns them on in every process."""
    monkeypatch.setattr(ratelimit, "_SHARED", {})

    def share(limits: str) -> None:
        ratelimit.share_budgets(redis_client, {"POLICYDESK_RATE_LIMITS": limits})

    return share


def requests_at(sandbox_api, platform: str) -> int:
    found = sandbox_api.get(f"{sandbox_api.base_url}/_sandbox/requests", params={"platform": platform})
    return len(found.json()["requests"])


def test_two_workers_share_one_budget_and_a_request_beyond_it_is_not_sent(shared, sandbox, sandbox_api):
    shared("freshdesk=10/60")  # 10 a minute; 2% (one request) is kept back for requests in flight
    one, other = (helpdesk_client("freshdesk", env=sandbox.env()) for _ in range(2))
    for n in range(9):
        (one if n % 2 else other).get_ticket(FRESHDESK_TICKET)
    sent = requests_at(sandbox_api, "freshdesk")

    with pytest.raises(BudgetExhausted) as waiting:
        one.get_ticket(FRESHDESK_TICKET)

    assert requests_at(sandbox_api, "freshdesk") == sent == 9
    assert 0 < waiting.value.retry_after <= 60  # the task waits in the queue for the window


def test_the_platforms_own_headers_correct_the_budget(shared, sandbox, sandbox_api, redis_client):
    """The plan says 1,000 a minute, Freshdesk answers X-Ratelimit-Total 400 and what remains of it:
    the budget believes the platform, since the store's other integrations spend it too."""
    shared("freshdesk=1000/60")
    client = helpdesk_client("freshdesk", env=sandbox.env())
    client.get_ticket(FRESHDESK_TICKET)

    budget = ratelimit.budget_for("freshdesk", client.http.base_url)
    held = redis_client.hgetall(budget.key)
    assert int(held["limit"]) == 400
    assert int(held["remaining"]) <= 399


def test_eight_workers_at_once_never_take_more_than_the_budget_and_use_nearly_all_of_it(shared, redis_client):
    shared("kustomer=200/60")
    budget = ratelimit.budget_for("kustomer", "https://acme.api.kustomerapp.com/v1")
    taken, refused = [], []

    def worker() -> None:
        for _ in range(40):
            try:
                budget.take(sleep=lambda _: None)
                taken.append(1)
            except BudgetExhausted:
                refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(taken) == 196  # 200 less the 2% kept back: never more, and at least 90% of it
    assert len(refused) == 8 * 40 - 196


@pytest.fixture
def budgeted_stack(base_env, data_dir, sandbox_api):
    """A web process and a worker whose Freshdesk budget is 3 requests per 30 s (2 usable)."""
    tuning = {"POLICYDESK_RATE_LIMITS": "freshdesk=3/30", "POLICYDESK_MAX_RETRIES": "1"}
    with private_stack(base_env, data_dir, db=5, name="budgeted", **tuning) as started:
        yield started


@pytest.mark.stack
def test_a_ticket_that_must_wait_for_budget_waits_in_the_queue_and_is_then_handled_once(
    budgeted_stack, sandbox, sandbox_api
):
    """The turn reads the ticket and our own agent, then finds the budget spent before its note: it goes
    back to the queue for the window (longer than any in-process wait), is neither failed nor handed
    off for it (one retry allowed, yet it is not counted), and the next window finishes it."""
    web, env = budgeted_stack
    customers = SandboxCustomers(sandbox.url, str(sandbox.cert), env)
    ticket = customers.open_ticket(
        "freshdesk", "Store question", OTHER_QUESTION, "jane.doe@example.com", "Jane Doe"
    )
    for delivery in ticket.deliveries:
        assert delivery.post(web.url).status_code == 202

    view = customers.wait_for(ticket, lambda v: "pd-handed-off" in v["tags"], timeout=90)

    assert "pd-handed-off" in view["tags"] and "pd-error" not in view["tags"], view
    assert [n.splitlines()[0] for n in view["notes"]] == ["policydesk triage"]
    reads = [
        r
        for r in sandbox_api.get(
            f"{sandbox_api.base_url}/_sandbox/requests", params={"platform": "freshdesk"}
        ).json()["requests"]
        if r["method"] == "GET" and r["path"].endswith(f"/tickets/{ticket.ticket_id}")
    ]
    assert len(reads) == 2  # read, waited in the queue, read again in the new turn
