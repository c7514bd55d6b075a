"""`policydesk explain POLICY`: the flow read back as the numbered steps it implements, in plain words,
with the replies the customer gets, so the person who owns the policy reviews what will actually run
instead of reading YAML."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from typing import Any

from policies.document.anchors import flow_anchors, logic_steps
from policies.document.library import PolicyLibrary
from policies.document.loader import PolicyDocument, Step, macro_name

__all__ = ["explain"]

_WORDS: tuple[tuple[str, str], ...] = (
    (r"\s*==\s*", " is "),
    (r"\s*!=\s*", " is not "),
    (r"\s*>=\s*", " is at least "),
    (r"\s*<=\s*", " is at most "),
    (r"\s*>\s*", " is after/above "),
    (r"\s*<\s*", " is before/below "),
)


def condition(source: Any) -> str:
    """`$order.status == 'shipped' and $said.received == False` -> "order status is 'shipped' and ..."."""
    text = str(source)
    for pattern, words in _WORDS:
        text = re.sub(pattern, words, text)
    text = re.sub(
        r"\$\{?([A-Za-z_][\w.]*)\}?", lambda m: m.group(1).replace(".", " ").replace("_", " "), text
    )
    return text.strip()


def _quote(text: str, indent: str) -> list[str]:
    lines = []
    for paragraph in text.strip().split("\n"):
        wrapped = textwrap.wrap(paragraph, 96 - len(indent)) or [""]
        lines += [f"{indent}> {line}" for line in wrapped]
    return lines


class _Explainer:
    def __init__(self, doc: PolicyDocument, library: PolicyLibrary):
        self.doc = doc
        self.library = library

    def reply(self, name: Any) -> str:
        macro = self.doc.macros.get(macro_name(str(name)))
        return macro.text if macro else f"(no reply named {name!r})"

    def says(self, name: Any, indent: str) -> list[str]:
        shared = " (shared reply)" if macro_name(str(name)) in self.doc.inherited else ""
        return [f"{indent}saying *{name}*{shared}:", *_quote(self.reply(name), indent + "  ")]

    def step(self, step: Step) -> list[str]:
        data = step.data
        action = getattr(self, f"_{step.action}")
        lines = action(step, data)
        if data.get("next") is not None:
            lines[-1] += f' Then go on at "{data["next"]}".'
        return lines

    def _ask(self, step: Step, data: Mapping[str, Any]) -> list[str]:
        kind = data.get("type") or step.value
        what = f"which one, from {condition(data['from'])}" if data.get("from") else str(step.value)
        head = f"- [{step.id}] Ask the customer for {what} ({kind})"
        if data.get("confirms"):
            head += f", as their go-ahead for @{data['confirms'].get('tool')}"
        head += "; asked even when known" if data.get("again") else "; skipped when already known"
        lines = [head + ","]
        if data.get("macro"):
            lines += self.says(data["macro"], "    ")
        if data.get("reask_macro"):
            lines += [
                "    and when it is not clear, asking again:",
                *_quote(self.reply(data["reask_macro"]), "      "),
            ]
        failing = f'go on at "{data["on_fail"]}"' if data.get("on_fail") else "hand the ticket to a person"
        lines.append(f"    Not answered after {data.get('tries', 2)} tries: {failing}.")
        if data.get("on_change"):
            lines.append(f'    A yes with a changed detail: go on at "{data["on_change"]}".')
        return lines

    def _call(self, step: Step, data: Mapping[str, Any]) -> list[str]:
        args = ", ".join(f"{k}: {v}" for k, v in (data.get("args") or {}).items())
        kept = f', keeping the result as "{data["save_as"]}"' if data.get("save_as") else ""
        return [f"- [{step.id}] Use @{step.value}({args}){kept}."]

    def _branch(self, step: Step, data: Mapping[str, Any]) -> list[str]:
        lines = [f"- [{step.id}] Decide:"]
        for case in step.value if isinstance(step.value, list) else []:
            if isinstance(case, Mapping) and "if" in case:
                lines.append(
                    f'    if {condition(case["if"])}: go on at "{case.get("goto") or case.get("then")}"'
                )
            elif isinstance(case, Mapping) and "else" in case:
                lines.append(f'    otherwise: go on at "{case["else"]}"')
        if not any("otherwise" in line for line in lines):
            lines.append("    otherwise: carry on below")
        return lines

    def _reply(self, step: Step, data: Mapping[str, Any]) -> list[str]:
        return [f"- [{step.id}] Tell the customer", *self.says(step.value, "    ")]

    def _handoff(self, step: Step, data: Mapping[str, Any]) -> list[str]:
        lines = [f'- [{step.id}] Hand the ticket to a person, because "{step.value}",']
        return lines + (self.says(data["macro"], "    ") if data.get("macro") else ["    without a reply."])

    def _goto(self, step: Step, data: Mapping[str, Any]) -> list[str]:
        return [f'- [{step.id}] Go on at "{step.value}".']

    def _policy(self, step: Step, data: Mapping[str, Any]) -> list[str]:
        target = self.library.resolve_mention(str(step.value or ""))
        name = f"#{target.title}" if target else str(step.value)
        given = ", ".join(f"{k}: {v}" for k, v in (data.get("with") or {}).items())
        results = f"; it leaves {', '.join(target.results)}" if target and target.results else ""
        return [
            f"- [{step.id}] Follow {name}"
            + (f" ({given})" if given else "")
            + f"{results}{'' if data.get('next') is not None else ', then carry on'}."
        ]

    def _end(self, step: Step, data: Mapping[str, Any]) -> list[str]:
        if not data.get("macro"):
            return [f"- [{step.id}] Done: the ticket is solved (or the calling policy carries on)."]
        return [f"- [{step.id}] Done: the ticket is solved,", *self.says(data["macro"], "    ")]

    def render(self) -> str:
        doc = self.doc
        version = f"{doc.version} ({doc.commit})" if doc.commit else doc.version
        out = [f"{doc.title} ({doc.id}, version {version}, from {doc.origin})"]
        handles = ", ".join(doc.handles) or "called by other policies"
        out.append(
            f"Handles: {handles}; helpdesks: {', '.join(doc.helpdesks) or 'all'}; "
            f"needs: {', '.join(doc.platforms) or 'nothing configured'}"
        )
        if doc.inputs:
            out.append("Takes: " + "; ".join(f"{k} ({v})" if v else k for k, v in doc.inputs.items()))
        if doc.results:
            out.append("Leaves: " + "; ".join(f"{k} ({v})" if v else k for k, v in doc.results.items()))
        anchors = flow_anchors(doc)
        steps = logic_steps(doc)
        untagged = [s for s in doc.flow or () if not anchors[s.id]]
        if untagged:
            out += ["", "Before the numbered steps:"] + [line for s in untagged for line in self.step(s)]
        for logic in steps:
            out += ["", *textwrap.wrap(f"{logic.number}. {logic.text}", 100, subsequent_indent="   ")]
            done = [s for s in doc.flow or () if logic.number in anchors[s.id]]
            if logic.left_to:
                out.append(f"   (left to {logic.left_to}: the flow does not do this step)")
            elif not done:
                out.append("   (the flow does not do this step)")
            out += ["   " + line for s in done for line in self.step(s)]
        if not doc.flow:
            out += ["", "This policy has no flow: only Claude runs it (engine: agent)."]
        return "\n".join(out) + "\n"


def explain(doc: PolicyDocument, library: PolicyLibrary) -> str:
    return _Explainer(doc, library).render()
