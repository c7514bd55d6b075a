"""Save as test: a tried conversation kept as a policy test, in the conversation suite's format.

A policy test is a conversation file (tests/conversation_suite/README.md) with `policy:` naming the
policy it runs: the customer (a sandbox world customer by email, or an anonymous visitor), the opener,
the later turns and what should happen: the end state the trial reached and the store writes it would
have made. They are kept in Redis (worker.saved_tests) and written by `policydesk policies export
DIR` as `DIR/tests/<policy>/<test>.yaml`, the layout the library's own tests use.
"""

from __future__ import annotations

import re
from typing import Any

from studio.trial import Trial, TrialResult, sandbox_customers

__all__ = ["policy_test"]


def _suite() -> Any:
    """The conversation suite's module: it knows the world, so it ships with the sandbox."""
    try:
        from policydesk import conversation_suite
    except ImportError as exc:
        raise ValueError(
            "saving tests needs the sandbox's world (install policydesk with the sandbox)"
        ) from exc
    return conversation_suite


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "test"


def policy_test(name: str, trial: Trial, result: TrialResult) -> dict[str, Any]:
    messages = [m for m in trial.messages if m.strip()]
    if not messages or result.policy is None:
        raise ValueError("a test needs a conversation with a policy: say something first")
    customer = next((c for c in sandbox_customers() if c["id"] == trial.customer_id), None)
    suite = _suite()
    writes = [suite.describe_would_write(e["tool"], e.get("args") or {}) for e in result.would_writes]
    spec: dict[str, Any] = {
        "id": _slug(name),
        "title": name,
        "policy": result.policy,
        "helpdesk": trial.helpdesk,
    }
    if result.ticket_type:
        spec["type"] = result.ticket_type
    if customer is not None:
        spec["customer"] = customer["email"]
    else:
        spec["visitor"] = True
    spec["opener"] = {"text": messages[0]}
    spec["turns"] = messages[1:]
    spec["expect"] = {"state": result.end.get("status"), "writes": [w for w in writes if w is not None]}
    try:
        suite.check_conversation(spec, spec["id"])  # the suite's schema and the world: ValueError if refused
    except ImportError as exc:  # the schema check needs jsonschema, a test dependency
        raise ValueError(f"saving tests needs the test dependencies ({exc.name})") from exc
    return spec
