"""The numbered Logic steps and the flow as one document: which flow step implements which step.

A flow step says which numbered step it implements with `logic: N`; a step without it belongs to
the same numbered step as the step above it, so only the first step of each part needs the tag.
`policydesk validate` checks both ways (policies.lint): every numbered step is implemented, or marked
"(left to a person)" or "(left to Claude)"; every tool and policy the flow uses is named in the
prose, and every tool the prose names is called by the flow (a line marked "(left to a person)"
names tools a colleague uses). `policydesk explain` prints the flow back under its numbered steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policies.document.loader import PolicyDocument, Step, scan_references

__all__ = ["LEFT_TO", "LogicStep", "flow_anchors", "logic_numbers", "logic_steps"]

_NUMBERED = re.compile(r"^(\d+)[.)]\s+(.*)$")
LEFT_TO = re.compile(r"\(left to (a person|claude)\)", re.IGNORECASE)


@dataclass
class LogicStep:
    """One numbered step of the `## Logic` section, as the author wrote it."""

    number: int
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(text.strip() for _, text in self.lines)

    @property
    def left_to(self) -> str | None:
        """ "a person" or "claude" when the whole step is marked as not done by the flow."""
        found = LEFT_TO.search(self.lines[0][1]) if self.lines else None
        return found.group(1).lower() if found else None

    def tools(self, *, implemented_only: bool = False) -> list[tuple[str, int]]:
        """The `@tools` this step names, with their lines; without those on a "(left to ...)" line."""
        named = []
        for number, text in self.lines:
            if implemented_only and LEFT_TO.search(text):
                continue
            named += [(r.name, r.line) for r in scan_references(text, number) if r.kind == "tool"]
        return named

    def policies(self) -> list[tuple[str, int]]:
        named = []
        for number, text in self.lines:
            named += [(r.name, r.line) for r in scan_references(text, number) if r.kind == "policy"]
        return named


def logic_steps(doc: PolicyDocument) -> list[LogicStep]:
    """The numbered steps of the Logic section (a numbered line starts one; indented lines continue it)."""
    section = doc.sections.get("logic")
    if section is None:
        return []
    steps: list[LogicStep] = []
    for offset, text in enumerate(section.text.split("\n"), start=1):
        number = section.line + offset
        numbered = _NUMBERED.match(text)
        if numbered:
            steps.append(LogicStep(int(numbered.group(1)), number, [(number, numbered.group(2))]))
        elif steps and text.strip():
            steps[-1].lines.append((number, text))
    return steps


def flow_anchors(doc: PolicyDocument) -> dict[str, tuple[int, ...]]:
    """The numbered steps each flow step implements: its `logic:` (a number, or a list such as
    `[2, 3]` for a step that does two), else those of the step above; () before any tag."""
    anchors: dict[str, tuple[int, ...]] = {}
    current: tuple[int, ...] = ()
    for step in doc.flow or ():
        if step.data.get("logic") is not None:
            current = logic_numbers(step)
        anchors[step.id] = current
    return anchors


def logic_numbers(step: Step) -> tuple[int, ...]:
    """A step's own `logic:` as numbers; () when it has none or it is not a number."""
    value = step.data.get("logic")
    values = value if isinstance(value, list) else [value]
    numbers = []
    for item in values:
        if isinstance(item, int) and not isinstance(item, bool):
            numbers.append(item)
        elif isinstance(item, str) and item.strip().isdigit():
            numbers.append(int(item.strip()))
    return tuple(numbers)
