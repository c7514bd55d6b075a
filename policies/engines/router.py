"""Which library policy handles a ticket: its type, its helpdesk, and platforms that are configured."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from connectors.tools import PLATFORM_CONFIGS, load_all_tools
from policies.document.library import PolicyLibrary
from policies.document.loader import PolicyDocument


@dataclass(frozen=True)
class Route:
    policy: PolicyDocument | None
    reason: str  # why no policy runs, for the handoff note; empty when one does


@lru_cache(maxsize=1)
def default_library() -> PolicyLibrary:
    """The built-in library, loaded once per process (policies are files deployed with the code)."""
    load_all_tools()
    return PolicyLibrary.load()


def platform_ready(platform: str, env: Mapping[str, str]) -> bool:
    lookup = PLATFORM_CONFIGS.get(platform)
    return lookup is not None and lookup(env) is not None


def route(
    ticket_type: str, helpdesk: str, library: PolicyLibrary | None = None, env: Mapping[str, str] = os.environ
) -> Route:
    library = library or default_library()
    candidates = [
        doc
        for doc in library
        if doc.ok and ticket_type in doc.handles and (not doc.helpdesks or helpdesk in doc.helpdesks)
    ]
    if not candidates:
        return Route(None, f"no automated policy for {ticket_type} is enabled")
    for doc in candidates:
        if all(platform_ready(platform, env) for platform in doc.platforms):
            return Route(doc, "")
    missing = sorted({p for doc in candidates for p in doc.platforms if not platform_ready(p, env)})
    return Route(None, f"the {ticket_type} policy needs {', '.join(missing)}, which is not configured")
