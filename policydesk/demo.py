"""`policydesk demo`: the whole stack on one machine, driven by realistic webhooks, checked end to end.

It starts the embedded Redis, the sandbox, gunicorn and a Celery worker, opens tickets of every type on
all three helpdesks, sends the webhooks each helpdesk would send (plus a duplicate delivery and a forged
signature), then reads every ticket back from the sandbox and prints what policydesk did to it.
Exit status 0 only if every ticket ended as expected.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from policydesk.customers import OpenedTicket, SandboxCustomers
from policydesk.stack import WebProcess, local_stack

EMAIL = "jane.doe@example.com"
CLAUDE_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL")


@dataclass(frozen=True)
class DemoTicket:
    """One customer's conversation: the first message, any replies, and how it should end."""

    helpdesk: str
    expected_type: str
    subject: str
    text: str
    email: str = EMAIL
    replies: tuple[str, ...] = ()
    ends: str = "pd-handed-off"


DEMO_TICKETS = [
    # "Where is my order?" resolved by the WISMO policies, one full conversation per helpdesk
    DemoTicket(
        "salesforce",
        "wismo",
        "Where is my order?",
        "Hi, my order was due this week and I haven't seen it yet. Where is it?",
        email="in-transit.on-time@aftership.example",
        ends="pd-resolved",
    ),
    DemoTicket(
        "kustomer",
        "wismo",
        "Order status",
        "hey where are my orders at??",
        email="three.orders@shipengine.example",
        replies=("the second one please",),
        ends="pd-resolved",
    ),
    DemoTicket(
        "freshdesk",
        "wismo",
        "Tracking",
        "<p>hi team, when will i get my order&#39;s delivery?</p>",
        email="delivered@shipengine.example",
        replies=("Yes it's here, thank you!",),
        ends="pd-resolved",
    ),
    DemoTicket(
        "kustomer",
        "wismo",
        "Still waiting",
        "My parcel is very late, where is it?",
        email="lost@shipengine.example",
    ),
    # the policies that change things, one conversation each
    DemoTicket(
        "kustomer",
        "skip_shipment",
        "Skip my next box",
        "Hi, please skip my next box, thanks!",
        email="one.active@smartrr.example",
        replies=("Yes please",),
        ends="pd-resolved",
    ),
    DemoTicket(
        "kustomer",
        "replacement",
        "Broken mugs",
        "Order #5001 arrived damaged, both mugs are broken. Can you send a replacement?",
        email="delivered.eligible@bigcommerce.example",
        replies=("Yes, same address", "yes go ahead"),
        ends="pd-resolved",
    ),
    DemoTicket(
        "salesforce",
        "cancellation",
        "Cancel my order",
        "Please cancel my order #5007, I changed my mind.",
        email="awaiting.fulfillment@bigcommerce.example",
        replies=("Yes, that works",),
        ends="pd-resolved",
    ),
    DemoTicket(
        "freshdesk",
        "replacement",
        "Never got it",
        "Order #5001 is marked delivered but I never received it.",
        email="delivered.eligible@bigcommerce.example",
        replies=("No, I asked the neighbours and checked the porch, nothing.", "Yes please"),
    ),
    # not a type policydesk resolves: triaged and routed to humans
    DemoTicket("freshdesk", "other", "Gift cards", "Do you sell gift cards I can send by email?"),
]
LIFECYCLE = ("pd-handed-off", "pd-resolved", "pd-waiting")


def run_demo(keep: bool = False) -> int:
    folder = Path(".policydesk/demo").resolve()
    shutil.rmtree(folder, ignore_errors=True)
    print("policydesk demo: embedded Redis, sandbox, web (gunicorn) and worker (Celery) on this machine")
    claude = {k: v for k, v in os.environ.items() if k in CLAUDE_VARS and v}
    if claude.get("ANTHROPIC_API_KEY"):
        model = claude.get("ANTHROPIC_MODEL") or "the default model"
        print(f"engine: Claude agent ({model}) for policies with engine: agent, flows for the rest\n")
    else:
        print(
            "engine: deterministic flows (set ANTHROPIC_API_KEY to run agent-preferring policies on Claude)\n"
        )
    try:
        with local_stack(folder, env=claude) as stack:
            return _play(stack.customers, stack.web)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"\nlogs and data kept in {folder}")


