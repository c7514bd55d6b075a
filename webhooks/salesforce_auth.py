"""Who sent this Outbound Message? Salesforce signs nothing, and the OrganizationId in a message is not
a secret (it shows in every Salesforce URL and email header), so it proves nothing on its own.

Two checks, either or both (at least one must be configured, else every message is refused):

- **A secret in the endpoint URL**: the Outbound Message's endpoint is
  `https://<app>/webhooks/salesforce?token=<SALESFORCE_WEBHOOK_URL_SECRET>`. Only Setup shows the URL;
  the token is compared in constant time.
- **The Session ID the message carries** (tick "Send Session ID"): SALESFORCE_VERIFY_SESSION_ID=true.
  The Session ID is checked by asking our own org's host (SALESFORCE_INSTANCE_URL or the My Domain)
  who it belongs to (connectors.helpdesk.salesforce_identity.userinfo): it must be a live session of
  SALESFORCE_ORG_ID. The message's EnterpriseUrl/PartnerUrl are never called (that would let a forged
  message make us call any host). The callback has a short timeout; a valid session is remembered
  for a few minutes under its SHA-256 (never the session itself), per process, so a burst of messages
  makes one callback, not one per message. Salesforce unreachable answers 503, so Salesforce retries.

Salesforce can also present a client certificate on its calls (mutual TLS). That check belongs to
whatever terminates TLS in front of gunicorn (a router or proxy that requests and verifies the client
certificate against Salesforce's published one, and passes a verified flag on); it is described in
the README and not done here.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

from connectors.helpdesk.salesforce_identity import IdentityUnavailable, SessionRefused, userinfo
from webhooks.responses import WebhookError, secret_equal
from webhooks.settings import WebhookSettings

log = logging.getLogger(__name__)

TOKEN_PARAM = "token"  # noqa: S105 - the query parameter name, not a secret
SESSION_CACHE_SECONDS = 300
SESSION_CACHE_SIZE = 256
CALLBACK_TIMEOUT = 3.0


def configured(settings: WebhookSettings) -> bool:
    return bool(settings.salesforce_url_secret or settings.salesforce_verify_session)


def check_url_token(query: Mapping[str, str], settings: WebhookSettings) -> None:
    """Before anything is parsed: no configured method is a 401, a wrong or missing token too."""
    if not configured(settings):
        log.warning("salesforce webhook refused: no sender authentication is configured")
        raise WebhookError(401, "sender authentication not configured")
    if settings.salesforce_url_secret and not secret_equal(
        query.get(TOKEN_PARAM) or "", settings.salesforce_url_secret
    ):
        raise WebhookError(401, "unknown sender")


class SessionVerifier:
    """Checks Outbound Message Session IDs against our org's UserInfo, remembering valid ones briefly.

    Only sessions Salesforce confirmed are remembered, so forged traffic cannot grow the cache; it is
    bounded anyway (least recently used out first)."""

    def __init__(self, settings: WebhookSettings):
        self.settings = settings
        self._valid: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, session_id: str | None) -> None:
        settings = self.settings
        if not settings.salesforce_verify_session:
            return
        if not session_id:
            raise WebhookError(401, "the message carries no Session ID")
        if not settings.salesforce_org_host:
            log.warning(
                "salesforce session check impossible: no SALESFORCE_INSTANCE_URL or SALESFORCE_DOMAIN"
            )
            raise WebhookError(401, "session verification not configured")
        key = hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()
        with self._lock:  # one callback at a time per process: a burst waits for the first answer
            if self._remembered(key):
                return
            try:
                info = userinfo(
                    settings.salesforce_org_host,
                    session_id,
                    verify=settings.ca_bundle or True,
                    timeout=CALLBACK_TIMEOUT,
                )
            except SessionRefused:
                raise WebhookError(401, "the Session ID is not a valid session") from None
            except IdentityUnavailable as exc:
                log.warning("salesforce session check unavailable: %s", exc)
                raise WebhookError(503, "cannot verify the sender now, retry later") from None
            org = str(info.get("organization_id") or "")
            if not (settings.salesforce_org_id and org[:15] == settings.salesforce_org_id[:15]):
                raise WebhookError(401, "the Session ID belongs to another organization")
            self._remember(key)

    def _remembered(self, key: str) -> bool:
        at = self._valid.get(key)
        if at is None or time.monotonic() - at > SESSION_CACHE_SECONDS:
            self._valid.pop(key, None)
            return False
        self._valid.move_to_end(key)
        return True

    def _remember(self, key: str) -> None:
        self._valid[key] = time.monotonic()
        while len(self._valid) > SESSION_CACHE_SIZE:
            self._valid.popitem(last=False)
