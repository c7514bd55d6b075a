"""`policydesk demo`: the whole stack on one machine, driven by realistic webhooks, checked end to end.

It starts the embedded Redis, the sandbox, gunicorn and a Celery worker, opens tickets of every type on
all three helpdesks, sends the webhooks each helpdesk would send (plus a duplicate delivery and a forged
signature), then reads every ticket back from the sandbox and prints what policydesk did to it.
Exit status 0 only if every ticket ended as expected.
"""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from connectors.sandbox.server import SandboxServer
from policydesk.customers import OpenedTicket, SandboxCustomers
from policydesk.stack import WebProcess, WorkerProcess
from worker import embedded_redis

EMAIL = "jane.doe@example.com"


@dataclass(frozen=True)
class DemoTicket:
    helpdesk: str
    expected_type: str
    subject: str
    text: str


DEMO_TICKETS = [
    DemoTicket(
        "salesforce",
        "wismo",
        "Where is my order?",
        "Hi, order #10452 was due on Monday and still hasn't shown up. Can you tell me where it is?",
    ),
    DemoTicket(
        "salesforce", "cancellation", "Cancel my order", "Please cancel order #20391, I ordered it twice."
    ),
    DemoTicket(
        "kustomer",
        "replacement",
        "Damaged item",
        "My ceramic bowl arrived cracked. Could you send a replacement?",
    ),
    DemoTicket(
        "kustomer",
        "skip_shipment",
        "Skip next box",
        "I'm away next month, please skip my next subscription delivery.",
    ),
    DemoTicket(
        "freshdesk",
        "wismo",
        "Tracking",
        "<p>hi team, when will i get my order&#39;s delivery? order no 5531</p>",
    ),
    DemoTicket("freshdesk", "other", "Gift cards", "Do you sell gift cards I can send by email?"),
]


def run_demo(keep: bool = False) -> int:
    folder = Path(".policydesk/demo").resolve()
    shutil.rmtree(folder, ignore_errors=True)
    print("policydesk demo: embedded Redis, sandbox, web (gunicorn) and worker (Celery) on this machine\n")
    redis_url = embedded_redis.ensure_running(folder / "redis")
    sandbox = SandboxServer(cert_dir=folder / "tls").start()
    env = {
        "REDIS_URL": redis_url,
        "POLICYDESK_DATA_DIR": str(folder),
        "KUSTOMER_WEBHOOK_SECRET": secrets.token_hex(16),
        "FRESHDESK_WEBHOOK_USER": "policydesk",
        "FRESHDESK_WEBHOOK_PASSWORD": secrets.token_hex(16),
        "SALESFORCE_ORG_ID": "00D5g000004AbCdEAF",
        **sandbox.env(),
    }
    web = worker = None
    try:
        web = WebProcess(env, log_dir=folder / "logs").start()
        worker = WorkerProcess(env, log_dir=folder / "logs").start()
        return _play(SandboxCustomers(sandbox.url, str(sandbox.cert), env), web)
    finally:
        for process in (worker, web):
            if process:
                process.stop()
        sandbox.stop()
        embedded_redis.stop(folder / "redis")
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"\nlogs and data kept in {folder}")


def _play(customers: SandboxCustomers, web: WebProcess) -> int:
    failures: list[str] = []
    opened: list[tuple[DemoTicket, OpenedTicket]] = []
    for demo in DEMO_TICKETS:
        ticket = customers.open_ticket(demo.helpdesk, demo.subject, demo.text, EMAIL, "Jane Doe")
        for delivery in ticket.deliveries:
            status = delivery.post(web.url).status_code
            print(f"-> {demo.helpdesk:<10} webhook for ticket {ticket.ticket_id}: HTTP {status}")
        opened.append((demo, ticket))

    duplicate_of = opened[0][1]
    status = duplicate_of.deliveries[0].post(web.url).status_code
    print(f"-> {duplicate_of.helpdesk:<10} same delivery again (a sender's retry): HTTP {status}")

    forged = opened[2][1].deliveries[0].signed_kustomer("wrong-token")
    status = forged.post(web.url).status_code
    print(f"-> kustomer   webhook with a forged signature: HTTP {status}")
    if status != 401:
        failures.append(f"forged signature answered {status}, expected 401")

    print("\nwhat happened to each ticket (read back from the sandbox):")
    for demo, ticket in opened:
        view = customers.wait_for(ticket, lambda v: "pd-handed-off" in v["tags"], timeout=30)
        _print_ticket(demo, view)
        expected_tag = "pd-type-" + demo.expected_type.replace("_", "-")
        if expected_tag not in view["tags"]:
            failures.append(
                f"{demo.helpdesk} ticket {ticket.ticket_id}: expected {expected_tag}, got {view['tags']}"
            )
        if len(view["notes"]) != 1:
            failures.append(
                f"{demo.helpdesk} ticket {ticket.ticket_id}: {len(view['notes'])} notes, expected 1"
            )
    time.sleep(1)
    if len(customers.view(duplicate_of)["notes"]) != 1:
        failures.append("the duplicate delivery was processed twice")

    print()
    if failures:
        print("DEMO FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(
        f"demo OK: {len(opened)} tickets triaged on 3 helpdesks, duplicate dropped, forged signature refused"
    )
    return 0


def _print_ticket(demo: DemoTicket, view: dict) -> None:
    print(f"\n[{demo.helpdesk} #{view['ticket_id']}] {view['subject']}")
    print(f"   tags:  {', '.join(view['tags'])}")
    print(f"   group: {view['group']}   status: {view['status']}")
    for note in view["notes"]:
        print("   note:  " + note.replace("\n", "\n          "))
