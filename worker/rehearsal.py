"""Shadow and draft modes: a policy rehearsed on a real ticket, on the simulation runtime.

A policy in `shadow` or `draft` mode (policies.document.modes) runs on its real tickets with the same engine,
context and guards as a live one, but through worker.simulation.SimulationPort: reads go to the
store's platforms, every write is only recorded, nothing is sent to the customer. Each turn's trace
is kept in Redis beside the conversation (`rehearsals`), so a person can compare what the policy
would have done with what the team did; `rehearsal_report` sums them per policy and mode for
`policydesk shadow report`.

- shadow: policydesk writes nothing at all to the ticket, so it stays in the team's queue exactly
  as if policydesk were not there.
- draft: one internal note per turn gives the reply the policy would have sent and the writes it
  would have made (as proposals: none is made), and the ticket is assigned to the hand-off group.
  The note goes through the action ledger like every helpdesk write, so a retried turn posts it once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import redis

from connectors.tools import ToolRegistry
from policies.document.modes import Mode
from policies.engines.runtime import PolicyPort, PolicyState
from worker.actions import TicketActions
from worker.conversation import CONVERSATION_TTL, Conversation
from worker.simulation.port import SimulationPort
from worker.simulation.trace import Trace

EngineStep = Callable[[PolicyPort, PolicyState], PolicyState]
MAX_REHEARSALS = 50  # turns kept per ticket
TOP_REASONS = 3


def rehearsal_key(helpdesk: str, ticket_id: str) -> str:
    return f"pd:rehearsal:{helpdesk}:{ticket_id}"


def rehearse_turn(
    conversation: Conversation,
    mode: Mode,
    step: EngineStep,
    policy: str,
    *,
    registry: ToolRegistry,
    client: redis.Redis,
    engine: str,
    today: date,
    actions: TicketActions | None = None,
) -> PolicyState:
    """One turn of the policy with every write simulated; records the trace, and in draft mode
    posts the note through `actions` (the only helpdesk writes a rehearsal makes)."""
    saved = PolicyState.from_dict(conversation.policy)
    trace = Trace(policy=policy, engine=engine, reads_from="the store's platforms, read-only")
    port = SimulationPort(registry, conversation, trace, today, policy_id=policy)
    state = step(port, saved)
    turn = len(conversation.seen_messages)
    if state.status == "waiting":
        port.wait_for_customer(f"wait-{turn}")
    elif state.status == "active":
        state.status = "handed_off"
        conversation.handoff_reason = "the policy stopped without reaching an outcome"
    conversation.policy = state.to_dict()
    trace.end = {
        "status": state.status,
        "waiting_for": state.waiting_for,
        "outcome": state.outcome,
        "handoff_reason": conversation.handoff_reason if state.status == "handed_off" else None,
    }
    _keep(client, conversation, mode, turn, trace)
    if mode == "draft" and actions is not None:
        actions.note(f"draft-{turn}", draft_note(trace, state))
        actions.assign_to_humans(f"draft-{turn}")
    return state


def draft_note(trace: Trace, state: PolicyState) -> str:
    """What the agent reads: the reply to send or edit, the writes to make by hand if they agree."""
    lines = [f"policydesk draft (policy {trace.policy}, draft mode): nothing was sent or changed"]
    replies = trace.replies
    lines.append("Suggested reply:" if replies else "Suggested reply: none this turn")
    lines.extend(f"  {line}" for text in replies for line in text.splitlines())
    if trace.would_writes:
        lines.append("Proposed changes (not made):")
        lines.extend(f"  - @{w['tool']}({_arguments(w['args'])})" for w in trace.would_writes)
    for refused in trace.refused:
        lines.append(f"Refused by the guards: @{refused['tool']}: {refused['reason']}")
    lines.append(f"The policy would now be: {_status(state)}")
    return "\n".join(lines)


def rehearsals(client: redis.Redis, helpdesk: str, ticket_id: str) -> list[dict[str, Any]]:
    """Every rehearsed turn of a ticket, oldest first: {mode, turn, trace}."""
    return [json.loads(raw) for raw in client.lrange(rehearsal_key(helpdesk, ticket_id), 0, -1)]


@dataclass
class RehearsalSummary:
    """What one policy in one mode would have done on the tickets it rehearsed on."""

    policy: str
    mode: str
    tickets: int = 0
    ends: Counter[str] = field(default_factory=Counter)  # resolved / waiting / handed_off, last turn
    reasons: Counter[str] = field(default_factory=Counter)  # why the hand-offs
    writes: Counter[str] = field(default_factory=Counter)  # would-be writes by tool

    def count(self, status: str) -> int:
        return self.ends.get(status, 0)


def rehearsal_report(client: redis.Redis) -> list[RehearsalSummary]:
    """Every rehearsed ticket kept in Redis, summed per policy and mode, in policy order."""
    summaries: dict[tuple[str, str], RehearsalSummary] = {}
    for key in client.scan_iter(match=rehearsal_key("*", "*"), count=500):
        turns = [json.loads(raw) for raw in client.lrange(key, 0, -1)]
        if not turns:
            continue
        first, last = turns[0], turns[-1]
        policy, mode = str(first["trace"].get("policy") or "?"), str(first.get("mode") or "?")
        summary = summaries.setdefault((policy, mode), RehearsalSummary(policy, mode))
        summary.tickets += 1
        end = last["trace"].get("end") or {}
        summary.ends[str(end.get("status") or "unknown")] += 1
        if end.get("handoff_reason"):
            summary.reasons[str(end["handoff_reason"])] += 1
        for turn in turns:
            for event in turn["trace"].get("events") or []:
                if event.get("kind") == "would_write":
                    summary.writes[str(event.get("tool"))] += 1
    return [summaries[key] for key in sorted(summaries)]


def report_text(summaries: list[RehearsalSummary]) -> str:
    """The table `policydesk shadow report` prints."""
    if not summaries:
        return "no shadow or draft rehearsals recorded yet"
    lines = [f"{'POLICY':<44} {'MODE':<7} {'TICKETS':>7} {'RESOLVE':>8} {'ASK':>5} {'HAND OFF':>9}"]
    for s in summaries:
        lines.append(
            f"{s.policy:<44} {s.mode:<7} {s.tickets:>7} {s.count('resolved'):>8} "
            f"{s.count('waiting'):>5} {s.count('handed_off'):>9}"
        )
        for reason, times in s.reasons.most_common(TOP_REASONS):
            lines.append(f"    hand-off x{times}: {reason}")
        for tool, times in s.writes.most_common():
            lines.append(f"    would write x{times}: @{tool}")
    return "\n".join(lines)


def _keep(client: redis.Redis, conversation: Conversation, mode: str, turn: int, trace: Trace) -> None:
    key = rehearsal_key(conversation.helpdesk, conversation.ticket_id)
    entry = json.dumps({"mode": mode, "turn": turn, "trace": trace.to_dict()}, default=str)
    pipe = client.pipeline()
    pipe.rpush(key, entry)
    pipe.ltrim(key, -MAX_REHEARSALS, -1)
    pipe.expire(key, CONVERSATION_TTL)
    pipe.execute()


def _arguments(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in args.items())


def _status(state: PolicyState) -> str:
    if state.status == "waiting":
        return f"waiting for the customer's answer ({state.waiting_for or 'a reply'})"
    if state.status == "resolved":
        return "resolved"
    return "handed to a person"
