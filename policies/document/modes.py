"""How far a policy acts on real tickets: its roll-out mode.

- `live`: the policy answers customers and makes its writes (the default).
- `draft`: it runs on the simulation runtime; its reply and the writes it would make are posted as
  one internal note for a person to send, edit or ignore; the ticket stays with people.
- `shadow`: it runs on the simulation runtime and posts nothing; the ticket goes to people as if
  policydesk were not there, and the trace is kept for review.
- `off`: it does not run; the ticket goes to people with the usual triage note.

The mode is the policy's front matter `mode`, overridden without a deploy of the policy by
POLICYDESK_POLICY_MODES: comma-separated `policy-id=mode` pairs, `*=mode` for every policy
(a policy's own pair wins over `*`). An unknown mode in the variable is ignored for that policy
(the front matter holds), and `policydesk validate` reports a bad front matter mode.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, cast

from policies.document.loader import MODES, PolicyDocument

__all__ = ["MODES", "Mode", "mode_overrides", "policy_mode"]

Mode = Literal["live", "draft", "shadow", "off"]
MODES_VAR = "POLICYDESK_POLICY_MODES"
EVERY_POLICY = "*"


def mode_overrides(env: Mapping[str, str] = os.environ) -> dict[str, Mode]:
    overrides: dict[str, Mode] = {}
    for pair in (env.get(MODES_VAR) or "").split(","):
        policy, sep, mode = pair.partition("=")
        policy, mode = policy.strip(), mode.strip().lower()
        if sep and policy and mode in MODES:
            overrides[policy] = cast(Mode, mode)
    return overrides


def policy_mode(doc: PolicyDocument | None, env: Mapping[str, str] = os.environ) -> Mode:
    if doc is None:
        return "live"
    overrides = mode_overrides(env)
    chosen = overrides.get(doc.id) or overrides.get(EVERY_POLICY) or doc.mode
    return cast(Mode, chosen if chosen in MODES else "live")
