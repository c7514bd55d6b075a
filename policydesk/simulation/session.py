"""One simulated conversation: the customer's turns through the worker's engines, on SimulationPort.

It builds the policy's context the way the worker does for a new ticket (worker.pipeline's
`flow_context` and `known_facts`, the local classifier's facts such as an order number, the offer
variant), then lets the customer speak turn by turn. After each turn it does what the worker does
with the engine's state: a waiting policy marks the ticket pending, a policy that stopped without an
outcome hands off, a message after the end goes to a person. Everything lands in the Trace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from connectors.models import Ticket
from connectors.tools import ToolRegistry, load_all_tools
from policies.document.library import PolicyLibrary
from policies.document.loader import PolicyDocument, read_policy
from policies.document.variants import variant_for
from policies.engines.engine import PolicyEngine
from policies.engines.router import default_library
from policies.engines.runtime import PolicyState
from policies.understanding.classifier import Classifier, LocalClassifier
from worker.conversation import Conversation
from worker.events import TicketEvent
from worker.notes import triage_note
from worker.pipeline import flow_context, known_facts
from worker.simulation.port import HELPDESKS, SimulationPort
from worker.simulation.trace import Trace, TraceEvent

TICKET_ID = "SIMULATED-1"
CONTEXT_ROOTS = ("customer", "ticket", "brand", "facts")


class SimulationError(ValueError):
    """The simulation cannot start: an unknown policy, a bad context. The message says what to fix."""


def find_policy(reference: str, library: PolicyLibrary | None = None) -> tuple[PolicyDocument, PolicyLibrary]:
    """A policy of the library by id or title, or a policy file (tried with the library beside it,
    so its `#Other Policy` jumps resolve)."""
    library = library or default_library()
    path = Path(reference)
    if path.suffix == ".md" and path.is_file():
        doc = read_policy(path)
        if not doc.ok:
            problems = "; ".join(p.message for p in doc.problems if p.severity == "error")
            raise SimulationError(f"{reference} is not a valid policy: {problems}")
        others = [d for d in library if d.id != doc.id]
        return doc, PolicyLibrary([doc, *others])
    found = library.find(reference)
    if found is None:
        known = ", ".join(sorted(d.id for d in library if d.id))
        raise SimulationError(f"unknown policy {reference!r}; the library has: {known}")
    return found, library


def parse_context(pairs: list[str], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`customer.email=jane@example.com` pairs over a base context (a context file's content)."""
    context: dict[str, Any] = {root: dict((base or {}).get(root) or {}) for root in CONTEXT_ROOTS}
    if base and base.get("today"):
        context["today"] = base["today"]
    for pair in pairs:
        name, sep, value = pair.partition("=")
        root, dot, key = name.strip().partition(".")
        if root == "today" and sep and not dot:
            context["today"] = value.strip()
            continue
        if not sep or not dot or root not in CONTEXT_ROOTS or not key:
            raise SimulationError(
                f"--context {pair!r}: expected ROOT.KEY=VALUE with ROOT one of {', '.join(CONTEXT_ROOTS)}, "
                "or today=YYYY-MM-DD"
            )
        context[root][key] = value
    if context.get("today"):
        try:
            context["today"] = date.fromisoformat(str(context["today"]))
        except ValueError as exc:
            raise SimulationError(f"today {context['today']!r} is not a date (YYYY-MM-DD)") from exc
    return context


