"""`policydesk policies`: which policies are active and where each came from; `init` copies the built-in
library into a store's own folder to start from."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import TextIO

from policies.document.layers import POLICIES_ENV, active_library
from policies.document.library import LIBRARY_DIR

__all__ = ["add_arguments", "policies_main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", nargs="?", default="list", choices=["list", "init", "diff", "export"], help="default: list"
    )
    parser.add_argument(
        "names",
        nargs="*",
        help="init: DIR; diff: ID [V1 V2]; export: DIR (one <id>.md per policy published in the studio)",
    )


def policies_main(args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "init":
        if len(args.names) != 1:
            out.write("usage: policydesk policies init DIR\n")
            return 2
        return init_folder(Path(args.names[0]), out)
    if args.action == "export":
        if len(args.names) != 1:
            out.write("usage: policydesk policies export DIR\n")
            return 2
        from policydesk.policy_export import export_published
        from worker.redis_conn import get_redis

        return export_published(get_redis(), Path(args.names[0]), out)
    if args.action == "diff":
        from policydesk.policy_diff import diff_main

        return diff_main(args.names, out)
    return list_policies(out)


def list_policies(out: TextIO) -> int:
    """One line per active policy: id, ticket types, version, and the layer it came from."""
    library = active_library()
    out.write(f"{'ID':<46} {'HANDLES':<16} {'VERSION':<22} FROM\n")
    for doc in library:
        version = f"{doc.version} ({doc.commit})" if doc.commit else doc.version
        source = doc.origin
        replaced = library.overridden.get(doc.id)
        if replaced:
            source += f" (overrides {', '.join(d.origin for d in replaced)})"
        if not doc.ok:
            source += " [has errors: see policydesk validate]"
        out.write(f"{doc.id or doc.path:<46} {','.join(doc.handles) or '-':<16} {version:<22} {source}\n")
    folders = os.environ.get(POLICIES_ENV)
    out.write(f"{len(library)} policies; {POLICIES_ENV}={folders or '(not set: built-in only)'}\n")
    return 0


def init_folder(folder: Path, out: TextIO) -> int:
    """Copy the built-in policies and the author's guide; a file already there is never overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    copied, kept = 0, []
    for source in sorted(LIBRARY_DIR.glob("*.md")):
        target = folder / source.name
        if target.exists():
            kept.append(source.name)
            continue
        shutil.copyfile(source, target)
        copied += 1
    out.write(f"copied {copied} files into {folder}\n")
    if kept:
        out.write(f"left as they were (already there): {', '.join(kept)}\n")
    out.write(
        f"use it with: export {POLICIES_ENV}={folder.resolve()}\n"
        "its policies override the built-in ones with the same id; delete the ones you do not change\n"
    )
    return 0
