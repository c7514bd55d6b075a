"""A policy document for reading: Markdown to HTML block by block, references marked, lint at its line.

The body is rendered with markdown-it (CommonMark, raw HTML off, so a policy cannot inject markup);
each top-level block keeps the source lines it came from, which is how a lint message is shown right
under the block it is about. `@tool`, `#policy` and `$value` mentions become links and marks.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from connectors.tools import Tool, ToolRegistry
from policies.document import PolicyDocument, PolicyLibrary, Problem, Step

__all__ = ["Block", "explain_flow", "render_blocks", "tool_facts"]

_MD = MarkdownIt("commonmark", {"html": False})
_MENTION = re.compile(r"(?<![\w&/])([@#$])(\{?)([A-Za-z_][\w.\-]*(?:\s+[A-Z][\w\-]*)*)(\}?)")


@dataclass
class Block:
    first_line: int
    last_line: int
    html: str  # markdown-it's output; Markup once the mentions are marked
    problems: list[Problem] = field(default_factory=list)


def _marker(
    library: PolicyLibrary, registry: ToolRegistry, link: Callable[[str], str]
) -> Callable[[str], str]:
    def mark_text(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            sigil, brace, name, close = match.groups()
            if sigil == "@":
                tool = registry.resolve(name.split()[0])
                if tool is None:
                    return match.group(0)
                rest = name[len(name.split()[0]) :]
                kind = "write" if tool.writes else "read"
                title = html.escape(f"{kind}: {tool.description}")
                anchor = (
                    f'<a class="ref tool {kind}" href="#tool-{tool.name}" title="{title}">@{tool.name}</a>'
                )
                return anchor + rest + brace + close

            if sigil == "#":
                target = library.resolve_mention(name)
                if target is None:
                    return match.group(0)
                words = name.split()
                for end in range(len(words), 0, -1):
                    if library.find(" ".join(words[:end])) is target:
                        used, rest = " ".join(words[:end]), " ".join(words[end:])
                        break
                else:
                    used, rest = name, ""
                tail = f" {rest}" if rest else ""
                return f'<a class="ref policy" href="{link(target.id)}">#{used}</a>{tail}'
            value = name.split()[0].rstrip(".-")
            rest = name[len(value) :]
            title = f"context value ${value.split('.')[0]}"
            return f'<mark class="ref value" title="{title}">${brace}{value}</mark>{rest}{close}'

        return _MENTION.sub(one, text)

    return mark_text


def _mark_html(rendered: str, mark_text: Callable[[str], str]) -> str:
    """Mark mentions in text between tags only, never inside an attribute or a code block's tag."""
    parts = re.split(r"(<[^>]+>)", rendered)
    inside_code = 0
    out = []
    for part in parts:
        if part.startswith("<"):
            if part.startswith("<pre"):
                inside_code += 1
            elif part.startswith("</pre"):
                inside_code -= 1
            out.append(part)
        else:
            out.append(part if inside_code else mark_text(part))
    return "".join(out)


def render_blocks(
    doc: PolicyDocument,
    problems: list[Problem],
    library: PolicyLibrary,
    registry: ToolRegistry,
    link: Callable[[str], str],
) -> tuple[list[Problem], list[Block]]:
    """(problems about the front matter, the body's blocks with their problems)."""
    tokens = _MD.parse(doc.body)
    offset = doc.body_line
    blocks: list[Block] = []
    start = 0
    for index, token in enumerate(tokens):
        if token.level == 0 and token.nesting in (0, -1):
            group = tokens[start : index + 1]
            lines = next((t.map for t in group if t.map), None) or [0, 1]
            rendered = _MD.renderer.render(group, _MD.options, {})
            blocks.append(Block(lines[0] + offset, lines[1] + offset - 1, rendered))
            start = index + 1
    mark_text = _marker(library, registry, link)
    for block in blocks:
        # markdown-it escaped the source (raw HTML is off) and the marks are built from escaped names
        block.html = Markup(_mark_html(block.html, mark_text))  # noqa: S704
    head: list[Problem] = []
    for problem in sorted(problems, key=lambda p: p.line):
        target = next((b for b in blocks if b.first_line <= problem.line <= b.last_line), None)
        if target is None and blocks and problem.line >= blocks[0].first_line:
            target = max((b for b in blocks if b.first_line <= problem.line), key=lambda b: b.first_line)
        (target.problems if target is not None else head).append(problem)
    return head, blocks


def tool_facts(doc: PolicyDocument, registry: ToolRegistry) -> list[Tool]:
    """Every tool the document names, in order of first mention (prose or flow)."""
    names = [ref.name for ref in doc.references if ref.kind == "tool"]
    names += [str(step.value) for step in doc.flow or () if step.action == "call" and step.value]
    seen: dict[str, Tool] = {}
    for name in names:
        tool = registry.resolve(name)
        if tool is not None and tool.name not in seen:
            seen[tool.name] = tool
    return list(seen.values())


def _args(args: Any) -> str:
    if not isinstance(args, dict) or not args:
        return ""
    return ", ".join(f"{name}: {value}" for name, value in args.items())


def _explain(step: Step) -> str:
    data = step.data
    value = step.value
    action = step.action
    if action == "ask":
        kind = data.get("type", value)
        said = f"Ask the customer for {value} ({kind})"
        if data.get("macro"):
            said += f" with the macro “{data['macro']}”"
        if data.get("confirms"):
            spec = data["confirms"]
            said += f"; a yes lets @{spec.get('tool')} run" if isinstance(spec, dict) else ""
        if data.get("on_fail"):
            said += f"; if no usable answer, go to {data['on_fail']}"
        return said + "."
    if action == "call":
        said = f"Call @{value}({_args(data.get('args'))})"
        if data.get("save_as"):
            said += f" and keep the result as ${data['save_as']}"
        return said + "."
    if action == "branch":
        cases = []
        for case in value if isinstance(value, list) else []:
            if isinstance(case, dict) and "if" in case:
                cases.append(f"if {case['if']}, go to {case.get('goto', case.get('then'))}")
            elif isinstance(case, dict) and "else" in case:
                cases.append(f"otherwise go to {case['else']}")
        return (
            "Decide: "
            + "; ".join(cases)
            + ("" if any("otherwise" in c for c in cases) else "; otherwise go on")
            + "."
        )
    if action == "reply":
        return f"Reply with the macro “{value}”."
    if action == "handoff":
        return f"Hand the ticket to a person: {value}."
    if action == "goto":
        return f"Go to {value}."
    if action == "policy":
        return f"Continue with {value}."
    if action == "end":
        return (
            "End: the ticket is resolved"
            + (f", with the macro “{data['macro']}”" if data.get("macro") else "")
            + "."
        )
    return f"{action}: {value}"


def explain_flow(doc: PolicyDocument) -> list[dict[str, Any]]:
    """The flow as numbered sentences a CX manager can check against the Logic section."""
    rows = []
    for number, step in enumerate(doc.flow or (), start=1):
        sentence = _explain(step)
        if step.data.get("next") is not None:
            sentence += f" Then go to {step.data['next']}."
        rows.append({"number": number, "id": step.id, "line": step.line, "text": sentence})
    return rows
