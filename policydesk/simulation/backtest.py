"""`policydesk backtest`: what policydesk would have done with tickets it never saw.

The tickets come from a JSON-lines export (one object a line: `text`, and optionally `id`,
`subject`, `email`, `name`, `helpdesk`), or are read from the configured helpdesk's API: the tickets
created in a date range (`Helpdesk.tickets_created`), each read back as the worker reads a ticket
(`get_ticket`: its subject, its first message and the requester the helpdesk has on record). Reading
them is all that is done with the helpdesk: nothing is written to it. Each ticket is classified
and routed the way the worker does it (worker.pipeline.policy_for, with CLASSIFIER_MIN_CONFIDENCE),
then its first turn is simulated on the simulation runtime: every
write recorded, nothing sent. The report gives the ticket type mix, what each policy would do with
its tickets (resolve, ask the customer, hand off) and every ticket that would go to people, and why.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.helpdesk.base import Helpdesk
from policies.understanding.classifier import LocalClassifier
from policydesk.simulation.session import Simulation, SimulationError
from worker.pipeline import policy_for
from worker.settings import load_settings

TO_PEOPLE = "(to people)"


@dataclass(frozen=True)
class PastTicket:
    id: str
    text: str
    subject: str = ""
    email: str = ""
    name: str = ""
    helpdesk: str = ""


@dataclass
class Verdict:
    """What one ticket's first turn would have come to."""

    ticket: PastTicket
    label: str
    policy: str | None
    status: str  # resolved | waiting | handed_off
    reason: str = ""
    writes: list[str] = field(default_factory=list)


def read_tickets(path: Path) -> list[PastTicket]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SimulationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    tickets = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data: Any = json.loads(line)
        except ValueError as exc:
            raise SimulationError(f"{path}:{number}: not a JSON object ({exc})") from exc
        if not isinstance(data, dict) or not str(data.get("text") or "").strip():
            raise SimulationError(f"{path}:{number}: each line needs a JSON object with a `text`")
        fields = {k: str(data[k]) for k in ("subject", "email", "name", "helpdesk") if data.get(k)}
        tickets.append(PastTicket(id=str(data.get("id") or number), text=str(data["text"]), **fields))
    return tickets


def read_helpdesk(desk: Helpdesk, since: datetime, until: datetime, limit: int) -> list[PastTicket]:
    """The tickets the helpdesk has from the range, oldest first, at most `limit`: reads only."""
    tickets = []
    for ticket_id in desk.tickets_created(since, until, limit):
        ticket = desk.get_ticket(ticket_id)
        if not ticket.description.strip():
            continue  # a ticket an agent opened, with no first message from the customer
        tickets.append(
            PastTicket(
                id=ticket.id,
                text=ticket.description,
                subject=ticket.subject,
                email=ticket.requester_email or "",
                name=ticket.requester_name or "",
                helpdesk=desk.name,
            )
        )
    return tickets


def backtest(tickets: Iterable[PastTicket], *, helpdesk: str, live_reads: bool = False) -> list[Verdict]:
    classifier = LocalClassifier()
    threshold = load_settings().min_confidence
    verdicts = []
    for ticket in tickets:
        desk = ticket.helpdesk or helpdesk
        classification = classifier.classify(ticket.text, ticket.subject)
        policy, reason = policy_for(classification, desk, threshold)
        if policy is None:
            verdicts.append(Verdict(ticket, classification.label, None, "handed_off", reason))
            continue
        context = {
            "customer": {"email": ticket.email, "name": ticket.name},
            "ticket": {"id": f"backtest-{ticket.id}", "subject": ticket.subject},
        }
        simulation = Simulation(
            policy, context=context, helpdesk=desk, live_reads=live_reads, classifier=classifier
        )
        simulation.say(ticket.text)
        end = simulation.trace.end
        writes = [w["tool"] for w in simulation.trace.would_writes]
        reason = str(end.get("handoff_reason") or "") if end.get("status") == "handed_off" else ""
        verdicts.append(Verdict(ticket, classification.label, policy, str(end.get("status")), reason, writes))
    return verdicts


def report_text(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return "no tickets"
    types = Counter(v.label for v in verdicts)
    lines = [f"{len(verdicts)} ticket(s); types: " + ", ".join(f"{t} {n}" for t, n in types.most_common())]
    lines.append(f"{'POLICY':<44} {'TICKETS':>7} {'RESOLVE':>8} {'ASK':>5} {'HAND OFF':>9} {'WRITES':>7}")
    for policy in sorted({v.policy or TO_PEOPLE for v in verdicts}):
        mine = [v for v in verdicts if (v.policy or TO_PEOPLE) == policy]
        ends = Counter(v.status for v in mine)
        writes = sum(len(v.writes) for v in mine)
        lines.append(
            f"{policy:<44} {len(mine):>7} {ends['resolved']:>8} {ends['waiting']:>5} "
            f"{ends['handed_off']:>9} {writes:>7}"
        )
    people = [v for v in verdicts if v.status == "handed_off"]
    if people:
        lines.append("to people:")
        lines.extend(f"  {v.ticket.id} ({v.label}, {v.policy or 'no policy'}): {v.reason}" for v in people)
    return "\n".join(lines)
