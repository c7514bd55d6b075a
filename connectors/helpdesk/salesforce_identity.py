"""Who a Salesforce session belongs to, asked of the org's own host: the OpenID Connect UserInfo endpoint.

Salesforce documents `GET https://<host>/services/oauth2/userinfo` with the session's token as a Bearer
header; it answers the session's `user_id` and `organization_id` (help.salesforce.com, "Query for User
Information"; the same endpoint answers on a My Domain or instance host). A session that is not valid
gets 401/403. It is used twice: to learn our own integration user, and to check that the Session ID an
Outbound Message carries is a live session of our org.

Only a host from our own configuration is ever called (never the EnterpriseUrl/PartnerUrl a message
names), so a forged message cannot make us call anywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import requests

USERINFO_PATH = "/services/oauth2/userinfo"


class SessionRefused(Exception):
    """Salesforce said the session is not valid (401/403)."""


class IdentityUnavailable(Exception):
    """Salesforce could not be asked (timeout, connection, 5xx, an unreadable answer): try again later."""


def org_host(env: Mapping[str, str]) -> str | None:
    """The configured host of our org: SALESFORCE_INSTANCE_URL, else the My Domain (SALESFORCE_DOMAIN)."""
    instance = (env.get("SALESFORCE_INSTANCE_URL") or "").strip()
    if instance:
        parsed = urlparse(instance if "://" in instance else f"https://{instance}")
        return f"https://{parsed.netloc}{parsed.path.rstrip('/')}"
    domain = (env.get("SALESFORCE_DOMAIN") or "").strip()
    if domain and domain not in ("login", "test"):
        return f"https://{domain}.salesforce.com"
    return None


def userinfo(
    host: str,
    token: str,
    *,
    session: requests.Session | None = None,
    verify: bool | str = True,
    timeout: float = 3.0,
) -> dict[str, Any]:
    """The UserInfo answer for `token` on `host` (ours); raises SessionRefused or IdentityUnavailable."""
    http = session or requests
    try:
        response = http.get(
            f"{host}{USERINFO_PATH}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            verify=verify,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise IdentityUnavailable(type(exc).__name__) from None
    if response.status_code in (401, 403):
        raise SessionRefused(str(response.status_code))
    if response.status_code != 200:
        raise IdentityUnavailable(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise IdentityUnavailable("unreadable answer") from None
    if not isinstance(body, dict):
        raise IdentityUnavailable("unreadable answer")
    return body
