"""Kustomer outbound webhooks: HMAC check on the raw body, then the envelope to TicketEvents.

Only two events start work: `kustomer.conversation.create` of a conversation the customer started
(`direction` "in"; "out" is one an agent or an outbound campaign started, not a ticket for us) and
an inbound `kustomer.message.create` (the customer wrote). Kustomer sends the conversation before
its first message (`messageCount` 0) and the two webhooks in either order; the worker classifies a
new ticket on its first customer message, whichever arrives first. Outbound messages are our own
replies echoing back and are ignored, which is the loop guard. Everything else (conversation.update,
customer.*) is acknowledged and ignored, so subscribing to more events never disables the webhook.
The envelope `id` is the delivery id Kustomer repeats on retries; it is what duplicates are dropped on.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import Headers

from webhooks.responses import WebhookError, clean_email, load_json_object, log_value
from webhooks.settings import WebhookSettings
from worker.events import TicketEvent

log = logging.getLogger(__name__)

HELPDESK = "kustomer"
SIGNATURE_HEADER = "X-Kustomer-Webhook-Signature"
# Kustomer ids are 24-hex ObjectIds; accept any short URL-safe id so a format change is not an outage.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def verify(headers: Mapping[str, str] | Headers, body: bytes, settings: WebhookSettings) -> None:
    """Raise 401 unless the signature is the hex HMAC-SHA256 of these exact bytes with our token."""
    secret = settings.kustomer_secret
    if not secret:
        log.warning("kustomer webhook refused: KUSTOMER_WEBHOOK_SECRET is not set")
        raise WebhookError(401, "webhook secret not configured")
    given = (headers.get(SIGNATURE_HEADER) or "").strip().lower()
    if not given:
        raise WebhookError(401, "missing signature")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise WebhookError(401, "bad signature")


def parse(body: bytes) -> list[TicketEvent]:
    """The delivery as events: one created/customer_message event, or one ignored event."""
    envelope = load_json_object(body)
    event_id = envelope.get("id")
    name = envelope.get("name")
    if not isinstance(name, str) or not name:
        raise WebhookError(400, "missing event name")
    if not isinstance(event_id, str) or not _ID.match(event_id):
        raise WebhookError(400, "missing or invalid event id")
    if name == "kustomer.conversation.create":
        return [_conversation_created(envelope, event_id)]
    if name == "kustomer.message.create":
        return [_message_created(envelope, event_id)]
    log.info("kustomer event ignored event=%s", log_value(name))
    return [_ignored(envelope, event_id, "")]


def _conversation_created(envelope: dict[str, Any], event_id: str) -> TicketEvent:
    data = _resource(envelope, "conversation")
    attributes = _dict(data.get("attributes"))
    ticket_id = _resource_id(data, "conversation id")
    if attributes.get("direction") == "out":
        log.info("kustomer conversation ignored direction=out ticket=%s", ticket_id)
        return _ignored(envelope, event_id, ticket_id)
    return TicketEvent(
        helpdesk=HELPDESK,
        ticket_id=ticket_id,
        kind="created",
        event_id=event_id,
        subject=_text(attributes.get("name")),
        customer_id=_related_id(data, "customer"),
        occurred_at=_text(attributes.get("createdAt")) or _text(envelope.get("createdAt")) or None,
        raw=envelope,
    )


def _message_created(envelope: dict[str, Any], event_id: str) -> TicketEvent:
    data = _resource(envelope, "message")
    attributes = _dict(data.get("attributes"))
    conversation_id = _related_id(data, "conversation")
    if conversation_id is None:
        raise WebhookError(400, "message has no conversation")
    direction = attributes.get("direction")
    if direction != "in":
        # "out" is an agent's or our own reply echoing back: acting on it would answer ourselves.
        log.info("kustomer message ignored direction=%s ticket=%s", log_value(direction), conversation_id)
        return _ignored(envelope, event_id, conversation_id)
    meta = _dict(attributes.get("meta"))
    return TicketEvent(
        helpdesk=HELPDESK,
        ticket_id=conversation_id,
        kind="customer_message",
        event_id=event_id,
        subject=_text(attributes.get("subject")),
        text=_text(attributes.get("preview")),
        requester_email=clean_email(meta.get("from")),
        message_id=_resource_id(data, "message id"),
        customer_id=_related_id(data, "customer"),
        occurred_at=_text(attributes.get("createdAt")) or _text(envelope.get("createdAt")) or None,
        raw=envelope,
    )


def _ignored(envelope: dict[str, Any], event_id: str, ticket_id: str) -> TicketEvent:
    return TicketEvent(
        helpdesk=HELPDESK, ticket_id=ticket_id, kind="ignored", event_id=event_id, raw=envelope
    )


def _resource(envelope: dict[str, Any], kind: str) -> dict[str, Any]:
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise WebhookError(400, f"missing {kind} data")
    return data


def _resource_id(data: dict[str, Any], what: str) -> str:
    value = data.get("id")
    if not isinstance(value, str) or not _ID.match(value):
        raise WebhookError(400, f"missing or invalid {what}")
    return value


def _related_id(data: dict[str, Any], relation: str) -> str | None:
    """relationships.<relation>.data.id, or None when absent; a present but unsafe id is a 400."""
    related = _dict(_dict(_dict(data.get("relationships")).get(relation)).get("data"))
    value = related.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not _ID.match(value):
        raise WebhookError(400, f"invalid {relation} id")
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
