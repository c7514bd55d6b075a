"""`policydesk policies diff ID [V1 V2]`: what changed in a policy between two versions.

A version is named by its content hash (or its first digits: looked up among the versions
conversations used, then in the file's git history), by `current`, or by a git commit of the
policy's folder. Without versions: the newest version conversations used that is not the
current one (else the file's last commit), against the current text.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from policies.document.layers import active_library, git_output
from policies.document.loader import PolicyDocument, content_version

__all__ = ["diff_main"]

USAGE = "usage: policydesk policies diff ID [V1 V2]\n"


def diff_main(names: list[str], out: TextIO) -> int:
    if len(names) not in (1, 3):
        out.write(USAGE)
        return 2
    doc = active_library().find(names[0])
    if doc is None:
        out.write(f"no active policy {names[0]!r} (see policydesk policies)\n")
        return 1
    kept = _kept_versions()
    history = kept.history(doc.id) if kept else []
    for version, first_used in history:
        when = datetime.fromtimestamp(first_used, UTC).strftime("%Y-%m-%d %H:%M UTC")
        marker = " (current)" if version == doc.version else ""
        out.write(f"version {version} first used {when}{marker}\n")
    if len(names) == 3:
        old, new = names[1], names[2]
    else:
        older = [v for v, _ in reversed(history) if v != doc.version]
        old, new = (older[0] if older else "HEAD"), "current"
    texts = [_text(doc, name, kept) for name in (old, new)]
    for name, text in zip((old, new), texts, strict=True):
        if text is None:
            out.write(f"version {name!r} of {doc.id} is not known\n")
            return 1
    before, after = (t for t in texts if t is not None)
    if before == after:
        out.write(f"{doc.id}: {old} and {new} are the same text ({content_version(after)})\n")
        return 0
    out.writelines(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{doc.id}@{content_version(before)} ({old})",
            tofile=f"{doc.id}@{content_version(after)} ({new})",
        )
    )
    return 0


def _kept_versions():
    """The versions conversations used, kept in Redis; None when Redis cannot be reached."""
    from worker.policy_versions import PolicyVersions
    from worker.redis_conn import get_redis

    try:
        client = get_redis()
        client.ping()
    except Exception:  # noqa: BLE001 - without Redis only the current text and git are known
        return None
    return PolicyVersions(client)


def _text(doc: PolicyDocument, name: str, kept) -> str | None:
    if name in ("current", doc.version) or (len(name) >= 4 and doc.version.startswith(name)):
        return doc.source
    if kept is not None:
        matches = [v for v, _ in kept.history(doc.id) if v.startswith(name)]
        record = kept.record(doc.id, matches[-1]) if len(name) >= 4 and matches else None
        if record is not None:
            return str(record.get("source") or "")
    path = Path(doc.path)
    text = git_output(path.parent, "show", f"{name}:./{path.name}")
    if text is not None or len(name) < 4:
        return text
    for commit in (git_output(path.parent, "log", "-50", "--format=%h", "--", path.name) or "").split():
        text = git_output(path.parent, "show", f"{commit}:./{path.name}")
        if text is not None and content_version(text).startswith(name):
            return text  # a content hash found in the file's git history
    return None
