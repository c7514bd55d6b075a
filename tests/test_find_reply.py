"""Reconciling a reply whose answer was lost: each helpdesk finds a reply we sent by its text."""

from __future__ import annotations

import pytest

from connectors.helpdesk import helpdesk_client


@pytest.mark.parametrize("helpdesk", ["freshdesk", "kustomer", "salesforce"])
def test_a_sent_reply_is_found_and_an_unsent_one_is_not(sandbox, sandbox_api, helpdesk):
    created = sandbox_api.post(
        f"{sandbox.url}/_sandbox/{helpdesk}/tickets",
        json={"subject": "Where is it", "text": "Where is my order?", "email": "sam@example.com"},
    ).json()
    desk = helpdesk_client(helpdesk, env=sandbox.env())
    ticket = str(created["ticket_id"])
    sent = "Order #1043 is on its way and should arrive by March 12.\nTrack it here: https://t.example/1"
    assert desk.find_reply(ticket, sent) is None
    desk.reply(ticket, sent)
    assert desk.find_reply(ticket, sent)
    assert desk.find_reply(ticket, "Order #1043 was canceled.") is None
