"""The helpdesk account lookup policies call to verify a customer: `@get_helpdesk_account_details(email)`.

One tool for every helpdesk, the way `@get_tracking_info` is one tool for every tracker: it looks the
email up on the helpdesk the ticket came from, which the engine fills in from `$ticket.helpdesk`, so
a policy never branches on the helpdesk. The names of the seed documents
(`@get_kustomer_account_details`, `@get_freshdesk_account_details`, `@get_salesforce_account_details`)
are aliases of it.
"""

from __future__ import annotations

from connectors.config import HELPDESK_CONFIGS, PlatformConfig
from connectors.helpdesk import HELPDESKS, default_helpdesk
from connectors.models import Customer
from connectors.tools import register_platform, tool

PLATFORM = "helpdesk"  # the ticket's own helpdesk: always there
register_platform(PLATFORM, lambda env: PlatformConfig(PLATFORM, "", {}))
for _name, _lookup in HELPDESK_CONFIGS.items():
    register_platform(_name, _lookup)


@tool(
    platform=PLATFORM,
    from_context={"helpdesk": "ticket.helpdesk"},
    aliases=tuple(f"get_{name}_account_details" for name in HELPDESKS),
)
def get_helpdesk_account_details(email: str, helpdesk: str) -> Customer | None:
    """The customer with this email on the ticket's helpdesk (a Salesforce Contact, a Kustomer customer,
    a Freshdesk contact), or null when there is none."""
    if helpdesk not in HELPDESKS:
        raise ValueError(f"unknown helpdesk {helpdesk!r}")
    return default_helpdesk(helpdesk).find_customer(email)
