"""Conversation scripts for `policydesk simulate --script FILE`: the customer's turns, no person needed.

Two forms, both small:
- a text file: one customer turn per line; blank lines and lines starting with `#` are skipped;
- a YAML (or JSON) file, `.yaml`/`.yml`/`.json`: either a list of turns, or a mapping with `turns`
  (a list of strings) and optionally `context` (as a --context-file holds: customer, ticket, brand,
  facts, today) and `helpdesk`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policydesk.simulation.session import SimulationError

STRUCTURED = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Script:
    turns: list[str]
    context: dict[str, Any] = field(default_factory=dict)
    helpdesk: str | None = None


def load_script(path: Path) -> Script:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimulationError(f"cannot read the script {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() not in STRUCTURED:
        lines = [line.strip() for line in text.splitlines()]
        kept = [line for line in lines if line and not line.startswith("#")]
        return _checked(Script(kept), path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SimulationError(f"the script {path} is not valid YAML: {exc}") from exc
    if isinstance(data, list):
        data = {"turns": data}
    if not isinstance(data, dict):
        raise SimulationError(f"the script {path} must be a list of turns or a mapping with `turns`")
    turns, context = data.get("turns"), data.get("context") or {}
    if not isinstance(turns, list) or not all(isinstance(t, str | int | float) for t in turns):
        raise SimulationError(f"the script {path}: `turns` must be a list of strings")
    if not isinstance(context, dict):
        raise SimulationError(f"the script {path}: `context` must be a mapping")
    helpdesk = data.get("helpdesk")
    return _checked(Script([str(t) for t in turns], context, str(helpdesk) if helpdesk else None), path)


def _checked(script: Script, path: Path) -> Script:
    if not script.turns:
        raise SimulationError(f"the script {path} has no customer turns")
    return script
