"""What the editor needs from the server: lint of the text being typed, its diff against the live
version, and the completion lists for `@`, `#` and `$`."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from typing import Any

from policies.document import PolicyDocument, PolicyLibrary, Problem, parse_policy
from policies.document.lint import lint_document
from policies.document.tool_menu import tool_rows
from policies.engines.router import built_in_library
from studio.catalog import Catalog, registry

__all__ = ["CONTEXT_PATHS", "completions", "diff_lines", "edited_document", "lint_text"]

# the context every policy can read (worker.pipeline.flow_context builds it), for `$` completion
CONTEXT_PATHS = (
    "customer.email",
    "customer.name",
    "customer.first_name",
    "ticket.id",
    "ticket.subject",
    "ticket.text",
    "ticket.helpdesk",
    "brand.name",
    "facts.order_number",
    "facts.email",
    "today",
    "variant",
)
_SAID = re.compile(r"\$said\.([a-z_]+)")


def edited_document(policy_id: str, text: str) -> PolicyDocument:
    return parse_policy(text, f"studio:{policy_id}@draft")


def lint_text(
    policy_id: str, text: str, found: Catalog, env: Mapping[str, str] = os.environ
) -> tuple[PolicyDocument, list[Problem]]:
    """The linter's verdict on the text as typed, in the company of the rest of the library."""
    doc = edited_document(policy_id, text)
    others = [entry.doc for pid, entry in found.entries.items() if pid != policy_id]
    library = PolicyLibrary([doc, *others], built_in_library().replies)  # the shared replies too
    problems = lint_document(doc, library, registry(), env)
    if doc.id and doc.id != policy_id:
        problems.append(Problem(doc.path, doc.field_line("id"), f"the id must stay {policy_id!r}"))
    return doc, sorted(problems, key=lambda p: (p.line, p.severity))


def diff_lines(live: str, text: str) -> list[dict[str, str]]:
    """A unified diff as {kind, text} rows: `add`, `del`, `hunk` or `same`."""
    rows = []
    for line in difflib.unified_diff(
        live.splitlines(), text.splitlines(), "live", "edited", lineterm="", n=2
    ):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        rows.append({"kind": kind, "text": line})
    return rows


def completions(found: Catalog, doc: PolicyDocument) -> dict[str, list[dict[str, Any]]]:
    """The `@` menu (every tool), the `#` menu (every policy) and the `$` menu (context and this
    policy's own slots and saved results)."""
    tools = [
        {
            "label": row["name"],
            "insert": f"{row['name']}({row['arguments'].replace('?', '')})",
            "hint": row["access"],
        }
        for row in tool_rows(registry())
    ]
    policies = [
        {"label": entry.doc.title or pid, "insert": entry.doc.title or pid, "hint": pid}
        for pid, entry in found.entries.items()
    ]
    values = [{"label": path, "insert": path, "hint": "context"} for path in CONTEXT_PATHS]
    said = sorted({name for entry in found.entries.values() for name in _SAID.findall(entry.text)})
    values += [
        {"label": f"said.{name}", "insert": f"said.{name}", "hint": "what the customer said"} for name in said
    ]
    for step in doc.flow or ():
        if step.action == "ask" and isinstance(step.value, str):
            values.append({"label": step.value, "insert": step.value, "hint": f"answer (step {step.id})"})
        if step.action == "call" and isinstance(step.data.get("save_as"), str):
            values.append(
                {
                    "label": step.data["save_as"],
                    "insert": step.data["save_as"],
                    "hint": f"result of @{step.value}",
                }
            )
    unique = {v["label"]: v for v in values}
    return {"@": tools, "#": policies, "$": list(unique.values())}
