"""Talking to the deployed stack as a customer: open a ticket, reply, and wait until the bot's turn is over.

A turn is over when the ticket carries a lifecycle tag and, if the bot is waiting for the customer, its new
question is visible; the lifecycle tag is always a turn's last write.
"""

from __future__ import annotations

import time

FINAL_TAGS = {"pd-waiting", "pd-resolved", "pd-handed-off"}


def settled(previous_replies: int = 0):
    """The bot finished its turn: a lifecycle tag is set and (if it spoke) its reply is visible."""

    def check(view: dict) -> bool:
        return bool(FINAL_TAGS & set(view["tags"])) and (
            "pd-waiting" not in view["tags"] or len(view["replies"]) > previous_replies
        )

    return check


def lifecycle(view: dict) -> str:
    return next(tag for tag in ("pd-handed-off", "pd-resolved", "pd-waiting") if tag in view["tags"])


def open_and_wait(stack, customers, helpdesk, email, text, subject, name):
    ticket = customers.open_ticket(helpdesk, subject, text, email, name)
    for delivery in ticket.deliveries:
        assert delivery.post(stack.url).status_code in (200, 202)
    return ticket, customers.wait_for(ticket, settled(), timeout=40)


def reply_and_wait(stack, customers, ticket, text, replies_before, *, delivery_out: list | None = None):
    """The customer replies; returns the ticket once the bot's next turn is over. `delivery_out` receives
    the webhook that was sent, for tests that deliver it again."""
    delivery = customers.reply(ticket, text)
    assert delivery.post(stack.url).status_code in (200, 202)
    if delivery_out is not None:
        delivery_out.append(delivery)

    def moved(view: dict) -> bool:
        return (
            len(view["replies"]) > replies_before
            or "pd-handed-off" in view["tags"]
            or ("pd-resolved" in view["tags"] and "pd-waiting" not in view["tags"])
        )

    customers.wait_for(ticket, moved, timeout=40)
    time.sleep(0.5)  # the lifecycle tag is the last write of a turn
    return customers.wait_for(ticket, settled(replies_before), timeout=20)
