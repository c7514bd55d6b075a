"""Policy versions in use: a conversation runs to its end on the policies it started with.

A policy's version is the hash of its text (policies.document.content_version). When a conversation
starts, the versions of its policy and of every policy that one can lead to are written into its
state, and each version's text is kept here in Redis. A later turn, even after a deploy that changed
a policy, runs on the kept text of the version the conversation started on; new conversations get
the new version. `policydesk policies diff` reads the texts kept here.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis

from policies.document.library import PolicyLibrary
from policies.document.loader import Macro, PolicyDocument, inherit_replies, parse_policy

__all__ = ["PolicyVersions", "pinned_library", "policy_closure"]

log = logging.getLogger(__name__)

VERSION_TTL = 180 * 24 * 3600  # longer than any conversation lives (worker.conversation), refreshed on use


def _text_key(policy_id: str, version: str) -> str:
    return f"pd:policy:{policy_id}:version:{version}"


def _history_key(policy_id: str) -> str:
    return f"pd:policy:{policy_id}:versions"


class PolicyVersions:
    """The texts of policy versions conversations use, by policy id and version."""

    def __init__(self, client: redis.Redis):
        self.redis = client

    def keep(self, doc: PolicyDocument) -> None:
        """Store this version's text (once) and note when it was first used."""
        record = {
            "source": doc.source,
            "shared": {name: macro.text for name, macro in doc.inherited.items()},
            "commit": doc.commit,
            "origin": doc.origin,
            "path": doc.path,
        }
        pipe = self.redis.pipeline()
        pipe.set(_text_key(doc.id, doc.version), json.dumps(record), ex=VERSION_TTL)
        pipe.zadd(_history_key(doc.id), {doc.version: time.time()}, nx=True)
        pipe.expire(_history_key(doc.id), VERSION_TTL)
        pipe.execute()

    def record(self, policy_id: str, version: str) -> dict[str, Any] | None:
        raw = self.redis.get(_text_key(policy_id, version))
        return json.loads(raw) if raw else None

    def document(self, policy_id: str, version: str) -> PolicyDocument | None:
        """The kept version, parsed as it was; None when it was never kept (or has expired)."""
        record = self.record(policy_id, version)
        if record is None:
            return None
        doc = parse_policy(str(record.get("source") or ""), f"{record.get('path') or policy_id}@{version}")
        doc.commit = str(record.get("commit") or "")
        doc.origin = str(record.get("origin") or "")
        shared = record.get("shared") or {}
        inherit_replies(doc, {str(n): Macro(str(n), str(t), 0) for n, t in shared.items()})
        return doc if doc.id == policy_id and doc.version == version else None

    def history(self, policy_id: str) -> list[tuple[str, float]]:
        """Every kept version of a policy with when it was first used, oldest first."""
        rows: list[tuple[bytes | str, float]] = list(
            self.redis.zrange(_history_key(policy_id), 0, -1, withscores=True)  # type: ignore[arg-type]
        )
        return [(v.decode() if isinstance(v, bytes) else str(v), float(score)) for v, score in rows]


def policy_closure(library: PolicyLibrary, policy_id: str) -> list[PolicyDocument]:
    """The policy and every policy it can lead to (its `#references` and `policy:` steps), transitively."""
    start = library.find(policy_id)
    found: dict[str, PolicyDocument] = {}
    pending = [start] if start is not None else []
    while pending:
        doc = pending.pop()
        if doc.id in found:
            continue
        found[doc.id] = doc
        mentions = [r.name for r in doc.references if r.kind == "policy"]
        mentions += [str(s.value or "") for s in doc.flow or () if s.action == "policy"]
        for mention in mentions:
            target = library.resolve_mention(mention)
            if target is not None and target.id not in found:
                pending.append(target)
    return list(found.values())


def pinned_library(library: PolicyLibrary, versions: dict[str, str], kept: PolicyVersions) -> PolicyLibrary:
    """The library with each policy at the version the conversation started on.

    A version that is no longer kept is run as it is now, and the log says so."""
    replaced: list[PolicyDocument] = []
    for policy_id, version in versions.items():
        current = library.get(policy_id)
        if current is not None and current.version == version:
            continue
        doc = kept.document(policy_id, version)
        if doc is None:
            log.warning("policy %s version %s is not kept: running the current version", policy_id, version)
            continue
        replaced.append(doc)
    if not replaced:
        return library
    by_id = {doc.id: doc for doc in replaced}
    missing = [doc for doc in replaced if library.get(doc.id) is None]
    return PolicyLibrary([*(by_id.get(doc.id, doc) for doc in library), *missing])
