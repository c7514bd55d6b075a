"""Salesforce Outbound Messages (SOAP 1.1) on Case: OrganizationId check, then Notifications to events.

Salesforce signs nothing; the OrganizationId in the envelope is compared with SALESFORCE_ORG_ID on
its first 15 characters, because Setup shows the 15-character id and the message carries the
18-character one. The XML is parsed with defusedxml and DTDs are refused outright: an Outbound
Message never has one, and entity tricks are the classic attack on SOAP endpoints.

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
from defusedxml import ElementTree as SafeET

from webhooks.responses import WebhookError, clean_email
from webhooks.settings import WebhookSettings
from worker.events import TicketEvent

log = logging.getLogger(__name__)

HELPDESK = "salesforce"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OM_NS = "http://soap.sforce.com/2005/09/outbound"
SF_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
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


def parse(body: bytes, settings: WebhookSettings) -> list[TicketEvent]:
    """All notifications of one message as events; raises 400/401 WebhookErrors for bad messages."""
    notifications = _notifications_element(body)
    _check_org(_child_text(notifications, OM_NS, "OrganizationId"), settings)
    items = notifications.findall(f"{{{OM_NS}}}Notification")
    if not 1 <= len(items) <= MAX_NOTIFICATIONS:
        raise WebhookError(400, f"expected 1 to {MAX_NOTIFICATIONS} notifications, got {len(items)}")
    action_id = _child_text(notifications, OM_NS, "ActionId")
    return [_event(item, action_id, settings) for item in items]


def _notifications_element(body: bytes) -> StdET.Element:
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise WebhookError(400, "DTDs and entities are not accepted") from None
    except (StdET.ParseError, ValueError, RecursionError):
        raise WebhookError(400, "body is not well-formed XML") from None
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise WebhookError(400, "not a SOAP 1.1 envelope")
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OM_NS}}}notifications")
    if notifications is None:
        raise WebhookError(400, "no outbound-message notifications in the SOAP body")
    return notifications


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
    notification_id = _child_text(item, OM_NS, "Id")
    if not notification_id or not _SF_ID.match(notification_id):
        raise WebhookError(400, "notification without a valid Id")
    sobject = item.find(f"{{{OM_NS}}}sObject")
    if sobject is None:
        raise WebhookError(400, "notification without an sObject")
    case_id = _child_text(sobject, SF_NS, "Id")
    if not case_id or not _SF_ID.match(case_id):
        raise WebhookError(400, "sObject without a valid Id")
    fields = {name: _child_text(sobject, SF_NS, name) for name in _RAW_FIELDS}
    raw: dict[str, Any] = {"ActionId": action_id, **{k: v for k, v in fields.items() if v is not None}}

    modified_by = _child_text(sobject, SF_NS, "LastModifiedById")
    own = settings.salesforce_integration_user_id
    if own and modified_by and same_id(modified_by, own):
        log.info("salesforce case update by the integration user ignored ticket=%s", case_id)
        return TicketEvent(HELPDESK, case_id, "ignored", event_id=notification_id, raw=raw)

    reply_stamp = _child_text(sobject, SF_NS, settings.salesforce_reply_field)
    return TicketEvent(
        helpdesk=HELPDESK,
        ticket_id=case_id,
        kind="customer_message" if reply_stamp else "created",
        event_id=notification_id,
        subject=_child_text(sobject, SF_NS, "Subject") or "",
        text=_child_text(sobject, SF_NS, "Description") or "",
        requester_email=clean_email(_child_text(sobject, SF_NS, "SuppliedEmail")),
        requester_name=_child_text(sobject, SF_NS, "SuppliedName"),
        customer_id=fields["ContactId"]
        if fields["ContactId"] and _SF_ID.match(fields["ContactId"])
        else None,
        occurred_at=reply_stamp or fields["CreatedDate"],
        raw=raw,
    )


def _child_text(parent: StdET.Element, namespace: str, name: str) -> str | None:
    """The stripped text of a direct child, or None when absent, empty or xsi:nil."""
    child = parent.find(f"{{{namespace}}}{name}")
    if child is None or child.get(XSI_NIL) == "true":
        return None
    text = (child.text or "").strip()
    return text or None
