"""Platform credentials and base URLs, from the environment only (12-factor).

A platform whose credentials are unset is off: `platform_config` returns None for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformConfig:
    """Everything a connector needs to reach one platform."""

    platform: str
    base_url: str
    credentials: Mapping[str, str]
    verify: bool | str = True

    def secret(self, name: str) -> str:
        return self.credentials[name]


@contextmanager
def overridden_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables while the block runs, then put back what was
    there: connectors read os.environ when called, so a run pointed at another platform (the sandbox
    of `policydesk simulate`) is pointed back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            _set(key, value)
        yield
    finally:
        for key, value in saved.items():
            _set(key, value)


def _set(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def tls_verify(env: Mapping[str, str]) -> bool | str:
    """A CA bundle path (the sandbox's generated certificate) or True for the system store."""
    return env.get("POLICYDESK_CA_BUNDLE") or True


def freshdesk_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    key = env.get("FRESHDESK_API_KEY")
    base = env.get("FRESHDESK_BASE_URL") or (
        f"https://{env['FRESHDESK_DOMAIN']}.freshdesk.com/api/v2" if env.get("FRESHDESK_DOMAIN") else None
    )
    if not key or not base:
        return None
    return PlatformConfig("freshdesk", base, {"api_key": key}, tls_verify(env))


def kustomer_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    key = env.get("KUSTOMER_API_KEY")
    base = env.get("KUSTOMER_BASE_URL") or (
        f"https://{env['KUSTOMER_ORG']}.api.kustomerapp.com/v1" if env.get("KUSTOMER_ORG") else None
    )
    if not key or not base:
        return None
    return PlatformConfig("kustomer", base, {"api_key": key}, tls_verify(env))


SALESFORCE_CREDENTIAL_VARS = {
    "instance_url": "SALESFORCE_INSTANCE_URL",
    "access_token": "SALESFORCE_ACCESS_TOKEN",
    "username": "SALESFORCE_USERNAME",
    "password": "SALESFORCE_PASSWORD",
    "security_token": "SALESFORCE_SECURITY_TOKEN",
    "domain": "SALESFORCE_DOMAIN",
    "consumer_key": "SALESFORCE_CONSUMER_KEY",
    "consumer_secret": "SALESFORCE_CONSUMER_SECRET",
    "api_version": "SALESFORCE_API_VERSION",
}


def salesforce_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    """Either an instance URL with an access token, or a login (password or client credentials)."""
    creds = {name: env[var] for name, var in SALESFORCE_CREDENTIAL_VARS.items() if env.get(var)}
    has_session = "instance_url" in creds and "access_token" in creds
    has_password = "username" in creds and "password" in creds
    has_client = "consumer_key" in creds and "consumer_secret" in creds and "domain" in creds
    if not (has_session or has_password or has_client):
        return None
    return PlatformConfig("salesforce", creds.get("instance_url", ""), creds, tls_verify(env))


HELPDESK_CONFIGS = {
    "freshdesk": freshdesk_config,
    "kustomer": kustomer_config,
    "salesforce": salesforce_config,
}
