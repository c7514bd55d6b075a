"""Which library policy handles a ticket: its type, its helpdesk, and platforms that are configured."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from connectors.tools import PLATFORM_CONFIGS
from policies.document.layers import active_library
from policies.document.library import PolicyLibrary
from policies.document.loader import PolicyDocument


@dataclass(frozen=True)
class Route:
    policy: PolicyDocument | None
    reason: str  # why no policy runs, for the handoff note; empty when one does


class Layer(Protocol):
    """Policies added on top of the built-in files (the studio's published versions)."""

    def key(self) -> Hashable:
        """Changes whenever `documents()` would return something else (cheap: called per lookup)."""

    def documents(self) -> list[PolicyDocument]: ...


_LAYERS: list[Layer] = []


def add_layer(layer: Layer) -> None:
    if layer not in _LAYERS:
        _LAYERS.append(layer)


def remove_layer(layer: Layer) -> None:
    if layer in _LAYERS:
        _LAYERS.remove(layer)


def built_in_library() -> PolicyLibrary:
    """The policy files: the built-in library with the store's folders over it (POLICYDESK_POLICIES,
    policies.document.layers), read again only when a folder changes."""
    return active_library()


@lru_cache(maxsize=8)
def _layered(base: PolicyLibrary, keys: tuple[Hashable, ...], layers: tuple[Layer, ...]) -> PolicyLibrary:
    docs = {doc.id: doc for doc in base if doc.id}
    for layer in layers:
        docs.update({doc.id: doc for doc in layer.documents() if doc.id})
    return PolicyLibrary(docs.values(), base.replies)


def default_library() -> PolicyLibrary:
    """The library tickets run on: the built-in files with every layer on top, later layers winning."""
    base = built_in_library()
    if not _LAYERS:
        return base
    layers = tuple(_LAYERS)
    return _layered(base, tuple(layer.key() for layer in layers), layers)


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
