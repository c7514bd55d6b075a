"""The trace as the terminal shows it: the bot's replies first, then beneath them what happened."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from policies.engines.flow import FALL_THROUGH
from worker.simulation.trace import TraceEvent

MAX_VALUE = 100
INDENT = "    "


def turn_text(events: Iterable[TraceEvent], policy: str = "") -> str:
    """One customer turn: each reply the customer would get, then the turn's trace lines. Steps of
    `policy` itself are shown without its name; a step of a policy it jumped to keeps that name."""
    events = [event for event in events if event.kind != "customer"]
    lines = [_said("policydesk", str(e.data["text"])) for e in events if e.kind == "reply"]
    lines.append(f"{INDENT}trace:")
    lines.extend(f"{INDENT}  {line}" for event in events for line in event_lines(event, policy))
    return "\n".join(lines)


def event_lines(event: TraceEvent, policy: str = "") -> list[str]:
    data, step = event.data, event.step.removeprefix(f"{policy}/") if policy else event.step
    if event.kind == "step":
        return _step_lines(step, data)
    if event.kind == "read":
        source = " (answered from the context)" if data.get("source") == "context" else ""
        return [f"[{step}] read {_call(data['tool'], data['args'])} -> {_short(data['result'])}{source}"]
    if event.kind == "read_failed":
        return [f"[{step}] read {_call(data['tool'], data['args'])} FAILED: {data['error']}"]
    if event.kind == "guards":
        verdict = f"REFUSED: {data['refused']}" if data.get("refused") else "allowed"
        checks = ", ".join(
            f"{v['guard']} {'holds' if v['holds'] else 'refuses'}" for v in data.get("verdicts") or []
        )
        return [f"[{step}] guards on @{data['tool']}: {checks or 'none'} -> {verdict}"]
    if event.kind == "would_write":
        return [f"[{step}] WOULD {_call(data['tool'], data['args'], full=True)}  (simulated, not sent)"]
    if event.kind == "reply":
        via = f" via @{data['via']}" if data.get("via") not in (None, "reply") else ""
        return [f"[{step}] reply to the customer{via} (captured, not sent)"]
    if event.kind == "note":
        first, *rest = str(data["text"]).splitlines() or [""]
        return [f"[{step}] internal note (captured): {first}", *(f"{INDENT}{line}" for line in rest)]
    if event.kind == "ticket":
        parts = [f"status {data['status']}", f"tag {data['lifecycle']}"]
        if data.get("assign"):
            parts.insert(0, f"assign to {data['assign']}")
        return [f"[{step}] ticket update (captured): {', '.join(parts)}"]
    return [f"[{step}] {event.kind} {_short(data)}"]


def _step_lines(step: str, data: dict[str, Any]) -> list[str]:
    """A branch (which case held, on which values) and the steps that leave no other trace line;
    calls, replies and questions asked show as their own events."""
    if data.get("action") == "branch":
        values = ", ".join(f"{name}={value}" for name, value in (data.get("values") or {}).items())
        why = f" ({values})" if values else ""
        condition = str(data.get("condition"))
        case = condition if condition in ("else", FALL_THROUGH) else f"if {condition}"
        return [f"[{step}] branch: {case} -> {data.get('to')}{why}"]
    if data.get("action") == "ask" and data.get("outcome") == "already known":
        return [f"[{step}] ask skipped: already known -> {data.get('to')}"]
    if data.get("action") in ("goto", "policy"):
        return [f"[{step}] {data['action']} -> {data.get('to')}"]
    return []


def end_text(end: dict[str, Any]) -> str:
    status = end.get("status") or "not started"
    detail = ""
    if status == "waiting":
        detail = f", waiting for {end.get('waiting_for') or 'the customer'} at step {end.get('step')}"
    elif status == "handed_off" and end.get("handoff_reason"):
        detail = f": {end['handoff_reason']}"
    elif end.get("outcome") and end["outcome"] != status:
        detail = f": {end['outcome']}"
    writes = f"{end.get('would_writes', 0)} write(s) simulated, {end.get('refused_writes', 0)} refused"
    return f"{INDENT}end: {status}{detail}; {writes}"


def _said(who: str, text: str) -> str:
    lines = text.strip().splitlines() or [""]
    pad = " " * (len(who) + 2)
    return f"{who}: {lines[0]}" + "".join(f"\n{pad}{line}" for line in lines[1:])


def _call(tool: str, args: dict[str, Any], *, full: bool = False) -> str:
    shown = ", ".join(f"{k}={json.dumps(v, default=str) if full else _short(v)}" for k, v in args.items())
    return f"@{tool}({shown})"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."
