"""Built-in helpdesk tools as policies see them: declared in the registry, executed by the worker.

`@file_carrier_claim` and `@send_async_message` act on the ticket being handled, which a registry tool
cannot know about, so calling them here fails; the worker's port runs them (worker/builtin_tools.py).
"""

from __future__ import annotations

from typing import Any

from connectors.errors import NotConfigured
from connectors.helpdesk.tools import PLATFORM
from connectors.tools import tool


@tool(platform=PLATFORM, writes=True, guards=("verified_customer", "owns_order"))
def file_carrier_claim(order_id: str, reason: str) -> dict[str, Any]:
    """Record a carrier claim for a colleague to file (no supported platform has a claims API).

    Adds an internal note "Carrier claim to file" with the order, carrier, tracking number and
    reason, tags the ticket pd-claim, and returns {claim_id, status: "open"}. A person files it
    with the carrier; the same order on the same ticket always gets the same claim.
    """
    raise _outside_a_ticket("file_carrier_claim")


@tool(platform=PLATFORM, writes=True, guards=("verified_customer",))
def send_async_message(message: str) -> dict[str, Any]:
    """Send the customer a public follow-up message of its own, separate from the turn's reply
    (e.g. a written confirmation after a change was applied)."""
    raise _outside_a_ticket("send_async_message")


def _outside_a_ticket(name: str) -> NotConfigured:
    return NotConfigured(PLATFORM, f"{name} acts on a ticket and only runs inside the worker's ticket turn")
