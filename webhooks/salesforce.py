"""Salesforce Outbound Messages (SOAP 1.1) on Case: sender checks, then Notifications to events.

Salesforce signs nothing. The sender is authenticated by webhooks.salesforce_auth (a secret in the
endpoint URL and/or the message's Session ID checked with our own org); the OrganizationId in the
envelope is then compared with SALESFORCE_ORG_ID on its first 15 characters, because Setup shows the
15-character id and the message carries the 18-character one. The org id alone proves nothing.
The XML is parsed with defusedxml and DTDs are refused outright: an Outbound Message never has
one, and entity tricks are the classic attack on SOAP endpoints.

A Case notification is a customer reply when it carries the reply stamp a Flow writes on the Case
for each incoming EmailMessage (SALESFORCE_REPLY_FIELD, default Last_Customer_Reply__c), otherwise a
new case. Case updates made by our own integration user (SALESFORCE_INTEGRATION_USER_ID) re-fire
the Outbound Message; they are ignored so the worker never answers its own writes. The SessionId a
message may carry is a live credential and is never copied into the event.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as StdET
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from webhooks.responses import WebhookError, clean_email
from webhooks.salesforce_auth import SessionVerifier
from webhooks.settings import WebhookSettings
from worker.events import TicketEvent

log = logging.getLogger(__name__)

HELPDESK = "salesforce"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OM_NS = "http://soap.sforce.com/2005/09/outbound"
SF_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
_SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
# The sObject fields copied into the event's raw record (never SessionId, never the whole XML).
_RAW_FIELDS = (
    "CaseNumber",
    "Status",
    "Origin",
    "Priority",
    "ContactId",
    "AccountId",
    "OwnerId",
    "CreatedDate",
)


def expat_name(namespace: str, name: str) -> str:
    """A qualified name as expat reports it: "uri}local", without ElementTree's leading "{"."""
    return f"{namespace}}}{name}"


# Every name looked up, built once: the parser below keeps expat's own "uri}local" spelling.
_ENVELOPE = expat_name(SOAP_NS, "Envelope")
_BODY = expat_name(SOAP_NS, "Body")
_NOTIFICATIONS = expat_name(OM_NS, "notifications")
_NOTIFICATION = expat_name(OM_NS, "Notification")
_ORGANIZATION_ID = expat_name(OM_NS, "OrganizationId")
_ACTION_ID = expat_name(OM_NS, "ActionId")
_SESSION_ID = expat_name(OM_NS, "SessionId")
_NOTIFICATION_ID = expat_name(OM_NS, "Id")
_SOBJECT = expat_name(OM_NS, "sObject")
_XSI_NIL = expat_name(XSI_NS, "nil")
_SF_PREFIX = expat_name(SF_NS, "")


def parse(
    body: bytes, settings: WebhookSettings, sessions: SessionVerifier | None = None
) -> list[TicketEvent]:
    """All notifications of one message as events; raises 400/401/503 WebhookErrors for bad messages.

    `sessions` checks the Session ID the message carries when SALESFORCE_VERIFY_SESSION_ID is on."""
    notifications = _notifications_element(body)
    fields = _first_children(notifications)
    _check_org(_text(fields.get(_ORGANIZATION_ID)), settings)
    (sessions or SessionVerifier(settings)).check(_text(fields.get(_SESSION_ID)))
    items = [child for child in notifications if child.tag == _NOTIFICATION]
    if not 1 <= len(items) <= MAX_NOTIFICATIONS:
        raise WebhookError(400, f"expected 1 to {MAX_NOTIFICATIONS} notifications, got {len(items)}")
    action_id = _text(fields.get(_ACTION_ID))
    return [_event(item, action_id, settings) for item in items]


def parse_xml(body: bytes) -> StdET.Element:
    """defusedxml's parser with all its guards, but with the tree built in C.

    defusedxml.ElementTree.fromstring sends every element through the pure-Python XMLParser
    (qualified-name fixing, attribute dicts), which cost more than the rest of the parse. Here the
    DefusedXMLParser still installs its DTD, entity and external-reference handlers on the expat
    parser, and only expat's element events go straight to the C TreeBuilder. Tags and attribute
    names therefore keep expat's "uri}local" form (see expat_name), and children are looked up by
    comparing tags rather than with ElementPath, which would read the URI's slashes as a path.
    Raises DefusedXmlException for DTDs and entities, ParseError for anything not well-formed.
    """
    builder = StdET.TreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    expat = parser.parser
    expat.ordered_attributes = False  # attributes as the dict TreeBuilder.start takes
    expat.StartElementHandler = builder.start
    expat.EndElementHandler = builder.end
    parser.feed(body)
    return parser.close()


