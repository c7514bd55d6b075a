"""`policydesk tools`: every tool a policy can call, as the `@` menu shows it to a CX manager.

Tools are loaded module by module so one connector that fails to import (a missing optional
dependency) hides only its own tools, and the listing says which module failed.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any, TextIO

from connectors.tools import REGISTRY, TOOL_MODULES, Tool, ToolRegistry

__all__ = ["load_tools", "tool_rows", "tools_main"]


def load_tools() -> tuple[ToolRegistry, list[str]]:
    """The default registry with every connector module imported, and the modules that failed."""
    failed: list[str] = []
    for module in TOOL_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            failed.append(f"{module} ({exc.__class__.__name__}: {exc})")
    return REGISTRY, failed


def _signature(tool: Tool) -> str:
    """The arguments a policy writes (`name?` when optional), then those filled from context."""
    required = set(tool.schema.get("required", []))
    written = [name if name in required else f"{name}?" for name in tool.policy_schema["properties"]]
    filled = [f"{name}=${path}" for name, path in tool.from_context]
    return ", ".join([*written, *filled])


def tool_rows(registry: ToolRegistry, env: Mapping[str, str] = os.environ) -> list[dict[str, Any]]:
    return [
        {
            "name": tool.name,
            "arguments": _signature(tool),
            "access": "write" if tool.writes else "read",
            "platform": tool.platform,
            "configured": "yes" if tool.configured(env) else "no",
            "description": tool.description
            + (f" Also called {', '.join('@' + a for a in tool.aliases)}." if tool.aliases else ""),
        }
        for tool in registry.all()
    ]


def tools_main(out: TextIO, registry: ToolRegistry | None = None, env: Mapping[str, str] = os.environ) -> int:
    """Print the tool menu; exit code 0 (1 only when a connector module could not be loaded)."""
    failed: list[str] = []
    if registry is None:
        registry, failed = load_tools()
    rows = tool_rows(registry, env)
    columns = ("name", "arguments", "access", "platform", "configured")
    headers = {
        "name": "TOOL",
        "arguments": "ARGUMENTS",
        "access": "READ/WRITE",
        "platform": "PLATFORM",
        "configured": "CONFIGURED",
    }
    widths = {
        c: max([len(headers[c])] + [len("@" + r[c]) if c == "name" else len(r[c]) for r in rows])
        for c in columns
    }
    out.write("  ".join(headers[c].ljust(widths[c]) for c in columns) + "  DESCRIPTION\n")
    for row in rows:
        cells = [("@" + row["name"]).ljust(widths["name"])]
        cells += [row[c].ljust(widths[c]) for c in columns[1:]]
        out.write("  ".join(cells) + "  " + row["description"] + "\n")
    configured = sum(1 for r in rows if r["configured"] == "yes")
    out.write(f"\n{len(rows)} tools, {configured} configured\n")
    for module in failed:
        out.write(f"error: could not load tools from {module}\n")
    return 1 if failed else 0
