"""Helpdesk tools policies call to verify a customer: `@get_<helpdesk>_account_details(email)`."""

from __future__ import annotations

from connectors.config import HELPDESK_CONFIGS
from connectors.helpdesk import default_helpdesk
from connectors.models import Customer
from connectors.tools import register_platform, tool

for _name, _lookup in HELPDESK_CONFIGS.items():
    register_platform(_name, _lookup)


@tool(platform="salesforce")
def get_salesforce_account_details(email: str) -> Customer | None:
    """The Salesforce Contact with this email, or null when there is none."""
    return default_helpdesk("salesforce").find_customer(email)


@tool(platform="kustomer")
def get_kustomer_account_details(email: str) -> Customer | None:
    """The Kustomer customer with this email, or null when there is none."""
    return default_helpdesk("kustomer").find_customer(email)


@tool(platform="freshdesk")
def get_freshdesk_account_details(email: str) -> Customer | None:
    """The Freshdesk contact with this email, or null when there is none."""
    return default_helpdesk("freshdesk").find_customer(email)
