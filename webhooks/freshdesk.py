"""Freshdesk "Trigger Webhook" deliveries: shared-secret check, then Simple or Advanced JSON to events.

Freshdesk signs nothing, so the rule's request must carry a secret we configured: HTTP Basic auth
(FRESHDESK_WEBHOOK_USER + FRESHDESK_WEBHOOK_PASSWORD, the rule's "Requires authentication") and/or
a token in the callback URL (FRESHDESK_WEBHOOK_URL_SECRET, `...?token=<secret>`). Either configured
method passing is enough; with neither configured every delivery is refused.

Two body formats are accepted (Encoding: JSON); docs/platforms/freshdesk.md has the sources.

* Simple content (the rule ticks the fields to send): `{"freshdesk_webhook": {...}}` whose keys are
  the placeholders' names with a `ticket_` prefix: `ticket_id` (a JSON number), `ticket_subject`,
  `ticket_description` (HTML), `ticket_contact_email`, `ticket_contact_name`,
  `ticket_latest_public_comment`, ... (older accounts: `ticket_requester_email`, `requester_name`).
  `triggered_event` is there only if the admin ticked it.

* Advanced content (recommended), one rule per event, with exactly this body::

      {"source": "freshdesk",
       "event": "ticket_created",
       "ticket_id": "{{ticket.id}}",
       "requester_email": "{{ticket.requester.email}}",
       "requester_name": "{{ticket.requester.name}}",
       "subject": "{{ticket.subject}}",
       "triggered_event": "{{triggered_event}}"}

  with `"event": "customer_reply"` in the rule for "Reply is sent" by the Requester. Only values
  that are safe without JSON escaping are placed in the body; the worker re-fetches the ticket and
  its conversations through the API for the text. If a subject or name with a quote still breaks
  the JSON, the delivery is salvaged from its leading `source`/`event`/`ticket_id` fields, because
  those are all the worker needs and a 400 would lose the ticket after Freshdesk's three retries.

What a delivery means comes from our `event`, else from `triggered_event` (Freshdesk's mini-syntax):
`{ticket_action:created}` is a new ticket; notes (`{note_type:...}`, an agent's act: a requester can
only reply) and status, priority, type, group or agent changes are acknowledged and ignored. Anything
else, including no event at all and the value "Reply is sent" produces (which no source records), is
never dropped: it is queued as a customer message, and the worker places it from the ticket itself
(a ticket it has not seen is a new ticket; otherwise it looks for a new incoming conversation).

Freshdesk sends no delivery id. A new ticket is deduplicated on "<ticket_id>:created"; a customer
message has event_id None and the worker dedupes on the conversation id it reads back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import Authorization, Headers

from webhooks.responses import WebhookError, clean_email, load_json_object, log_value, secret_equal
from webhooks.settings import WebhookSettings
from worker.events import EventKind, TicketEvent

log = logging.getLogger(__name__)

HELPDESK = "freshdesk"
TOKEN_PARAM = "token"  # noqa: S105 - the query parameter name, not a secret
ADVANCED_EVENTS: dict[str, EventKind] = {"ticket_created": "created", "customer_reply": "customer_message"}
_TICKET_ID = re.compile(r"^[0-9]{1,20}$")
_SALVAGE = re.compile(
    rb'^\s*\{\s*"source"\s*:\s*"freshdesk"\s*,\s*"event"\s*:\s*"(ticket_created|customer_reply)"\s*,'
    rb'\s*"ticket_id"\s*:\s*"?([0-9]{1,20})"?\s*[,}]'
)


def verify(headers: Mapping[str, str] | Headers, query: Mapping[str, str], settings: WebhookSettings) -> None:
    """Raise 401 unless a configured method (basic auth, URL token) matches, compared in constant time."""
    methods = []
    if settings.freshdesk_basic_configured:
        methods.append(_basic_ok(headers.get("Authorization"), settings))
    if settings.freshdesk_url_secret:
        methods.append(secret_equal(query.get(TOKEN_PARAM) or "", settings.freshdesk_url_secret))
    if not methods:
        log.warning(
            "freshdesk webhook refused: set FRESHDESK_WEBHOOK_USER and FRESHDESK_WEBHOOK_PASSWORD "
            "and/or FRESHDESK_WEBHOOK_URL_SECRET"
        )
        raise WebhookError(401, "webhook authentication not configured")
    if not any(methods):
        raise WebhookError(401, "bad credentials")


def _basic_ok(header: str | None, settings: WebhookSettings) -> bool:
    auth = Authorization.from_header(header)
    if auth is None or auth.type != "basic":
        return False
    user_ok = secret_equal(auth.username or "", settings.freshdesk_user or "")
    password_ok = secret_equal(auth.password or "", settings.freshdesk_password or "")
    return user_ok and password_ok


def parse(body: bytes) -> list[TicketEvent]:
    """One event per delivery: created, customer_message, or ignored."""
    try:
        payload = load_json_object(body)
    except WebhookError:
        salvaged = _salvage(body)
        if salvaged is None:
            raise
        return [salvaged]
    if "freshdesk_webhook" in payload:
        fields = payload["freshdesk_webhook"]
        if not isinstance(fields, dict):
            raise WebhookError(400, "freshdesk_webhook must be an object")
        return [_simple(fields)]
    if "event" in payload or payload.get("source") == "freshdesk":
        return [_advanced(payload)]
    raise WebhookError(400, "not a Freshdesk webhook body")


SIMPLE_EMAIL_KEYS = ("ticket_contact_email", "ticket_requester_email", "requester_email")
SIMPLE_NAME_KEYS = ("ticket_contact_name", "ticket_requester_name", "requester_name")


def _simple(fields: dict[str, Any]) -> TicketEvent:
    kind = classify_trigger(_string(fields, "triggered_event"))
    if kind == "ignored":
        return _ignored(fields)
    ticket_id = _ticket_id(fields.get("ticket_id"))
    return TicketEvent(
        helpdesk=HELPDESK,
        ticket_id=ticket_id,
        kind=kind,
        event_id=_event_id(ticket_id, kind),
        subject=_string(fields, "ticket_subject"),
        # No HTML work here: the worker reads the description through the API (a notification is
        # only a pointer), so a huge or hostile description costs the receiver nothing.
        text="",
        requester_email=clean_email(_first(fields, SIMPLE_EMAIL_KEYS)),
        requester_name=_first(fields, SIMPLE_NAME_KEYS) or None,
        raw=fields,
    )


def _first(fields: dict[str, Any], keys: tuple[str, ...]) -> str:
    """The first of several names a Simple field goes by that carries a value."""
    return next((value for value in (_string(fields, key) for key in keys) if value), "")


def _advanced(payload: dict[str, Any]) -> TicketEvent:
    event = payload.get("event")
    if isinstance(event, str) and event in ADVANCED_EVENTS:
        kind = ADVANCED_EVENTS[event]
    else:
        kind = classify_trigger(_string(payload, "triggered_event"))
        if event is not None:
            log.warning(
                "freshdesk event not ours event=%s: the worker places it from the ticket", log_value(event)
            )
    if kind == "ignored":
        return _ignored(payload)
    ticket_id = _ticket_id(payload.get("ticket_id"))
    return TicketEvent(
        helpdesk=HELPDESK,
        ticket_id=ticket_id,
        kind=kind,
        event_id=_event_id(ticket_id, kind),
        subject=_string(payload, "subject"),
        requester_email=clean_email(payload.get("requester_email")),
        requester_name=_string(payload, "requester_name") or None,
        raw=payload,
    )


def _salvage(body: bytes) -> TicketEvent | None:
    """Recover an Advanced body whose later values broke the JSON (unescaped quotes in a subject)."""
    match = _SALVAGE.match(body[:512])
    if not match:
        return None
    kind = ADVANCED_EVENTS[match.group(1).decode()]
    ticket_id = match.group(2).decode()
    log.warning("freshdesk body is not valid JSON; salvaged ticket=%s kind=%s", ticket_id, kind)
    return TicketEvent(
        helpdesk=HELPDESK,
        ticket_id=ticket_id,
        kind=kind,
        event_id=_event_id(ticket_id, kind),
        raw={"salvaged": True},
    )


def _ignored(fields: dict[str, Any]) -> TicketEvent:
    ticket_id = fields.get("ticket_id")
    if isinstance(ticket_id, int) and not isinstance(ticket_id, bool):
        ticket_id = str(ticket_id)
    safe_id = ticket_id if isinstance(ticket_id, str) and _TICKET_ID.match(ticket_id) else ""
    return TicketEvent(helpdesk=HELPDESK, ticket_id=safe_id, kind="ignored", raw=fields)


def _event_id(ticket_id: str, kind: EventKind) -> str | None:
    return f"{ticket_id}:created" if kind == "created" else None


def _ticket_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _TICKET_ID.match(value.strip()):
        raise WebhookError(400, "ticket_id must be digits")
    return value.strip()


def _string(fields: dict[str, Any], key: str) -> str:
    """A text field: Freshdesk renders every value as a string; an unrendered placeholder is empty."""
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WebhookError(400, f"{key} must be a string")
    value = value.strip()
    return "" if value.startswith("{{") and value.endswith("}}") else value


# --- triggered_event mini-syntax -------------------------------------------------------------------


# Events that are nobody's message to us: notes are an agent's act (a requester can only reply), and
# property changes are made by agents, rules or our own API writes.
NOT_CUSTOMER_EVENTS = frozenset(
    {"note_type", "status", "priority", "ticket_type", "group_id", "responder_id", "group", "agent"}
)


def classify_trigger(text: str) -> EventKind:
    """{ticket_action:created} -> created; notes and property changes -> ignored; anything else
    (a reply, an event we do not know, no event at all) -> customer_message, placed by the worker."""
    event = parse_trigger(text) if text else None
    if event is not None and event.get("ticket_action") == "created":
        return "created"
    if event is not None and NOT_CUSTOMER_EVENTS & event.keys():
        return "ignored"
    if event is None or not any(_reply_like(k) or _reply_like(v) for k, v in event.items()):
        log.warning(
            "freshdesk delivery without a known event (triggered_event=%s): the worker places it",
            log_value(text) if text else "none",
        )
    return "customer_message"


def _reply_like(value: Any) -> bool:
    return isinstance(value, str) and "repl" in value.lower()


def parse_trigger(text: str) -> dict[str, Any] | None:
    """`{key:value,key:{k:v}}` (unquoted, possibly nested) to a dict; None if it is anything else."""
    parser = _TriggerParser(text.strip())
    try:
        result = parser.value(depth=0)
    except ValueError:
        return None
    if not isinstance(result, dict) or parser.pos != len(parser.text):
        return None
    return result


class _TriggerParser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def value(self, depth: int) -> Any:
        if depth > 4:
            raise ValueError("too deep")
        if self._peek() == "{":
            return self._object(depth)
        return self._scalar()

    def _object(self, depth: int) -> dict[str, Any]:
        self.pos += 1
        result: dict[str, Any] = {}
        if self._peek() == "}":
            self.pos += 1
            return result
        while True:
            key = self._scalar()
            if self._peek() != ":" or not key:
                raise ValueError("expected key:value")
            self.pos += 1
            result[key] = self.value(depth + 1)
            separator = self._peek()
            self.pos += 1
            if separator == "}":
                return result
            if separator != ",":
                raise ValueError("expected , or }")

    def _scalar(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in "{}:,":
            self.pos += 1
        return self.text[start : self.pos].strip()

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""