class Simulation:
    """A conversation with one policy, every write simulated. `say` plays one customer turn."""

    def __init__(
        self,
        policy: str,
        *,
        context: Mapping[str, Any] | None = None,
        helpdesk: str | None = None,
        live_reads: bool = False,
        env: Mapping[str, str] = os.environ,
        library: PolicyLibrary | None = None,
        registry: ToolRegistry | None = None,
        classifier: Classifier | None = None,
        variant: str | None = None,
    ):
        self.doc, self.library = find_policy(policy, library)
        self.variant = variant
        self.classifier = classifier or LocalClassifier()
        self.given = parse_context([], context) if context is not None else parse_context([])
        helpdesk = helpdesk or self.given["ticket"].get("helpdesk") or (self.doc.helpdesks or ["kustomer"])[0]
        if helpdesk not in HELPDESKS:
            raise SimulationError(f"unknown helpdesk {helpdesk!r}; one of {', '.join(HELPDESKS)}")
        self.helpdesk = helpdesk
        self.registry = registry or load_all_tools()
        self.engine = PolicyEngine(self.library, self.registry, env=env)
        engine = self.engine.choose(self.doc.id)
        self.trace = Trace(
            policy=self.doc.id,
            engine=engine or "none (the policy needs ANTHROPIC_API_KEY)",
            reads_from="the store's platforms, read-only" if live_reads else "the sandbox",
        )
        ticket_id = str(self.given["ticket"].get("id") or TICKET_ID)
        self.conversation = Conversation(helpdesk=helpdesk, ticket_id=ticket_id)
        self.today: date = self.given.get("today") or date.today()
        self.port = SimulationPort(
            self.registry,
            self.conversation,
            self.trace,
            self.today,
            policy_id=self.doc.id,
        )
        self.state: PolicyState | None = None
        self.turns = 0

    @property
    def state_name(self) -> str:
        """waiting, resolved or handed_off once a turn has run (the ticket's lifecycle)."""
        return self.state.status if self.state is not None else "not started"

    @property
    def finished(self) -> bool:
        return self.state is not None and self.state.finished

    def say(self, text: str) -> list[TraceEvent]:
        """One customer message; returns the events it caused (the trace keeps them all)."""
        first = len(self.trace.events)
        self.turns += 1
        self.trace.add("customer", f"turn-{self.turns}", text=text)
        self.conversation.note_turn("customer", text)
        if self.state is None:
            self.state = self._open(text)
        elif self.state.finished:
            self._triage("the customer wrote again after the policy had finished")
        else:
            self.state = self.engine.resume(self.state, text, self.conversation.context, self.port)
        self._after_turn()
        return self.trace.events[first:]

    def _open(self, text: str) -> PolicyState:
        subject = str(self.given["ticket"].get("subject") or "")
        customer = self.given["customer"]
        event = TicketEvent(
            helpdesk=self.helpdesk,
            ticket_id=self.conversation.ticket_id,
            kind="created",
            subject=subject,
            text=text,
            requester_email=customer.get("email") or None,
            requester_name=customer.get("name") or None,
        )
        # the simulated helpdesk's own record of the requester (the worker reads it from the API)
        ticket = Ticket(
            helpdesk=self.helpdesk,
            id=event.ticket_id,
            subject=subject,
            description=text,
            requester_email=customer.get("email") or None,
            requester_name=customer.get("name") or None,
        )
        classification = self.classifier.classify(text, subject)
        self.conversation.ticket_type = classification.label
        self.conversation.confidence = round(classification.confidence, 3)
        self.conversation.facts = known_facts(ticket, classification)
        context = flow_context(event, ticket, subject, text, self.conversation.facts)
        for root in CONTEXT_ROOTS:
            context[root] = {**context[root], **self.given[root]}
        context["variant"] = self.variant or variant_for(self.doc, self.helpdesk, self.conversation.ticket_id)
        context["today"] = self.today
        self.conversation.context = context
        return self.engine.start(None, self.doc.id, context, self.port)

    def _after_turn(self) -> None:
        """What worker.pipeline does with the state after a turn, captured instead of done."""
        state = self.state
        if state is not None and state.status == "waiting":
            self.port.wait_for_customer(f"wait-{self.turns}")
        elif state is not None and state.status == "active":
            self._triage("the policy stopped without reaching an outcome")
            state.status = "handed_off"
        self.trace.end = self.end_state()

    def _triage(self, reason: str) -> None:
        self.conversation.handoff_reason = reason
        self.port.handed_off(f"handoff-{self.turns}", triage_note(self.conversation, reason))

    def end_state(self) -> dict[str, Any]:
        state = self.state or PolicyState()
        return {
            "status": state.status,
            "outcome": state.outcome,
            "waiting_for": state.waiting_for,
            "policy_stack": state.policy_stack,
            "step": state.cursor,
            "handoff_reason": self.conversation.handoff_reason,
            "would_writes": len(self.trace.would_writes),
            "refused_writes": len(self.trace.refused),
        }
