"""API calls per conversation turn, against the floor: `python bench/api_calls.py`.

Starts the whole stack (embedded Redis, the sandbox, gunicorn, one Celery worker process), plays a
fixed set of conversations of every type on every helpdesk (files of tests/conversation_suite/), one
at a time, and counts every request each platform received during each turn at the sandbox. A turn is
what happens between the customer's webhook and the ticket settling (no request for a second). Per
helpdesk and kind of turn it prints the helpdesk calls made, the floor (docs/api-budget.md: what the
vendor's API needs at the least for what that turn did), and their ratio; then the other platforms'
calls, and, with every platform answer delayed (`--latency-ms`, 150 by default), each kind's turn
latency against (calls made one after another x the delay) + 100 ms.

Kinds of turn, from what the turn did: `triage` (a new ticket sent to people with the triage note),
`question` (the bot asked and waits), `answer` (resolved with no store write), `answer+write`
(resolved with a store write), `hand-off` (a policy handed the ticket to a person). Two first
conversations per helpdesk warm the worker's once-per-process reads (our own API user, Salesforce's
login, Kustomer's tag list and the tags it creates once per org) and is not counted: the figures
are per turn in a running worker.

    --latency-ms N   delay every platform answer by N ms (0: counts only, no latency figures)
    --json PATH      also write every turn's figures as JSON
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.helpdesk import HELPDESKS  # noqa: E402
from policydesk import conversation_suite as suite  # noqa: E402
from policydesk.customers import OpenedTicket, SandboxCustomers  # noqa: E402
from policydesk.stack import local_stack  # noqa: E402

WARM_UP = {  # a triage and a resolved ticket: the tags every later turn sets exist from here on
    "freshdesk": ("d-other-wholesale-fre", "d-wismo-pickup-point-fre"),
    "kustomer": ("d-other-exchange-size-kus", "d-wismo-awaiting-shipment-kus"),
    "salesforce": ("d-other-ship-canada-sf", "d-wismo-awaiting-shipment-sf"),
}
CONVERSATIONS = (
    # Freshdesk
    "d-other-promo-code-fre",
    "d-wismo-processing-fre",
    "d-wismo-three-orders-position-fre",
    "d-skip-one-yep-fre",
    "d-repl-partial-teapot-and-mug-fre",
    "d-wismo-lost-fre",
    "d-wismo-person-opener-fre",
    # Kustomer
    "d-other-gift-cards-kus",
    "d-wismo-transit-kus",
    "d-wismo-both-orders-kus",
    "d-skip-one-plain-kus",
    "d-cancel-plain-kus",
    "d-repl-partial-one-mug-kus",
    "d-wismo-person-later-kus",
    # Salesforce
    "d-other-invoice-sf",
    "d-wismo-transit-sf",
    "d-wismo-two-orders-item-name-sf",
    "d-skip-one-sf",
    "d-cancel-retention-accept-sf",
    "d-repl-lost-reship-sf",
    "d-repl-whole-crack-sf",
)
KINDS = ("triage", "question", "answer", "answer+write", "hand-off")
QUIET = 1.0  # seconds without a platform request: the turn is over
POSTS = {  # a write that puts a message on the ticket: (method, path fragment)
    "freshdesk": (("POST", "/reply"), ("POST", "/notes")),
    "kustomer": (("POST", "/drafts"), ("POST", "/notes")),
    "salesforce": (("POST", "emailSimple"), ("POST", "/sobjects/CaseComment")),
}


@dataclass
class Turn:
    conversation: str
    helpdesk: str
    number: int
    kind: str
    calls: int  # requests to the helpdesk
    floor: int
    other_calls: int  # requests to every other platform (stores, trackers)
    methods: dict[str, int]
    latency_ms: float | None
    sequential: int | None  # requests made one after another until the reply (or note) was posted


def floor_of(helpdesk: str, number: int, replies: int, notes: int) -> int:
    """The fewest helpdesk calls a turn that posted these messages needs (docs/api-budget.md)."""
    if helpdesk == "freshdesk":
        reads = 1  # GET tickets/{id}?include=requester,conversations
        return reads + replies + notes + 1  # one PUT: tags, status and group together
    if helpdesk == "kustomer":
        reads = 3 if number == 0 else 2  # conversation, its messages (+ the customer, once)
        return reads + replies + notes + 1  # one PATCH: tags, status, snooze and team together
    reads = 1  # one composite request: the Case with its incoming EmailMessages
    return reads + replies + 1  # emailSimple per reply; the note and the Case update: one composite


class Counter:
    """Reads the sandbox's request log; one turn is the requests from a mark until it falls quiet."""

    def __init__(self, customers: SandboxCustomers):
        self.customers = customers
        self.mark = 0
        self.writes_mark = 0
        self.started = 0.0

    def total(self) -> int:
        return self._requests(self.mark)["total"]

    def begin(self) -> None:
        self.mark = self._quiet_total()
        self.writes_mark = len(self.customers.writes())
        self.started = time.time()

    def end(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        self._quiet_total()
        rows = self._requests(self.mark)["requests"]
        return rows, self.customers.writes()[self.writes_mark :]

    def _quiet_total(self) -> int:
        last, since = self._requests(0)["total"], time.monotonic()
        while time.monotonic() - since < QUIET:
            time.sleep(0.2)
            now = self._requests(0)["total"]
            if now != last:
                last, since = now, time.monotonic()
        return last

    def _requests(self, since: int) -> dict[str, Any]:
        response = self.customers.http.get(
            f"{self.customers.url}/_sandbox/requests", params={"since": since}, timeout=10
        )
        response.raise_for_status()
        return response.json()


def kind_of(number: int, view: dict[str, Any], new_notes: list[str], store_writes: int) -> str:
    state = suite.state_of(view)
    if state == "handed_off":
        triaged = number == 0 and any(n.startswith(suite.TRIAGE_NOTE) for n in new_notes)
        return "triage" if triaged else "hand-off"
    if state == "waiting":
        return "question"
    if state == "resolved":
        return "answer+write" if store_writes else "answer"
    return state


def is_post(helpdesk: str, row: dict[str, Any]) -> bool:
    return any(row["method"] == m and part in row["path"] for m, part in POSTS[helpdesk])


def sequential_until(rows: list[dict[str, Any]], until: float, delay: float) -> int:
    """Requests one after another up to `until`: a request that started while the previous level was
    still waiting for its answer ran beside it, not after it."""
    levels, level_start = 0, None
    for row in sorted(rows, key=lambda r: r["at"]):
        if row["at"] > until:
            break
        if level_start is None or row["at"] >= level_start + delay * 0.8:
            levels, level_start = levels + 1, row["at"]
    return levels


def measure(
    counter: Counter,
    conversation: suite.Conversation,
    customers: SandboxCustomers,
    web_url: str,
    delay: float,
) -> list[Turn]:
    turns: list[Turn] = []
    views: dict[int, dict[str, Any]] = {}
    posted_at: dict[int, float] = {}

    def before(number: int, ticket: OpenedTicket) -> None:
        counter.begin()
        views[number] = customers.view(ticket)
        posted_at[number] = time.time()

    def after(number: int, ticket: OpenedTicket) -> None:
        rows, writes = counter.end()
        view = customers.wait_for(ticket, lambda _: True)  # Kustomer sends a scheduled reply at its time
        helpdesk = conversation.helpdesk
        desk_rows = [r for r in rows if r["platform"] == helpdesk]
        earlier = views.get(number) or {}
        new_replies = view.get("replies", [])[len(earlier.get("replies", [])) :]
        new_notes = view.get("notes", [])[len(earlier.get("notes", [])) :]
        store_writes = sum(1 for w in writes if w["platform"] in suite.STORE_PLATFORMS and "fault" not in w)
        methods: dict[str, int] = defaultdict(int)
        for row in desk_rows:
            methods[row["method"]] += 1
        latency = sequential = None
        first_post = next((r for r in sorted(desk_rows, key=lambda r: r["at"]) if is_post(helpdesk, r)), None)
        if delay and first_post is not None:
            answered = first_post["at"] + delay
            latency = (answered - posted_at[number]) * 1000
            sequential = sequential_until(rows, first_post["at"], delay)
        turns.append(
            Turn(
                conversation=conversation.id,
                helpdesk=helpdesk,
                number=number,
                kind=kind_of(number, view, new_notes, store_writes),
                calls=len(desk_rows),
                floor=floor_of(helpdesk, number, len(new_replies), len(new_notes)),
                other_calls=len(rows) - len(desk_rows),
                methods=dict(methods),
                latency_ms=latency,
                sequential=sequential,
            )
        )

    played = suite.play_one(customers, web_url, conversation, before_turn=before, after_turn=after)
    if played.error:
        print(f"  {conversation.id}: {played.error}", file=sys.stderr)
    return turns


def report(turns: list[Turn], delay: float) -> str:
    lines = [
        f"{'helpdesk':<11} {'kind':<13} {'turns':>5} {'calls/turn':>10} {'floor/turn':>10} {'ratio':>6}"
        f" {'GET':>5} {'POST':>5} {'PUT/PATCH':>9} {'other/turn':>10}",
        "-" * 92,
    ]
    overall: dict[str, list[Turn]] = defaultdict(list)
    for helpdesk in HELPDESKS:
        for kind in KINDS:
            group = [t for t in turns if t.helpdesk == helpdesk and t.kind == kind]
            if not group:
                continue
            overall[helpdesk].extend(group)
            lines.append(_row(helpdesk, kind, group))
    lines.append("-" * 92)
    for helpdesk, group in overall.items():
        lines.append(_row(helpdesk, "all", group))
    unplaced = [t for t in turns if t.kind not in KINDS]
    if unplaced:
        lines.append(
            f"turns of no kind (not counted above): {[(t.conversation, t.number, t.kind) for t in unplaced]}"
        )
    if delay:
        lines += ["", _latency_table(turns, delay)]
    return "\n".join(lines)


def _row(helpdesk: str, kind: str, group: list[Turn]) -> str:
    n = len(group)
    calls, floor = sum(t.calls for t in group), sum(t.floor for t in group)
    get = sum(t.methods.get("GET", 0) for t in group)
    post = sum(t.methods.get("POST", 0) for t in group)
    put = sum(t.methods.get("PUT", 0) + t.methods.get("PATCH", 0) for t in group)
    other = sum(t.other_calls for t in group)
    return (
        f"{helpdesk:<11} {kind:<13} {n:>5} {calls / n:>10.1f} {floor / n:>10.1f} {calls / floor:>6.2f}"
        f" {get / n:>5.1f} {post / n:>5.1f} {put / n:>9.1f} {other / n:>10.1f}"
    )


def _latency_table(turns: list[Turn], delay: float) -> str:
    lines = [
        f"latency, every platform answer delayed {delay * 1000:.0f} ms: webhook to first reply or note",
        f"{'helpdesk':<11} {'kind':<13} {'turns':>5} {'ms':>7} {'sequential':>10} {'bound ms':>9}"
        f" {'ratio':>6}",
    ]
    for helpdesk in HELPDESKS:
        for kind in KINDS:
            group = [
                t for t in turns if t.helpdesk == helpdesk and t.kind == kind and t.latency_ms is not None
            ]
            if not group:
                continue
            n = len(group)
            ms = sum(t.latency_ms or 0 for t in group) / n
            seq = sum(t.sequential or 0 for t in group) / n
            bound = seq * delay * 1000 + 100
            lines.append(
                f"{helpdesk:<11} {kind:<13} {n:>5} {ms:>7.0f} {seq:>10.1f} {bound:>9.0f} {ms / bound:>6.2f}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    delay = max(0.0, args.latency_ms) / 1000
    every = {c.id: c for c in suite.load(sets=("dev",))}
    folder = Path(".policydesk/bench-api-calls").resolve()
    shutil.rmtree(folder, ignore_errors=True)
    offline = {"ANTHROPIC_API_KEY": "", "KUSTOMER_SEND_DELAY_SECONDS": "1"}
    turns: list[Turn] = []
    with local_stack(folder, env=offline, workers=1) as stack:
        customers = stack.customers
        control = f"{customers.url}/_sandbox"
        customers.http.post(f"{control}/latency", json={"seconds": delay}, timeout=10).raise_for_status()
        counter = Counter(customers)
        for helpdesk in HELPDESKS:
            for name in WARM_UP[helpdesk]:
                suite.play_one(customers, stack.web.url, every[name])
        for name in CONVERSATIONS:  # no two share a customer, so the world needs no reset between them
            found = measure(counter, every[name], customers, stack.web.url, delay)
            turns.extend(found)
            print(f"  {name}: " + ", ".join(f"{t.kind} {t.calls}/{t.floor}" for t in found), file=sys.stderr)
    print(report(turns, delay))
    if args.json:
        args.json.write_text(json.dumps([asdict(t) for t in turns], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