def _play(customers: SandboxCustomers, web: WebProcess) -> int:
    failures: list[str] = []
    opened: list[tuple[DemoTicket, OpenedTicket]] = []
    for demo in DEMO_TICKETS:
        ticket = customers.open_ticket(demo.helpdesk, demo.subject, demo.text, demo.email, "Sam Rivera")
        for delivery in ticket.deliveries:
            delivery.post(web.url)
        opened.append((demo, ticket))

    duplicate_of = opened[-1][1]
    duplicate = duplicate_of.deliveries[0].post(web.url).status_code
    forged = opened[1][1].deliveries[0].signed_kustomer("wrong-token").post(web.url).status_code
    if forged != 401:
        failures.append(f"forged signature answered {forged}, expected 401")

    for demo, ticket in opened:
        view = _settle(customers, ticket, _turn_done(0))
        for reply in demo.replies:
            customers.reply(ticket, reply).post(web.url)
            view = _settle(customers, ticket, _turn_done(len(view["replies"]), answered=True))
        _print_conversation(demo, ticket, view)
        failures.extend(_check(demo, ticket, view))

    time.sleep(1)
    if len(customers.view(duplicate_of)["notes"]) != 1:
        failures.append("the duplicate delivery was processed twice")
    print(f"\na sender's retry of a delivery: HTTP {duplicate}, dropped as a duplicate")
    print(f"a webhook with a forged Kustomer signature: HTTP {forged}, refused")
    print()
    if failures:
        print("DEMO FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"demo OK: {len(opened)} tickets on 3 helpdesks ended as expected")
    return 0


def _turn_done(replies_before: int, answered: bool = False):
    """The bot finished a turn: its lifecycle tag is set and, if it is waiting (or was answering the
    customer), its new reply is visible."""

    def done(view: dict) -> bool:
        tags = set(view["tags"])
        if "pd-waiting" in tags or answered and "pd-handed-off" not in tags:
            return len(view["replies"]) > replies_before and bool(tags & set(LIFECYCLE))
        return bool(tags & set(LIFECYCLE))

    return done


def _settle(customers: SandboxCustomers, ticket: OpenedTicket, done) -> dict:
    """Wait for the turn, then until the ticket stops changing: the lifecycle tag is a turn's last write."""
    view = customers.wait_for(ticket, done, timeout=40)
    while True:
        time.sleep(0.5)
        again = customers.view(ticket)
        if again == view:
            return view
        view = again


def _check(demo: DemoTicket, ticket: OpenedTicket, view: dict) -> list[str]:
    where = f"{demo.helpdesk} ticket {ticket.ticket_id}"
    problems = []
    expected_tag = "pd-type-" + demo.expected_type.replace("_", "-")
    if expected_tag not in view["tags"]:
        problems.append(f"{where}: expected {expected_tag}, got {view['tags']}")
    if demo.ends not in view["tags"]:
        problems.append(f"{where}: expected it to end {demo.ends}, got {view['tags']}")
    if demo.ends == "pd-handed-off" and not view["notes"]:
        problems.append(f"{where}: handed off without a note for the agent")
    return problems


def _print_conversation(demo: DemoTicket, ticket: OpenedTicket, view: dict) -> None:
    state = next((tag.removeprefix("pd-") for tag in LIFECYCLE if tag in view["tags"]), "unfinished")
    print(f"\n[{demo.helpdesk} #{view['ticket_id']}] {view['subject']}   ({demo.email})")
    customer_turns = [demo.text, *demo.replies]
    for index, said in enumerate(customer_turns):
        print(_indent("customer", _plain(said)))
        if index < len(view["replies"]):
            print(_indent("policydesk", view["replies"][index]))
    for reply in view["replies"][len(customer_turns) :]:
        print(_indent("policydesk", reply))
    for note in view["notes"]:
        print(_indent("note", note))
    print(f"   tags: {', '.join(view['tags'])}   group: {view['group']}   -> {state}")


def _indent(who: str, text: str) -> str:
    lines = text.strip().splitlines() or [""]
    return f"   {who + ':':<12}{lines[0]}" + "".join(f"\n   {'':<12}{line}" for line in lines[1:])


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text).replace("&#39;", "'")
