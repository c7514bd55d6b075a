"""Offer variants: a policy may declare `variants:` (e.g. which retention offer comes first), and every
ticket is assigned one of them, exposed to its flow as `$variant`.

The assignment is a hash of the helpdesk and the ticket id over the declared names, not a random
draw: a retried task, a second worker or a replayed turn must put the same ticket in the same
variant, or a customer would see the offers change order mid-conversation and the outcome would be
counted against the wrong variant. Outcomes are counted per variant in worker/offers.py.

Front matter, as a CX manager writes it (a list of names also works):

    variants:
      A: discount first
      B: shipping upgrade first
      C: coupon first
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["VARIANT_NAME", "assign_variant", "declared_variants", "parse_variants", "variant_for"]

VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_VARIANTS = 10


def parse_variants(value: Any) -> tuple[dict[str, str], list[str]]:
    """The declared variants (name -> description, in the written order) and what is wrong with them.

    Quoted names are text in YAML, but an unquoted `1:` is a number; both are accepted as names.
    """
    if value is None:
        return {}, []
    if isinstance(value, dict):
        pairs = [(name, description) for name, description in value.items()]
    elif isinstance(value, list):
        pairs = [(name, "") for name in value]
    else:
        return {}, ["variants must be a list of names or 'name: description' lines"]
    variants: dict[str, str] = {}
    problems: list[str] = []
    for name, description in pairs:
        label = str(name).strip() if isinstance(name, str | int) and not isinstance(name, bool) else ""
        if not VARIANT_NAME.match(label):
            problems.append(f"variant name {name!r} must be letters, digits, '-' or '_' (at most 32)")
            continue
        if label in variants:
            problems.append(f"variant {label!r} is declared twice")
            continue
        if description is not None and not isinstance(description, str | int | float):
            problems.append(f"variant {label!r}: the description must be text")
            continue
        variants[label] = str(description or "").strip()
    if len(variants) > MAX_VARIANTS:
        problems.append(f"at most {MAX_VARIANTS} variants")
        variants = dict(list(variants.items())[:MAX_VARIANTS])
    return variants, problems


def assign_variant(variants: Sequence[str], helpdesk: str, ticket_id: str) -> str | None:
    """The variant of one ticket: stable for (helpdesk, ticket id), spread evenly over the names."""
    names = list(variants)
    if not names:
        return None
    digest = hashlib.sha256(f"{helpdesk}:{ticket_id}".encode()).digest()
    return names[int.from_bytes(digest[:8], "big") % len(names)]


def declared_variants(doc: Any) -> list[str]:
    """The variant names a policy document declares, in order; [] when it declares none."""
    return list(getattr(doc, "variants", None) or [])


def variant_for(doc: Any, helpdesk: str, ticket_id: str) -> str | None:
    """What the pipeline puts in the flow context as `variant` for a ticket routed to `doc`."""
    if doc is None:
        return None
    return assign_variant(declared_variants(doc), helpdesk, ticket_id)
