"""The library as the studio shows it: the built-in policies and the store's folders, with the published
layer on top.

Each row says where the policy comes from (built-in file, a folder of POLICYDESK_POLICIES, or version n
published here), its mode,
lint status, what it serves and whether its platforms are configured: what a CX manager needs to know
before trusting a policy with tickets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from connectors.tools import ToolRegistry
from policies.document import PolicyDocument, PolicyLibrary, Problem
from policies.document.lint import lint_document, platform_configured
from policies.document.modes import policy_mode
from policies.document.tool_menu import load_tools
from policies.engines.router import built_in_library
from worker.published_policies import PublishedStore, Version, content_hash

__all__ = ["Entry", "catalog", "registry"]


@lru_cache(maxsize=1)
def registry() -> ToolRegistry:
    found, _failed = load_tools()
    return found


@dataclass
class Entry:
    doc: PolicyDocument
    text: str
    source: str  # "built-in", a policy folder's path, or "published here"
    version: str  # "v3" for a published one, the content hash of a file
    published: Version | None
    mode: str
    problems: list[Problem] = field(default_factory=list)
    platforms: dict[str, bool | None] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity == "warning")


@dataclass
class Catalog:
    library: PolicyLibrary
    entries: dict[str, Entry]

    def get(self, policy_id: str) -> Entry | None:
        return self.entries.get(policy_id)


def _file_text(doc: PolicyDocument) -> str:
    try:
        with open(doc.path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def catalog(store: PublishedStore, env: Mapping[str, str] = os.environ) -> Catalog:
    files = {doc.id: doc for doc in built_in_library() if doc.id}
    published = {v.policy_id: v for v in store.live_versions()}
    docs: dict[str, tuple[PolicyDocument, str, str, str, Version | None]] = {}
    for policy_id, doc in files.items():
        text = _file_text(doc)
        docs[policy_id] = (doc, text, doc.origin, content_hash(text), None)
    for policy_id, version in published.items():
        docs[policy_id] = (version.document(), version.text, "published here", f"v{version.number}", version)
    library = PolicyLibrary((entry[0] for entry in docs.values()), built_in_library().replies)
    tools = registry()
    entries: dict[str, Entry] = {}
    for policy_id, (doc, text, source, label, live) in sorted(docs.items()):
        platforms = {p: platform_configured(p, tools, env) for p in doc.platforms}
        entries[policy_id] = Entry(
            doc=doc,
            text=text,
            source=source,
            version=label,
            published=live,
            mode=policy_mode(doc, env),
            problems=lint_document(doc, library, tools, env),
            platforms=platforms,
        )
    return Catalog(library, entries)
