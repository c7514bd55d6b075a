"""GET /metrics on gunicorn counts what the Celery worker did: the numbers of every process in one place."""

from __future__ import annotations

import re

import conversations
import requests
from studio_client import PASSWORD


def counter(text: str, family: str, **labels: str) -> float:
    """The value of one counter line, 0 when the line is not there."""
    for line in text.splitlines():
        if not line.startswith(f"policydesk_{family}_total{{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(name) == value for name, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(stack) -> str:
    response = requests.get(f"{stack.url}/metrics", auth=("ops", PASSWORD), timeout=10)
    assert response.status_code == 200
    return response.text


def test_a_resolved_ticket_shows_in_webhooks_tasks_tool_calls_platform_calls_and_outcomes(stack, customers):
    before = scrape(stack)
    ticket, view = conversations.open_and_wait(
        stack,
        customers,
        "kustomer",
        "shipped@shipengine.example",
        "Hi, where is my order? It's been a while.",
        "Where is my order?",
        "Sam Rivera",
    )
    assert view["replies"], view
    after = scrape(stack)

    def grew(family: str, **labels: str) -> float:
        return counter(after, family, **labels) - counter(before, family, **labels)

    assert grew("webhooks", helpdesk="kustomer", result="accepted") >= 1
    assert grew("tasks", task="policydesk.handle_event", state="SUCCESS") >= 1
    assert grew("tool_calls", tool="get_shipengine_orders", result="ok") >= 1
    assert grew("platform_requests", platform="kustomer", status="200") >= 1
    assert grew("policy_outcomes", policy="wismo-kustomer-shipengine", mode="live", status="resolved") == 1
    assert requests.get(f"{stack.url}/metrics", timeout=10).status_code == 401
