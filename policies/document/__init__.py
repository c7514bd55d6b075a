"""A policy document and its library: reading the Markdown and its `## Flow`, the library of all
policies, and the linter behind `policydesk validate`.

Entry point: `read_policy` / `parse_policy` (one document), `PolicyLibrary` (all of them, by id,
title or `#Reference`) and `lint_library` (problems with `file:line`). Variants, roll-out modes and
the `@` tool menu are parts of the document and live beside it. The document refers to ticket types
and requests that `policies.understanding` defines; it never depends on the engines that run it.
"""

from policies.document.library import LIBRARY_DIR, PolicyLibrary
from policies.document.lint import lint_document, lint_library
from policies.document.loader import PolicyDocument, Problem, Step, parse_policy, read_policy

__all__ = [
    "LIBRARY_DIR",
    "PolicyDocument",
    "PolicyLibrary",
    "Problem",
    "Step",
    "lint_document",
    "lint_library",
    "parse_policy",
    "read_policy",
]
