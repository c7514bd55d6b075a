"""Receiver settings, read from the environment when an app is built.

Read once per app rather than at import so that one process (the tests, a demo) can build apps with
different secrets; never cached globally. Every name here is in the README.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.helpdesk.salesforce_identity import org_host

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_SALESFORCE_REPLY_FIELD = "Last_Customer_Reply__c"
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


class SettingsError(ValueError):
    """A receiver setting is present but unusable; raised at startup so the deploy fails loudly."""


@dataclass(frozen=True)
class WebhookSettings:
    max_body_bytes: int
    kustomer_secret: str | None
    freshdesk_user: str | None
    freshdesk_password: str | None
    freshdesk_url_secret: str | None
    salesforce_org_id: str | None
    salesforce_reply_field: str
    salesforce_integration_user_id: str | None
    salesforce_url_secret: str | None = None
    salesforce_verify_session: bool = False
    salesforce_org_host: str | None = None  # where Session IDs are checked: our instance or My Domain
    ca_bundle: str | None = None

    @property
    def freshdesk_basic_configured(self) -> bool:
        """Basic auth counts only with both halves: a user with an empty password would accept anyone."""
        return bool(self.freshdesk_user and self.freshdesk_password)


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def _max_body(env: Mapping[str, str]) -> int:
    raw = (env.get("POLICYDESK_MAX_BODY_BYTES") or "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(
            f"POLICYDESK_MAX_BODY_BYTES must be a whole number of bytes, got {raw!r}"
        ) from None
    if value <= 0:
        raise SettingsError("POLICYDESK_MAX_BODY_BYTES must be positive")
    return value


def _reply_field(env: Mapping[str, str]) -> str:
    name = _optional(env, "SALESFORCE_REPLY_FIELD") or DEFAULT_SALESFORCE_REPLY_FIELD
    if not _FIELD_NAME.match(name):
        raise SettingsError(f"SALESFORCE_REPLY_FIELD is not a Salesforce field API name: {name!r}")
    return name


def load_settings(env: Mapping[str, str] = os.environ) -> WebhookSettings:
    return WebhookSettings(
        max_body_bytes=_max_body(env),
        kustomer_secret=_optional(env, "KUSTOMER_WEBHOOK_SECRET"),
        freshdesk_user=_optional(env, "FRESHDESK_WEBHOOK_USER"),
        freshdesk_password=_optional(env, "FRESHDESK_WEBHOOK_PASSWORD"),
        freshdesk_url_secret=_optional(env, "FRESHDESK_WEBHOOK_URL_SECRET"),
        salesforce_org_id=_optional(env, "SALESFORCE_ORG_ID"),
        salesforce_reply_field=_reply_field(env),
        salesforce_integration_user_id=_optional(env, "SALESFORCE_INTEGRATION_USER_ID"),
        salesforce_url_secret=_optional(env, "SALESFORCE_WEBHOOK_URL_SECRET"),
        salesforce_verify_session=(_optional(env, "SALESFORCE_VERIFY_SESSION_ID") or "").lower()
        in ("1", "true", "yes"),
        salesforce_org_host=org_host(env),
        ca_bundle=_optional(env, "POLICYDESK_CA_BUNDLE"),
    )
