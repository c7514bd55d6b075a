"""The test screen's conversation: a policy tried on the simulation runtime, replayed from the start.

Every request replays the whole conversation (the customer's messages so far) on a fresh Simulation,
so the web process keeps no state between requests and any web worker can answer the next one. The
simulation reads from the platforms this deployment is configured with (in the demo and the tests,
the sandbox) and writes nothing anywhere: writes are recorded in the trace (worker.simulation).

With no policy chosen, the first message is routed the way a new ticket would be: classified, then
the library's policy for that type and helpdesk, or a person and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from policies.document import PolicyDocument, PolicyLibrary
from policies.engines.router import built_in_library, route
from policies.understanding.classifier import LocalClassifier
from policydesk.simulation.session import Simulation, SimulationError
from studio.catalog import Catalog, registry
from worker.settings import load_settings
from worker.simulation.port import HELPDESKS

__all__ = ["HELPDESKS", "Trial", "TrialResult", "run_trial", "sandbox_customers"]

MAX_TURNS = 20
MAX_MESSAGE_CHARS = 4000


def sandbox_customers() -> list[dict[str, Any]]:
    """The seeded world's customers, when the sandbox is installed (a deployment may not ship it)."""
    try:
        from sandbox import world
    except ImportError:
        return []
    return [
        {"id": c.id, "name": c.name, "email": c.email, "first_name": c.first_name}
        for c in world.load().customers
    ]


@dataclass
class Trial:
    policy: str  # a policy id, or "" to route the first message as a new ticket would be
    helpdesk: str
    context_text: str = ""  # YAML (or JSON) of $customer, $ticket, $facts, $brand, today
    customer_id: int | None = None
    use_draft: bool = False
    messages: list[str] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        loaded = yaml.safe_load(self.context_text) if self.context_text.strip() else {}
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, Mapping):
            raise SimulationError("the context is a mapping: customer:, ticket:, facts:, brand:, today:")
        context = {key: dict(value) if isinstance(value, Mapping) else value for key, value in loaded.items()}
        if self.customer_id is not None:
            chosen = next((c for c in sandbox_customers() if c["id"] == self.customer_id), None)
            if chosen is None:
                raise SimulationError(f"no sandbox customer {self.customer_id}")
            customer = context.setdefault("customer", {})
            for key in ("email", "name", "first_name"):
                customer.setdefault(key, chosen[key])
        return context


@dataclass
class TrialResult:
    policy: str | None
    routing: str  # how the policy was chosen, in words
    chat: list[dict[str, str]]
    events: list[dict[str, Any]]
    end: dict[str, Any]
    ticket_type: str | None = None
    error: str | None = None

    @property
    def would_writes(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == "would_write"]


def _library(found: Catalog, draft: PolicyDocument | None) -> PolicyLibrary:
    docs = [entry.doc for entry in found.entries.values()]
    if draft is not None:
        docs = [draft, *(d for d in docs if d.id != draft.id)]
    return PolicyLibrary(docs, built_in_library().replies)


def _route(trial: Trial, library: PolicyLibrary) -> tuple[str | None, str, str | None]:
    if trial.policy:
        return trial.policy, "chosen", None
    if not trial.messages:
        return None, "routed as a new ticket would be", None
    classification = LocalClassifier().classify(trial.messages[0], "")
    threshold = load_settings().min_confidence
    said = f"classified {classification.label} at {classification.confidence:.2f}"
    if classification.confidence < threshold:
        return None, f"{said}, below the {threshold:.2f} threshold: a person answers", classification.label
    if classification.label == "other":
        return None, f"{said}: no policy resolves this type, a person answers", classification.label
    decision = route(classification.label, trial.helpdesk, library)
    if decision.policy is None:
        return None, f"{said}: {decision.reason}", classification.label
    return decision.policy.id, f"{said}, routed to {decision.policy.id}", classification.label


def run_trial(
    trial: Trial, found: Catalog, draft: PolicyDocument | None, env: Mapping[str, str] = os.environ
) -> TrialResult:
    library = _library(found, draft if trial.use_draft else None)
    policy, routing, label = _route(trial, library)
    messages = [m[:MAX_MESSAGE_CHARS] for m in trial.messages if m.strip()][:MAX_TURNS]
    if policy is None:
        chat = [{"role": "customer", "text": m} for m in messages]
        return TrialResult(None, routing, chat, [], {"status": "handed_off" if messages else "new"}, label)
    try:
        simulation = Simulation(
            policy,
            context=trial.context(),
            helpdesk=trial.helpdesk,
            live_reads=True,
            env=env,
            library=library,
            registry=registry(),
        )
        for message in messages:
            simulation.say(message)
    except (SimulationError, yaml.YAMLError) as exc:
        return TrialResult(policy, routing, [], [], {}, label, error=str(exc))
    events = [json.loads(json.dumps(e.to_dict(), default=str)) for e in simulation.trace.events]
    chat = [
        {"role": "customer" if e["kind"] == "customer" else "bot", "text": str(e.get("text") or "")}
        for e in events
        if e["kind"] in ("customer", "reply")
    ]
    end = dict(simulation.trace.end) if messages else {"status": "new"}
    return TrialResult(policy, routing, chat, events, end, label or simulation.conversation.ticket_type)
