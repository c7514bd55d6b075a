"""What each helpdesk would POST to our receivers for a ticket: for stack tests, the demo and benchmarks.

The bodies follow the vendors' documented formats (the same shapes as tests/fixtures), and are built
independently of the receivers' parsers on purpose: a test that round-trips through both then checks
the parser against the vendor format, not against itself. Every call gets fresh delivery ids, so two
calls are two deliveries; post the same Delivery twice to simulate a sender's retry.

    delivery = kustomer_customer_message("66a1f0c1aa11bb22cc33dd44", "66a1eff0aa00bb00cc00dd00", "Hi")
    delivery.authenticated(os.environ).post("http://127.0.0.1:8000", session)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import requests

KUSTOMER_SIGNATURE_HEADER = "X-Kustomer-Webhook-Signature"
KUSTOMER_EVENT_HEADER = "X-Kustomer-Webhook-Event"
FRESHDESK_TOKEN_PARAM = "token"  # noqa: S105 - the query parameter name, not a secret
DEFAULT_REPLY_FIELD = "Last_Customer_Reply__c"
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Delivery:
    """One webhook request: where it goes, its exact body bytes, and its headers and query.

    `happens_first` is what the helpdesk does before it sends this webhook (Kustomer creates a
    conversation's first message, then announces it); post() does it first, and doing it twice is
    harmless, so a retried delivery is still one event.
    """

    helpdesk: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    happens_first: Callable[[], object] | None = field(default=None, compare=False, repr=False)

    def signed_kustomer(self, secret: str) -> Delivery:
        """Kustomer's signature: lowercase hex HMAC-SHA256 of the body keyed with the webhook token."""
        signature = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return replace(self, headers={**self.headers, KUSTOMER_SIGNATURE_HEADER: signature})

    def with_basic_auth(self, user: str, password: str) -> Delivery:
        """What a Freshdesk rule with "Requires authentication" sends."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return replace(self, headers={**self.headers, "Authorization": f"Basic {token}"})

    def with_url_token(self, token: str) -> Delivery:
        """A Freshdesk or Salesforce endpoint URL carrying our secret as ?token=..."""
        return replace(self, query={**self.query, FRESHDESK_TOKEN_PARAM: token})

    def authenticated(self, env: Mapping[str, str]) -> Delivery:
        """Signed the way a correctly configured helpdesk would sign it, from the receiver's own env."""
        delivery = self
        if self.helpdesk == "kustomer" and env.get("KUSTOMER_WEBHOOK_SECRET"):
            delivery = delivery.signed_kustomer(env["KUSTOMER_WEBHOOK_SECRET"])
        if self.helpdesk == "freshdesk":
            user, password = env.get("FRESHDESK_WEBHOOK_USER"), env.get("FRESHDESK_WEBHOOK_PASSWORD")
            if user and password:
                delivery = delivery.with_basic_auth(user, password)
            if env.get("FRESHDESK_WEBHOOK_URL_SECRET"):
                delivery = delivery.with_url_token(env["FRESHDESK_WEBHOOK_URL_SECRET"])
        if self.helpdesk == "salesforce" and env.get("SALESFORCE_WEBHOOK_URL_SECRET"):
            delivery = delivery.with_url_token(env["SALESFORCE_WEBHOOK_URL_SECRET"])
        return delivery

    @property
    def path_with_query(self) -> str:
        return f"{self.path}?{urlencode(self.query)}" if self.query else self.path

    def post(
        self, base_url: str, session: requests.Session | None = None, *, timeout: float = 10.0
    ) -> requests.Response:
        """POST it like the helpdesk would (one attempt; retrying is the caller's decision)."""
        if self.happens_first is not None:
            self.happens_first()
        sender = session or requests.Session()
        return sender.post(
            base_url.rstrip("/") + self.path_with_query, data=self.body, headers=self.headers, timeout=timeout
        )


def new_kustomer_id() -> str:
    """Kustomer ids are 24-hex ObjectIds."""
    return secrets.token_hex(12)


def new_salesforce_id(prefix: str) -> str:
    """An 18-character id with the object's 3-character key prefix (e.g. 04l notification, 500 Case)."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(18 - len(prefix)))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- Kustomer ----------------------------------------------------------------------------------------


def _kustomer(name: str, data: dict[str, Any], secret: str | None, org: str) -> Delivery:
    envelope = {
        "id": new_kustomer_id(),
        "name": name,
        "org": org,
        "orgName": "acme-shop",
        "partition": org,
        "createdAt": _now(),
        "changes": None,
        "dataId": data["id"],
        "data": data,
    }
    headers = {"Content-Type": "application/json", KUSTOMER_EVENT_HEADER: name}
    delivery = Delivery("kustomer", "/webhooks/kustomer", json.dumps(envelope).encode(), headers)
    return delivery.signed_kustomer(secret) if secret else delivery


def kustomer_conversation_created(
    conversation_id: str,
    customer_id: str | None,
    subject: str,
    *,
    direction: str = "in",
    secret: str | None = None,
    org: str = "5f1e2d3c4b5a697887766554",
) -> Delivery:
    """`kustomer.conversation.create` as Kustomer sends it: before any message (`messageCount` 0;
    the first message comes in its own `kustomer.message.create`, in either order). `direction` is
    "in" when the customer started it, "out" when an agent or an outbound campaign did."""
    data = {
        "type": "conversation",
        "id": conversation_id,
        "attributes": {
            "name": subject,
            "channels": [],
            "status": "open",
            "priority": 3,
            "direction": direction,
            "messageCount": 0,
            "noteCount": 0,
            "inboundMessageCount": 0,
            "outboundMessageCount": 0,
            "firstMessageIn": {},
            "lastMessageIn": {},
            "tags": [],
            "assignedUsers": [],
            "assignedTeams": [],
            "custom": {},
            "createdAt": _now(),
        },
        "relationships": {
            "customer": {
                "data": {"type": "customer", "id": customer_id},
                "links": {"self": f"/v1/customers/{customer_id}"},
            },
            "messages": {"links": {"self": f"/v1/conversations/{conversation_id}/messages"}},
        },
        "links": {"self": f"/v1/conversations/{conversation_id}"},
    }
    return _kustomer("kustomer.conversation.create", data, secret, org)


def kustomer_customer_message(
    conversation_id: str,
    customer_id: str | None,
    text: str,
    *,
    message_id: str | None = None,
    from_email: str | None = None,
    direction: str = "in",
    channel: str = "email",
    secret: str | None = None,
    org: str = "5f1e2d3c4b5a697887766554",
) -> Delivery:
    """`kustomer.message.create`; direction "out" gives the echo of an agent's (or our own) reply."""
    message_id = message_id or new_kustomer_id()
    meta: dict[str, Any] = {}
    if from_email:
        meta = {"from": from_email, "to": [{"email": "support@acme-shop.com"}]}
    data = {
        "type": "message",
        "id": message_id,
        "attributes": {
            "channel": channel,
            "direction": direction,
            "preview": text[:400],
            "meta": meta,
            "sentAt": _now(),
            "createdAt": _now(),
        },
        "relationships": {
            "conversation": {"data": {"type": "conversation", "id": conversation_id}},
            "customer": {"data": {"type": "customer", "id": customer_id}},
        },
        "links": {"self": f"/v1/messages/{message_id}"},
    }
    return _kustomer("kustomer.message.create", data, secret, org)


# --- Freshdesk ---------------------------------------------------------------------------------------


def _freshdesk_simple(
    ticket_id: str,
    subject: str,
    email: str | None,
    name: str | None,
    *,
    description: str | None = None,
    latest_comment: str | None = None,
    triggered_event: str | None = None,
) -> bytes:
    """Simple content: the ticked fields under their placeholder names, `ticket_id` a number, and
    `triggered_event` only when the admin ticked it (docs/platforms/freshdesk.md)."""
    fields: dict[str, Any] = {
        "ticket_id": int(ticket_id),
        "ticket_subject": subject,
        "ticket_url": f"https://acmeshop.freshdesk.com/helpdesk/tickets/{ticket_id}",
        "ticket_portal_url": f"https://acmeshop.freshdesk.com/support/tickets/{ticket_id}",
        "ticket_status": "Open",
        "ticket_priority": "Low",
        "ticket_contact_name": name or "",
        "ticket_contact_email": email or "",
    }
    if description is not None:
        fields["ticket_description"] = description
    if latest_comment is not None:
        fields["ticket_latest_public_comment"] = latest_comment
    if triggered_event is not None:
        fields["triggered_event"] = triggered_event
    return json.dumps({"freshdesk_webhook": fields}).encode()


def _freshdesk_advanced(
    ticket_id: str, event: str, triggered_event: str, subject: str, email: str | None, name: str | None
) -> bytes:
    body = {
        "source": "freshdesk",
        "event": event,
        "ticket_id": str(ticket_id),
        "requester_email": email or "",
        "requester_name": name or "",
        "subject": subject,
        "triggered_event": triggered_event,
    }
    return json.dumps(body).encode()


def freshdesk_ticket_created(
    ticket_id: str | int,
    subject: str = "",
    description: str = "",
    requester_email: str | None = None,
    requester_name: str | None = None,
    *,
    simple: bool = False,
) -> Delivery:
    """A Ticket Creation rule's webhook; `simple` picks Simple content, else our Advanced body."""
    trigger = "{ticket_action:created}"
    if simple:
        body = _freshdesk_simple(
            str(ticket_id), subject, requester_email, requester_name, description=description
        )
    else:
        body = _freshdesk_advanced(
            str(ticket_id), "ticket_created", trigger, subject, requester_email, requester_name
        )
    return Delivery("freshdesk", "/webhooks/freshdesk", body, {"Content-Type": "application/json"})


REPLY_TRIGGER = "{reply_sent:sent}"  # a stand-in: no source records what "Reply is sent" renders


def freshdesk_customer_reply(
    ticket_id: str | int,
    requester_email: str | None = None,
    requester_name: str | None = None,
    subject: str = "",
    *,
    simple: bool = False,
    text: str = "",
    triggered_event: str | None = None,
) -> Delivery:
    """A Ticket Updates rule (performer Requester, "Reply is sent"); the worker fetches the text.

    Simple content carries the reply as `ticket_latest_public_comment` and, unless `triggered_event`
    is given, no event (the admin did not tick it); Advanced content has REPLY_TRIGGER unless given.
    """
    if simple:
        comment = f"{requester_name or requester_email or 'Customer'} : <div>{escape(text)}</div>"
        body = _freshdesk_simple(
            str(ticket_id),
            subject,
            requester_email,
            requester_name,
            latest_comment=comment,
            triggered_event=triggered_event,
        )
    else:
        body = _freshdesk_advanced(
            str(ticket_id),
            "customer_reply",
            triggered_event or REPLY_TRIGGER,
            subject,
            requester_email,
            requester_name,
        )
    return Delivery("freshdesk", "/webhooks/freshdesk", body, {"Content-Type": "application/json"})


# --- Salesforce --------------------------------------------------------------------------------------

_SOAP_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:xsd="http://www.w3.org/2001/XMLSchema"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5g000000XyZ1AAK</ActionId>
   {session}
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/59.0/{org15}</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/59.0/{org15}</PartnerUrl>
"""
_SOAP_TAIL = """  </notifications>
 </soapenv:Body>
</soapenv:Envelope>
"""


def case_fields(
    case_id: str,
    *,
    subject: str = "",
    description: str = "",
    supplied_email: str | None = None,
    supplied_name: str | None = None,
    contact_id: str | None = None,
    last_modified_by: str = "0055g00000CsAgtAAF",
    **extra: str | None,
) -> dict[str, str | None]:
    """The Case fields an Outbound Message selects; None values are sent as xsi:nil."""
    return {
        "Id": case_id,
        "CaseNumber": f"{int(hashlib.sha256(case_id.encode()).hexdigest(), 16) % 10**8:08d}",
        "ContactId": contact_id,
        "CreatedDate": _now(),
        "Description": description,
        "LastModifiedById": last_modified_by,
        "Origin": "Email",
        "Status": "New",
        "Subject": subject,
        "SuppliedEmail": supplied_email,
        "SuppliedName": supplied_name,
        **extra,
    }


def salesforce_outbound_message(
    org_id: str, cases: list[Mapping[str, str | None]], session_id: str | None = None
) -> Delivery:
    """One Outbound Message with a Notification (fresh Id) per Case field set, as Salesforce batches them.
    `session_id` is what "Send Session ID" puts in the message (nil when it is not ticked)."""
    session = f"<SessionId>{escape(session_id)}</SessionId>" if session_id else '<SessionId xsi:nil="true"/>'
    parts = [_SOAP_HEAD.format(org=escape(org_id), org15=escape(org_id[:15]), session=session)]
    for case in cases:
        parts.append(f"   <Notification>\n    <Id>{new_salesforce_id('04l')}</Id>\n")
        parts.append('    <sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">\n')
        for name, value in case.items():
            if value is None:
                parts.append(f'     <sf:{name} xsi:nil="true"/>\n')
            else:
                parts.append(f"     <sf:{name}>{escape(str(value))}</sf:{name}>\n")
        parts.append("    </sObject>\n   </Notification>\n")
    parts.append(_SOAP_TAIL)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    return Delivery("salesforce", "/webhooks/salesforce", "".join(parts).encode(), headers)


def salesforce_case_created(
    case_id: str,
    subject: str = "",
    description: str = "",
    supplied_email: str | None = None,
    supplied_name: str | None = None,
    *,
    org_id: str,
    session_id: str | None = None,
    **fields: Any,
) -> Delivery:
    """The Case Outbound Message fired when a case is created (no reply stamp yet)."""
    case = case_fields(
        case_id,
        subject=subject,
        description=description,
        supplied_email=supplied_email,
        supplied_name=supplied_name,
        **fields,
    )
    return salesforce_outbound_message(org_id, [case], session_id)


def salesforce_customer_reply(
    case_id: str,
    subject: str = "",
    description: str = "",
    supplied_email: str | None = None,
    supplied_name: str | None = None,
    *,
    org_id: str,
    replied_at: str | None = None,
    reply_field: str = DEFAULT_REPLY_FIELD,
    session_id: str | None = None,
    **fields: Any,
) -> Delivery:
    """The Case Outbound Message fired after a Flow stamps the reply field for an incoming email."""
    fields[reply_field] = replied_at or _now()
    return salesforce_case_created(
        case_id,
        subject,
        description,
        supplied_email,
        supplied_name,
        org_id=org_id,
        session_id=session_id,
        **fields,
    )
