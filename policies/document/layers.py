"""Where the active policies come from: layers, each one overriding the layers before it by policy id.

The built-in library is the first layer. `POLICYDESK_POLICIES` adds the store's own folders (one or
more, separated like PATH; a git checkout is a folder). A later layer's policy replaces an earlier
one with the same `id` and adds the ones that are new, so a store changes a built-in policy by
copying it into its folder (`policydesk policies init DIR`) and editing it there.

A layer is anything with the small interface `PolicyLayer` below, so a layer that keeps its policies
elsewhere (in Redis, say) is added with `register_layer_source` and needs nothing else from this
module. Every command and the worker read `active_library()`, so they all see the same policies.

Policies from later layers are tried first when a ticket is routed: a store's own wismo policy wins
over the built-in one even when their ids differ.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from policies.document.library import LIBRARY_DIR, SKIP_FILES, PolicyLibrary, read_replies
from policies.document.loader import Macro, PolicyDocument, Problem, read_policy

__all__ = [
    "BUILT_IN",
    "FolderLayer",
    "PolicyLayer",
    "active_library",
    "git_output",
    "library_layers",
    "register_layer_source",
    "resolve_layers",
]

BUILT_IN = "built-in"
POLICIES_ENV = "POLICYDESK_POLICIES"


@runtime_checkable
class PolicyLayer(Protocol):
    """One source of policies.

    name: how `policydesk policies` says where a policy came from ("built-in", a folder's path).
    revision(): any text that changes whenever the layer's policies change; called on every lookup of
        the active library, so it must be cheap (a folder uses its files' sizes and times).
    documents(): the layer's policies, parsed (policies.document.parse_policy turns stored text into
        one). Each document's `origin` should be the layer's name and `commit` the source control
        revision of its text where there is one.
    replies() (optional): shared replies the layer adds or replaces, by name
        (policies.document.parse_replies reads them from text).
    """

    @property
    def name(self) -> str: ...

    def revision(self) -> str: ...

    def documents(self) -> list[PolicyDocument]: ...


def _policy_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.md") if p.name.lower() not in SKIP_FILES)


@dataclass(frozen=True)
class FolderLayer:
    """Every `*.md` in a folder but README.md; in a git checkout, each policy carries its commit."""

    folder: Path
    name: str

    def revision(self) -> str:
        stamp = hashlib.sha256()
        for path in _policy_files(self.folder):
            try:
                info = path.stat()
            except OSError:
                continue
            stamp.update(f"{path.name}:{info.st_size}:{info.st_mtime_ns};".encode())
        return stamp.hexdigest()[:16]

    def documents(self) -> list[PolicyDocument]:
        docs = []
        changed = _git_changed(self.folder)
        for path in _policy_files(self.folder):
            doc = read_policy(path)
            doc.origin = self.name
            commit = _git_commit(path)
            if commit:
                doc.commit = f"{commit}+changes" if path.name in changed else commit
            docs.append(doc)
        return docs

    def replies(self) -> dict[str, Macro]:
        return read_replies(self.folder)[0]


def git_output(folder: Path, *args: str) -> str | None:
    """A git command's output in a folder; None when it is not a checkout or the command fails."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", "-C", str(folder), *args],  # noqa: S607 - git from PATH, like any developer tool
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _git_commit(path: Path) -> str:
    """The last commit that changed this file, when its folder is a git checkout."""
    return (git_output(path.parent, "log", "-1", "--format=%h", "--", path.name) or "").strip()


def _git_changed(folder: Path) -> set[str]:
    """Files in the folder whose text differs from their last commit."""
    status = git_output(folder, "status", "--porcelain", "--", ".") or ""
    return {Path(line[3:].strip().strip('"')).name for line in status.splitlines() if len(line) > 3}


LayerSource = Callable[[Mapping[str, str]], "PolicyLayer | None"]
_LAYER_SOURCES: list[LayerSource] = []


def register_layer_source(source: LayerSource) -> Callable[[], None]:
    """Add a layer after the folders: `source(env)` returns it, or None when it is not set up.
    Returns the function that takes it out again."""
    if source not in _LAYER_SOURCES:
        _LAYER_SOURCES.append(source)
    return lambda: _LAYER_SOURCES.remove(source) if source in _LAYER_SOURCES else None


def library_layers(env: Mapping[str, str] = os.environ) -> list[PolicyLayer]:
    """Built-in, then each folder of POLICYDESK_POLICIES in order, then registered layers."""
    layers: list[PolicyLayer] = [FolderLayer(LIBRARY_DIR, BUILT_IN)]
    for raw in (env.get(POLICIES_ENV) or "").split(os.pathsep):
        if raw.strip():
            folder = Path(raw.strip()).expanduser().resolve()
            layers.append(FolderLayer(folder, str(folder)))
    for source in _LAYER_SOURCES:
        layer = source(env)
        if layer is not None:
            layers.append(layer)
    return layers


def resolve_layers(layers: Iterable[PolicyLayer]) -> PolicyLibrary:
    """One library: a later layer's policy replaces an earlier one with its id; later layers first."""
    winners: dict[str, PolicyDocument] = {}
    order: list[str] = []
    overridden: dict[str, list[PolicyDocument]] = {}
    problems: list[Problem] = []
    unnamed: list[PolicyDocument] = []
    replies: dict[str, Macro] = {}
    for layer in layers:
        replies.update(getattr(layer, "replies", dict)())
        own = PolicyLibrary(layer.documents())  # two policies with one id in one layer is a mistake
        problems.extend(own.problems)
        kept = [doc for doc in own.documents if not doc.id or own.get(doc.id) is doc]
        for doc in reversed(kept):
            if not doc.id:
                unnamed.append(doc)
                continue
            if doc.id in winners:
                overridden.setdefault(doc.id, []).append(winners[doc.id])
                order.remove(doc.id)
            winners[doc.id] = doc
            order.insert(0, doc.id)
    library = PolicyLibrary([*(winners[i] for i in order), *unnamed], replies)
    library.problems.extend(problems)
    library.overridden = overridden
    return library


_cache: dict[tuple[tuple[str, str], ...], PolicyLibrary] = {}


def active_library(env: Mapping[str, str] = os.environ) -> PolicyLibrary:
    """The library every command and the worker use; re-read only when a layer's revision changes."""
    layers = library_layers(env)
    key = tuple((layer.name, layer.revision()) for layer in layers)
    library = _cache.get(key)
    if library is None:
        from connectors.tools import load_all_tools

        load_all_tools()  # tool references resolve against the whole registry
        library = resolve_layers(layers)
        _cache.clear()
        _cache[key] = library
    return library
