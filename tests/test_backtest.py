"""`policydesk backtest`: past tickets classified, routed and their first turn simulated, from a
JSON-lines export or read from each helpdesk's API (a date range), and nothing written anywhere.

With --live-reads the command reads everything from the test sandbox (the helpdesk's tickets and the
store's records), so its write log is the whole story: it must stay empty, and every request the
helpdesk received must be a read.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from policydesk.cli import main as policydesk_main
from sandbox import world

AF = "awaiting.fulfillment@bigcommerce.example"  # owns 5007, not shipped yet
DE = "delivered.eligible@bigcommerce.example"  # owns 5001, delivered
# requests that read, though they are POSTs: Kustomer's search, Salesforce's composite of GETs and login
READING_POSTS = ("/v1/customers/search", "/composite", "/oauth2/token")


def sandbox_writes(api: requests.Session) -> list[dict[str, Any]]:
    response = api.get(f"{api.base_url}/_sandbox/writes")
    response.raise_for_status()
    return response.json()


def sandbox_requests(api: requests.Session, platform: str) -> list[dict[str, Any]]:
    response = api.get(f"{api.base_url}/_sandbox/requests", params={"platform": platform})
    response.raise_for_status()
    return response.json()["requests"]


BACKTEST = [
    {"id": "T-1", "text": "Please cancel my order #5007, I changed my mind.", "email": AF},
    {
        "id": "T-2",
        "subject": "Where is my order?",
        "text": "Hi, my order was due this week and I haven't seen it yet. Where is it?",
        "email": "in-transit.on-time@aftership.example",
        "helpdesk": "salesforce",
    },
    {"id": "T-3", "text": "Do you sell gift cards I can send by email?", "email": "sam@example.com"},
    {"id": "T-4", "text": "Please cancel my order #5007", "email": DE},
]


def test_backtest_reports_the_type_mix_what_each_policy_would_do_and_who_goes_to_people(
    configured: dict[str, str],
    tmp_path: Path,
    sandbox_api: requests.Session,
    capsys: pytest.CaptureFixture[str],
) -> None:
    past = tmp_path / "past.jsonl"
    past.write_text("".join(json.dumps(ticket) + "\n" for ticket in BACKTEST))
    assert policydesk_main(["backtest", str(past), "--live-reads"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0] == "4 ticket(s); types: cancellation 2, wismo 1, other 1"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    # tickets, would resolve, ask, hand off, writes
    assert rows["single-order-cancellation"] == ["2", "0", "1", "1", "0"]
    assert rows["wismo-salesforce-aftership"] == ["1", "1", "0", "0", "0"]
    assert rows["(to"] == ["people)", "1", "0", "0", "1", "0"]
    assert lines[6] == "  T-3 (other, no policy): not a ticket type policydesk resolves automatically"
    assert lines[7].startswith(
        "  T-4 (cancellation, single-order-cancellation): the order named in the ticket"
    )
    assert sandbox_writes(sandbox_api) == []


def test_backtest_refuses_a_line_without_text(configured: dict[str, str], tmp_path: Path, capsys) -> None:
    past = tmp_path / "past.jsonl"
    past.write_text('{"id": "T-1", "text": "hello"}\n{"id": "T-2"}\n')
    assert policydesk_main(["backtest", str(past)]) == 2
    assert "past.jsonl:2: each line needs a JSON object with a `text`" in capsys.readouterr().err


@pytest.mark.parametrize("helpdesk", ["freshdesk", "kustomer", "salesforce"])
def test_backtest_reads_a_date_range_from_the_helpdesk_and_writes_nothing(
    helpdesk: str,
    configured: dict[str, str],
    sandbox_api: requests.Session,
    capsys: pytest.CaptureFixture[str],
) -> None:
    on_the_desk = world.load().tickets_on(helpdesk)
    since = (date.today() - timedelta(days=60)).isoformat()
    argv = ["backtest", "--helpdesk", helpdesk, "--from", since, "--to", date.today().isoformat()]
    assert policydesk_main([*argv, "--live-reads"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].startswith(f"{len(on_the_desk)} ticket(s); types: ")
    assert "to people:" in lines
    # the world's late parcel (#10452, due days ago) is one of them, and goes to a person
    assert any("10452" in line and "late parcel" in line for line in lines)
    assert sandbox_writes(sandbox_api) == []
    asked = sandbox_requests(sandbox_api, helpdesk)
    assert asked, "the tickets were read from the helpdesk's API"
    for call in asked:
        assert call["method"] == "GET" or call["path"].endswith(READING_POSTS), call


def test_backtest_from_the_helpdesk_keeps_to_the_range_and_the_limit(
    configured: dict[str, str], sandbox_api: requests.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    future = (date.today() + timedelta(days=5)).isoformat()
    assert policydesk_main(["backtest", "--helpdesk", "freshdesk", "--from", future, "--to", future]) == 0
    assert capsys.readouterr().out.strip() == "no tickets"
    since = (date.today() - timedelta(days=60)).isoformat()
    assert policydesk_main(["backtest", "--helpdesk", "kustomer", "--from", since, "--limit", "1"]) == 0
    assert capsys.readouterr().out.startswith("1 ticket(s)")
    assert policydesk_main(["backtest", "--helpdesk", "kustomer"]) == 2
    assert "--from YYYY-MM-DD" in capsys.readouterr().err
    assert policydesk_main(["backtest", "--from", future, "--to", since]) == 2
    assert "--to must not be before --from" in capsys.readouterr().err
    assert sandbox_writes(sandbox_api) == []
