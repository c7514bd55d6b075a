"""The policy library: every policy document, found by id, by title or by a `#Policy Name` reference.

CX managers refer to policies the way they name them in prose ("#Reshipment Policy", "#reshipment",
"#wismo-kustomer-shipengine"), so lookups ignore case, punctuation and a trailing word "policy".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from policies.document.loader import (
    Macro,
    PolicyDocument,
    Problem,
    inherit_replies,
    parse_replies,
    read_policy,
)

__all__ = ["LIBRARY_DIR", "REPLIES_FILE", "PolicyLibrary", "policy_key", "read_replies"]

LIBRARY_DIR = Path(__file__).parents[1] / "library"
REPLIES_FILE = "replies.md"  # the replies every policy shares (a policy's own macro of a name wins)
SKIP_FILES = {"readme.md", REPLIES_FILE}


def read_replies(folder: Path) -> tuple[dict[str, Macro], list[Problem]]:
    """A folder's shared replies; none when it has no replies.md."""
    path = folder / REPLIES_FILE
    if not path.is_file():
        return {}, []
    return parse_replies(path.read_text(encoding="utf-8", errors="replace"), str(path))


def policy_key(reference: str) -> str:
    """`#Reshipment Policy` -> 'reshipment'; the form every lookup compares."""
    key = re.sub(r"[^a-z0-9]", "", reference.lstrip("#@ ").lower())
    return key.removesuffix("policy") or key


class PolicyLibrary:
    def __init__(self, documents: Iterable[PolicyDocument] = (), replies: dict[str, Macro] | None = None):
        """replies: the shared replies, given to every policy that does not define one of that name."""
        self.documents: list[PolicyDocument] = list(documents)
        self.replies: dict[str, Macro] = dict(replies or {})
        if replies is not None:
            for doc in self.documents:
                inherit_replies(doc, self.replies)
        self.problems: list[Problem] = []
        # policies of earlier layers that a later one replaced, by id (policies.document.layers)
        self.overridden: dict[str, list[PolicyDocument]] = {}
        self._by_id: dict[str, PolicyDocument] = {}
        self._by_key: dict[str, PolicyDocument] = {}
        for doc in self.documents:
            if not doc.id:
                continue
            if doc.id in self._by_id:
                first = self._by_id[doc.id]
                self.problems.append(
                    Problem(
                        doc.path, doc.field_line("id"), f"policy id {doc.id!r} is also used by {first.path}"
                    )
                )
                continue
            self._by_id[doc.id] = doc
            for key in (policy_key(doc.id), policy_key(doc.title)):
                if key:
                    self._by_key.setdefault(key, doc)

    @classmethod
    def load(cls, paths: Iterable[str | Path] | None = None) -> PolicyLibrary:
        """Policies from files and folders (every *.md but README.md and replies.md), with the shared
        replies of those folders (a later folder's reply wins); by default the built-in library."""
        files: list[Path] = []
        replies: dict[str, Macro] = {}
        problems: list[Problem] = []
        for path in [Path(p) for p in (paths if paths is not None else [LIBRARY_DIR])]:
            if path.is_dir():
                files.extend(sorted(p for p in path.glob("*.md") if p.name.lower() not in SKIP_FILES))
                found, bad = read_replies(path)
                replies.update(found)
                problems.extend(bad)
            else:
                files.append(path)
        library = cls((read_policy(path) for path in files), replies)
        library.problems.extend(problems)
        return library

    def __iter__(self):
        return iter(self.documents)

    def __len__(self) -> int:
        return len(self.documents)

    def get(self, policy_id: str) -> PolicyDocument | None:
        return self._by_id.get(policy_id)

    def find(self, reference: str) -> PolicyDocument | None:
        """By id, title or #reference, case- and punctuation-insensitively."""
        if reference in self._by_id:
            return self._by_id[reference]
        return self._by_key.get(policy_key(reference))

    def resolve_mention(self, mention: str) -> PolicyDocument | None:
        """A `#Name` in prose may run into the next capitalised words: try the longest prefix first."""
        words = mention.split()
        for end in range(len(words), 0, -1):
            doc = self.find(" ".join(words[:end]))
            if doc is not None:
                return doc
        return None

    def for_ticket(self, ticket_type: str, helpdesk: str | None = None) -> PolicyDocument | None:
        """The policy for this ticket type on this helpdesk (a policy without `helpdesks` serves all)."""
        for doc in self.documents:
            if not doc.ok or ticket_type not in doc.handles:
                continue
            if helpdesk is None or not doc.helpdesks or helpdesk in doc.helpdesks:
                return doc
        return None