def _notifications_element(body: bytes) -> StdET.Element:
    try:
        root = parse_xml(body)
    except DefusedXmlException:
        raise WebhookError(400, "DTDs and entities are not accepted") from None
    except (StdET.ParseError, ValueError, LookupError, RecursionError):
        # LookupError: an XML declaration naming an encoding Python does not know.
        raise WebhookError(400, "body is not well-formed XML") from None
    if root.tag != _ENVELOPE:
        raise WebhookError(400, "not a SOAP 1.1 envelope")
    for soap_body in root:
        if soap_body.tag == _BODY:
            notifications = _first_children(soap_body).get(_NOTIFICATIONS)
            if notifications is not None:
                return notifications
    raise WebhookError(400, "no outbound-message notifications in the SOAP body")


def _check_org(given: str | None, settings: WebhookSettings) -> None:
    expected = settings.salesforce_org_id
    if not expected:
        log.warning("salesforce webhook refused: SALESFORCE_ORG_ID is not set")
        raise WebhookError(401, "organization not configured")
    if not given or not _SF_ID.match(given) or not same_id(given, expected):
        raise WebhookError(401, "unknown organization")


def same_id(a: str, b: str) -> bool:
    """Salesforce ids compare on their case-sensitive 15-character form (18-char adds a checksum)."""
    return len(a) >= 15 and len(b) >= 15 and a[:15] == b[:15]


def _event(item: StdET.Element, action_id: str | None, settings: WebhookSettings) -> TicketEvent:
    notification = _first_children(item)
    notification_id = _text(notification.get(_NOTIFICATION_ID))
    if not notification_id or not _SF_ID.match(notification_id):
        raise WebhookError(400, "notification without a valid Id")
    sobject = notification.get(_SOBJECT)
    if sobject is None:
        raise WebhookError(400, "notification without an sObject")
    case = _case_fields(sobject)
    case_id = case.get("Id")
    if not case_id or not _SF_ID.match(case_id):
        raise WebhookError(400, "sObject without a valid Id")
    fields = {name: case.get(name) for name in _RAW_FIELDS}
    raw: dict[str, Any] = {"ActionId": action_id, **{k: v for k, v in fields.items() if v is not None}}

    modified_by = case.get("LastModifiedById")
    own = settings.salesforce_integration_user_id
    if own and modified_by and same_id(modified_by, own):
        log.info("salesforce case update by the integration user ignored ticket=%s", case_id)
        return TicketEvent(HELPDESK, case_id, "ignored", event_id=notification_id, raw=raw)

    reply_stamp = case.get(settings.salesforce_reply_field)
    return TicketEvent(
        helpdesk=HELPDESK,
        ticket_id=case_id,
        kind="customer_message" if reply_stamp else "created",
        event_id=notification_id,
        subject=case.get("Subject") or "",
        text=case.get("Description") or "",
        requester_email=clean_email(case.get("SuppliedEmail")),
        requester_name=case.get("SuppliedName"),
        customer_id=fields["ContactId"]
        if fields["ContactId"] and _SF_ID.match(fields["ContactId"])
        else None,
        occurred_at=reply_stamp or fields["CreatedDate"],
        raw=raw,
    )


def _first_children(parent: StdET.Element) -> dict[str, StdET.Element]:
    """The direct children by tag, the first of each tag winning (as Element.find would pick it).

    One pass per element instead of one scan per field looked up.
    """
    children: dict[str, StdET.Element] = {}
    for child in parent:
        children.setdefault(child.tag, child)
    return children


def _case_fields(sobject: StdET.Element) -> dict[str, str | None]:
    """The sObject's fields by name, as text (None when empty or xsi:nil).

    Only the Salesforce namespace counts, and the first of a repeated field wins.
    """
    fields: dict[str, str | None] = {}
    for child in sobject:
        if child.tag.startswith(_SF_PREFIX):
            fields.setdefault(child.tag[len(_SF_PREFIX) :], _text(child))
    return fields


def _text(child: StdET.Element | None) -> str | None:
    """The stripped text of a child, or None when absent, empty or xsi:nil."""
    if child is None or child.get(_XSI_NIL) == "true":
        return None
    text = (child.text or "").strip()
    return text or None
