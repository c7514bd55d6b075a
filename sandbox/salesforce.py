"""Salesforce Service Cloud as the sandbox serves it: the REST slice we use (docs/platforms/salesforce.md).

The instance lives at https://host:port/salesforce, so the REST API is at
/salesforce/services/data/vXX.X/... exactly where simple-salesforce looks for it once given that
instance. Faithful where a connector can get it wrong: Bearer session auth with the real
INVALID_SESSION_ID body, `Sforce-Limit-Info` on every response, errors as lists of
{message, errorCode}, SOQL for reading, PATCH answering 204, restricted picklists, read-only fields,
and an active Case assignment rule that moves every created or updated Case to the "Triage" queue
unless the request says `Sforce-Auto-Assign: FALSE`. A client that forgets that header loses its
hand-off to humans here, as it would in a real org.

Objects: Case, CaseComment, EmailMessage, Contact, Group (queues) and User, with Salesforce-shaped
18-character ids (correct case-safe suffix, 15-character forms accepted).
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import re
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, current_app, has_app_context, jsonify, request

from sandbox import soql, world
from sandbox.app import SUBREQUEST, reading, record_write, sandbox_state, section
from sandbox.state import Fault

PLATFORM = "salesforce"
# How the org's Email-to-Case links a customer's answer to its Case: by the thread token our email
# carries ("token", the default; an answer without one opens a new Case), or by the mail headers.
READINGS = {"email_to_case_threading": ("token", "headers")}
PREFIX = "/salesforce"
COMPOSITE_MAX = 25
COMPOSITE_MAX_QUERIES = 5
HELPDESK = True

ORG_ID = "00D5g000004AbCdEAF"
ACCESS_TOKEN = "00D5g000004AbCd!AQ4AQSandboxSessionTokenForPolicydesk"  # noqa: S105 (sandbox only)
API_VERSIONS = ("55.0", "56.0", "57.0", "58.0", "59.0", "60.0", "61.0", "62.0")
RELEASES = {
    "55.0": "Summer '22",
    "56.0": "Winter '23",
    "57.0": "Spring '23",
    "58.0": "Summer '23",
    "59.0": "Winter '24",
    "60.0": "Spring '24",
    "61.0": "Summer '24",
    "62.0": "Winter '25",
}
DAILY_API_LIMIT = 15000
SUPPORT_ADDRESS = "support@acme-shop.example"
TAGS_FIELD = "Policydesk_Tags__c"
CASE_STATUSES = ("New", "Working", "Waiting on Customer", "Escalated", "Closed")
CLOSED_STATUSES = frozenset({"Closed"})
EMAIL_STATUSES = ("0", "1", "2", "3", "4", "5")  # New, Read, Replied, Sent, Forwarded, Draft
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
EMAIL_PATTERN = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
KEY_PREFIXES = {
    "Case": "500",
    "Contact": "003",
    "CaseComment": "00a",
    "EmailMessage": "02s",
    "Group": "00G",
    "User": "005",
}
INSERTABLE = frozenset({"Case", "Contact", "CaseComment", "EmailMessage"})


def case_safe_id(id15: str) -> str:
    """The 18-character form: each 5-character chunk's uppercase positions, encoded as one letter."""
    suffix = ""
    for start in (0, 5, 10):
        flags = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if char.isupper())
        suffix += ID_ALPHABET[flags]
    return id15 + suffix


def make_id(prefix: str, number: int) -> str:
    """key prefix + pod + reserved char + 9-digit sequence, then the case-safe suffix."""
    return case_safe_id(f"{prefix}5g0{number:09d}")


def normalize_id(value: str) -> str | None:
    """18-character form of a 15- or 18-character id; None if it is not shaped like an id."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        return None
    return case_safe_id(value[:15])


INTEGRATION_USER_ID = make_id("005", 1)
AUTOMATED_USER_ID = make_id("005", 2)
AGENT_USER_ID = make_id("005", 3)
TRIAGE_QUEUE_ID = make_id("00G", 1)
HUMANS_QUEUE_ID = make_id("00G", 2)
BILLING_QUEUE_ID = make_id("00G", 3)


@dataclass(frozen=True)
class FieldSpec:
    """What the API lets a client do with one field."""

    type: str  # id, reference, string, textarea, email, picklist, multipicklist,
    # boolean, datetime
    create: bool = True
    update: bool = True
    required: bool = False
    max_length: int | None = None
    values: tuple[str, ...] = ()  # restricted picklist values
    refers_to: tuple[str, ...] = ()


RO: dict[str, Any] = {"create": False, "update": False}
SCHEMA: dict[str, dict[str, FieldSpec]] = {
    "Case": {
        "Id": FieldSpec("id", **RO),
        "CaseNumber": FieldSpec("string", **RO),
        "Subject": FieldSpec("string", max_length=255),
        "Description": FieldSpec("textarea", max_length=32000),
        "Status": FieldSpec("picklist", values=CASE_STATUSES),
        "Priority": FieldSpec("picklist", values=("High", "Medium", "Low")),
        "Origin": FieldSpec("picklist", values=("Email", "Phone", "Web")),
        "OwnerId": FieldSpec("reference", refers_to=("Group", "User")),
        "ContactId": FieldSpec("reference", refers_to=("Contact",)),
        "AccountId": FieldSpec("reference", refers_to=()),
        "SuppliedEmail": FieldSpec("email", max_length=80),
        "SuppliedName": FieldSpec("string", max_length=80),
        "IsClosed": FieldSpec("boolean", **RO),
        "CreatedDate": FieldSpec("datetime", **RO),
        "CreatedById": FieldSpec("reference", **RO),
        "LastModifiedDate": FieldSpec("datetime", **RO),
        "LastModifiedById": FieldSpec("reference", **RO),
        TAGS_FIELD: FieldSpec("multipicklist"),
        "Last_Customer_Reply__c": FieldSpec("datetime"),
    },
    "CaseComment": {
        "Id": FieldSpec("id", **RO),
        "ParentId": FieldSpec("reference", update=False, required=True, refers_to=("Case",)),
        "CommentBody": FieldSpec("textarea", max_length=4000),
        "IsPublished": FieldSpec("boolean"),
        "IsDeleted": FieldSpec("boolean", **RO),
        "CreatedDate": FieldSpec("datetime", **RO),
        "CreatedById": FieldSpec("reference", **RO),
        "LastModifiedDate": FieldSpec("datetime", **RO),
        "LastModifiedById": FieldSpec("reference", **RO),
    },
    "EmailMessage": {
        "Id": FieldSpec("id", **RO),
        "ParentId": FieldSpec("reference", update=False, refers_to=("Case",)),
        "Incoming": FieldSpec("boolean", update=False),
        "FromAddress": FieldSpec("email", update=False),
        "FromName": FieldSpec("string", update=False, max_length=1000),
        "ToAddress": FieldSpec("string", update=False, max_length=4000),
        "Subject": FieldSpec("string", update=False, max_length=3000),
        "TextBody": FieldSpec("textarea", update=False, max_length=131072),
        "HtmlBody": FieldSpec("textarea", update=False, max_length=131072),
        "MessageDate": FieldSpec("datetime", update=False),
        "Status": FieldSpec("picklist", values=EMAIL_STATUSES),
        "CreatedDate": FieldSpec("datetime", **RO),
        "CreatedById": FieldSpec("reference", **RO),
    },
    "Contact": {
        "Id": FieldSpec("id", **RO),
        "FirstName": FieldSpec("string", max_length=40),
        "LastName": FieldSpec("string", required=True, max_length=80),
        "Name": FieldSpec("string", **RO),
        "Email": FieldSpec("email", max_length=80),
        "AccountId": FieldSpec("reference", refers_to=()),
        "CreatedDate": FieldSpec("datetime", **RO),
        "LastModifiedDate": FieldSpec("datetime", **RO),
        "LastModifiedById": FieldSpec("reference", **RO),
    },
    "Group": {
        "Id": FieldSpec("id", **RO),
        "Name": FieldSpec("string", **RO),
        "DeveloperName": FieldSpec("string", **RO),
        "Type": FieldSpec("picklist", **RO),
    },
    "User": {
        "Id": FieldSpec("id", **RO),
        "Name": FieldSpec("string", **RO),
        "Username": FieldSpec("string", **RO),
        "Email": FieldSpec("email", **RO),
        "IsActive": FieldSpec("boolean", **RO),
    },
}
STRING_TYPES = frozenset({"string", "textarea", "email", "picklist", "multipicklist"})
ID_TYPES = frozenset({"id", "reference"})

blueprint = Blueprint("salesforce", __name__)


class ApiError(Exception):
    """An error answer in Salesforce's shape: a list of {message, errorCode[, fields]}."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def response(self) -> Response:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = self.fields
        response = jsonify([body])
        response.status_code = self.status
        return response


def _not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


# ---------------------------------------------------------------- contract: seed, env, faults


def seed(sec: dict[str, Any]) -> None:
    """A small org: an integration user, three queues (Triage, Support Humans, Billing), the world's
    customers as Contacts and its Salesforce tickets as Cases."""
    sec.clear()
    sec.update(
        org_id=ORG_ID,
        access_token=ACCESS_TOKEN,
        api_user_id=INTEGRATION_USER_ID,
        api_usage={"used": 0, "total": DAILY_API_LIMIT},
        assignment_rule={"active": True, "queue_id": TRIAGE_QUEUE_ID},
        org_wide_addresses=[SUPPORT_ADDRESS],
        objects={name: {} for name in SCHEMA},
        sequence=100,
        case_number=1000,
        clock_ms=0,
        outbox=[],
    )
    objects = sec["objects"]
    for user_id, name, username in (
        (INTEGRATION_USER_ID, "Policydesk Integration", "policydesk@acme-shop.example"),
        (AUTOMATED_USER_ID, "Automated Process", "autoproc@acme-shop.example"),
        (AGENT_USER_ID, "Dana Agent", "dana@acme-shop.example"),
    ):
        objects["User"][user_id] = {
            "Id": user_id,
            "Name": name,
            "Username": username,
            "Email": username,
            "IsActive": True,
        }
    for group_id, name, developer_name in (
        (TRIAGE_QUEUE_ID, "Triage", "Triage"),
        (HUMANS_QUEUE_ID, "Support Humans", "Support_Humans"),
        (BILLING_QUEUE_ID, "Billing", "Billing"),
    ):
        objects["Group"][group_id] = {
            "Id": group_id,
            "Name": name,
            "DeveloperName": developer_name,
            "Type": "Queue",
        }
    _seed_world(sec)


CASE_STATUS = {"open": "New", "waiting": "Waiting on Customer", "resolved": "Closed", "closed": "Closed"}


def _seed_world(sec: dict[str, Any]) -> None:
    """The world's customers as Contacts, then its Salesforce tickets as Email-to-Case Cases: later
    customer messages are incoming EmailMessages, the bot's and agents' messages published
    CaseComments; a Case an agent answered is owned by that agent."""
    the_world = world.load()
    for customer in the_world.customers:
        _insert(
            sec,
            "Contact",
            {"FirstName": customer.first_name, "LastName": customer.last_name, "Email": customer.email},
            AUTOMATED_USER_ID,
        )
    for seeded in the_world.tickets_on(PLATFORM):
        first, *later = seeded.messages
        name, email = seeded.customer.name, seeded.customer.email
        created = create_ticket(sec, subject=seeded.subject, text=first.body, email=email, name=name)
        case = sec["objects"]["Case"][created["ticket_id"]]
        for message in later:
            if message.sender == "customer":
                _incoming_email(sec, case, f"Re: {seeded.subject}", message.body, email, name)
                continue
            author = AGENT_USER_ID if message.sender == "agent" else INTEGRATION_USER_ID
            comment = {"ParentId": case["Id"], "IsPublished": not message.note, "CommentBody": message.body}
            _insert(sec, "CaseComment", comment, author)
            if message.sender == "agent":
                case["OwnerId"] = AGENT_USER_ID
        case.update(Status=CASE_STATUS[seeded.status])
        _derive("Case", case)


def client_env(base_url: str) -> dict[str, str]:
    """A session login (instance URL + access token), as after an OAuth flow."""
    return {
        "SALESFORCE_INSTANCE_URL": f"{base_url}{PREFIX}",
        "SALESFORCE_ORG_ID": ORG_ID,
        "SALESFORCE_ACCESS_TOKEN": ACCESS_TOKEN,
        "SALESFORCE_HANDOFF_QUEUE_ID": HUMANS_QUEUE_ID,
        "SALESFORCE_INTEGRATION_USER_ID": INTEGRATION_USER_ID,
        "SALESFORCE_SENDER_ADDRESS": SUPPORT_ADDRESS,
    }


def set_usage(sec: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Control API: the org's daily API usage so far (`used`, and optionally `total`), as
    `Sforce-Limit-Info` reports it and REQUEST_LIMIT_EXCEEDED enforces it."""
    usage = sec["api_usage"]
    usage["used"] = int(spec.get("used", usage["used"]))
    usage["total"] = int(spec.get("total", usage["total"]))
    return dict(usage)


def fault_response(fault: Fault) -> Response:
    """Salesforce has no 429: an exhausted allocation is 403 REQUEST_LIMIT_EXCEEDED, with no wait hint."""
    if fault.body is not None:
        response = jsonify(fault.body)
        response.status_code = fault.status
    elif fault.status in (403, 429):
        response = ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.").response()
    elif fault.status == 401:
        response = ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid").response()
    elif fault.status == 404:
        response = _not_found().response()
    elif fault.status >= 500:
        code = "SERVER_UNAVAILABLE" if fault.status == 503 else "UNKNOWN_EXCEPTION"
        response = ApiError(fault.status, code, "An unexpected error occurred. Please try again.").response()
    else:
        response = ApiError(fault.status, "INVALID_INPUT", "Sandbox fault").response()
    response.headers["Sforce-Limit-Info"] = _limit_info(section(PLATFORM))
    return response


# ---------------------------------------------------------------- contract: helpdesk control


def create_ticket(
    sec: dict[str, Any], *, subject: str, text: str, email: str | None, name: str | None
) -> dict[str, str]:
    """Email-to-Case: the sender's Contact (found or created), the Case, and the incoming EmailMessage."""
    contact_id = None
    if email:
        contact = _find_contact(sec, email)
        if contact is None:
            first, _, last = (name or "").strip().rpartition(" ")
            contact = _insert(
                sec,
                "Contact",
                {"FirstName": first or None, "LastName": last or email.split("@")[0], "Email": email},
                AUTOMATED_USER_ID,
            )
        contact_id = contact["Id"]
    case = _insert(
        sec,
        "Case",
        {
            "Subject": subject,
            "Description": text,
            "Origin": "Email",
            "Status": "New",
            "Priority": "Medium",
            "SuppliedEmail": email,
            "SuppliedName": name,
            "ContactId": contact_id,
        },
        AUTOMATED_USER_ID,
    )
    _run_assignment_rule(sec, case)
    message = _incoming_email(sec, case, subject, text, email, name)
    return {
        "ticket_id": case["Id"],
        "message_id": message["Id"],
        "customer_id": contact_id or "",
        "session_id": outbound_message_session(sec),  # what the Outbound Message about it carries
    }


def add_customer_message(sec: dict[str, Any], ticket_id: str, text: str) -> dict[str, str]:
    """The customer answers our last email (or writes again): a new incoming EmailMessage on the Case,
    and the Flow that stamps Last_Customer_Reply__c. In an org that threads by token, an answer to an
    email that carried no thread token is not linked: Email-to-Case opens a new Case for it."""
    case = _case_or_404(sec, ticket_id)
    ours = [e for e in sec["outbox"] if e["related_record_id"] == case["Id"]]
    subject = f"Re: {ours[-1]['subject'] if ours else case.get('Subject') or ''}".strip()
    quoted = ours[-1]["token"] if ours and ours[-1]["token_in_body"] else ""
    threaded = reading(PLATFORM, "email_to_case_threading") == "headers" or not ours
    if not threaded and _thread_token(case) not in subject + quoted:
        new_case = create_ticket(
            sec, subject=subject, text=text, email=case.get("SuppliedEmail"), name=case.get("SuppliedName")
        )
        answer: dict[str, Any] = {**new_case, "new_case": True}
        return answer
    message = _incoming_email(
        sec,
        case,
        subject,
        text,
        case.get("SuppliedEmail"),
        case.get("SuppliedName"),
    )
    case["Last_Customer_Reply__c"] = message["MessageDate"]
    _stamp(sec, case, AUTOMATED_USER_ID)
    return {"message_id": message["Id"], "session_id": outbound_message_session(sec)}


def ticket_view(sec: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    """What an agent sees on the Case: tags, owner, status, what the customer got, internal notes."""
    case = _case_or_404(sec, ticket_id)
    comments = sorted(
        (c for c in sec["objects"]["CaseComment"].values() if c["ParentId"] == case["Id"]),
        key=lambda c: c["CreatedDate"],
    )
    emails = [e for e in sec["outbox"] if e["related_record_id"] == case["Id"]]
    replies = sorted(
        [(e["at"], e["body"]) for e in emails]
        + [(c["CreatedDate"], c["CommentBody"]) for c in comments if c["IsPublished"]]
    )
    requester = case.get("SuppliedEmail")
    if not requester and case.get("ContactId"):
        requester = sec["objects"]["Contact"].get(case["ContactId"], {}).get("Email")
    return {
        "ticket_id": case["Id"],
        "case_number": case["CaseNumber"],
        "subject": case.get("Subject") or "",
        "status": case["Status"],
        "tags": _split_tags(case.get(TAGS_FIELD)),
        "group": case.get("OwnerId"),
        "replies": [body for _, body in replies],
        "notes": [c["CommentBody"] for c in comments if not c["IsPublished"]],
        "requester_email": requester,
        "emails": [
            {"to": e["to"], "subject": e["subject"], "body": e["body"], "sender": e["sender"]} for e in emails
        ],
        "last_modified_by": case.get("LastModifiedById"),
    }


# ---------------------------------------------------------------- REST API


@blueprint.before_request
def _authenticate() -> Response | None:
    """Every /services/data/vXX.X call needs the session token; the version list does not.

    UserInfo answers for any live session of the org: ours, and the ones Outbound Messages carry."""
    if request.endpoint in ("salesforce.versions", "salesforce.userinfo"):
        return None
    sec = section(PLATFORM)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme not in ("Bearer", "OAuth") or token != sec["access_token"]:
        return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid").response()
    if request.environ.get(SUBREQUEST):
        return None  # a composite's subrequest: the composite request counted once
    with sandbox_state().lock:
        usage = sec["api_usage"]
        if usage["used"] >= usage["total"]:
            return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.").response()
        usage["used"] += 1
    return None


@blueprint.after_request
def _limit_header(response: Response) -> Response:
    response.headers.setdefault("Sforce-Limit-Info", _limit_info(section(PLATFORM)))
    return response


@blueprint.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return exc.response()


@blueprint.get("/services/oauth2/userinfo")
def userinfo() -> Response:
    """OpenID Connect UserInfo: the session's user and org; an invalid token gets 403 with
    "Bad_OAuth_Token" as a plain body, as Salesforce answers it."""
    sec = section(PLATFORM)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    with sandbox_state().lock:
        sessions = {sec["access_token"]: sec["api_user_id"], **sec.setdefault("message_sessions", {})}
        user_id = sessions.get(token) if scheme in ("Bearer", "OAuth") else None
        user = sec["objects"]["User"].get(user_id or "")
        sec["userinfo_calls"] = sec.get("userinfo_calls", 0) + 1
    if user is None:
        return Response("Bad_OAuth_Token", status=403, content_type="text/plain")
    return jsonify(
        {
            "sub": f"https://login.salesforce.com/id/{sec['org_id']}/{user['Id']}",
            "user_id": user["Id"],
            "organization_id": sec["org_id"],
            "preferred_username": user["Username"],
            "name": user["Name"],
            "email": user["Email"],
            "active": user["IsActive"],
        }
    )


def outbound_message_session(sec: dict[str, Any]) -> str:
    """A session of the Outbound Message's "User to send as" (our integration user), as Salesforce
    puts in SessionId when "Send Session ID" is ticked."""
    token = f"{sec['org_id'][:15]}!AQ4AQOutbound{secrets.token_hex(12)}"
    sec.setdefault("message_sessions", {})[token] = sec["api_user_id"]
    return token


@blueprint.get("/services/data", strict_slashes=False)
def versions() -> Response:
    return jsonify(
        [{"label": RELEASES[v], "url": f"{PREFIX}/services/data/v{v}", "version": v} for v in API_VERSIONS]
    )


@blueprint.get("/services/data/v<version>", strict_slashes=False)
def resources(version: str) -> Response:
    base = _base(version)
    return jsonify(
        {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "limits", "actions")}
    )


@blueprint.get("/services/data/v<version>/limits", strict_slashes=False)
def limits(version: str) -> Response:
    _base(version)
    usage = section(PLATFORM)["api_usage"]
    return jsonify({"DailyApiRequests": {"Max": usage["total"], "Remaining": usage["total"] - usage["used"]}})


@blueprint.get("/services/data/v<version>/query", strict_slashes=False)
@blueprint.get("/services/data/v<version>/queryAll", strict_slashes=False)
def query(version: str) -> Response:
    base = _base(version)
    text = request.args.get("q", "")
    try:
        parsed = soql.parse(text)
        with sandbox_state().lock:
            sec = section(PLATFORM)
            sobject, parsed = _resolve_query(parsed)
            rows = soql.execute(parsed, sec["objects"][sobject].values())
            records = [
                _with_attributes(base, sobject, {f: copy.deepcopy(r.get(f)) for f in parsed.fields})
                for r in rows
            ]
    except soql.SoqlError as exc:
        raise ApiError(400, exc.code, exc.message) from exc
    return jsonify({"totalSize": len(records), "done": True, "records": records})


@blueprint.post("/services/data/v<version>/sobjects/<sobject>", strict_slashes=False)
def create_record(version: str, sobject: str) -> tuple[Response, int]:
    _base(version)
    sobject = _sobject_or_404(sobject)
    if sobject not in INSERTABLE:
        raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {sobject}")
    body = _json_object()
    with sandbox_state().lock:
        sec = section(PLATFORM)
        fields = _validate(sec, sobject, body, creating=True)
        record = _insert(sec, sobject, fields, sec["api_user_id"])
        if sobject == "Case" and _auto_assign():
            _run_assignment_rule(sec, record)
        record_write(PLATFORM, body, sobject=sobject, id=record["Id"], auto_assign=_auto_assign())
    return jsonify({"id": record["Id"], "success": True, "errors": []}), 201


@blueprint.get("/services/data/v<version>/sobjects/<sobject>/<record_id>")
def get_record(version: str, sobject: str, record_id: str) -> Response:
    base = _base(version)
    sobject = _sobject_or_404(sobject)
    with sandbox_state().lock:
        record = _record_or_404(section(PLATFORM), sobject, record_id)
        wanted = request.args.get("fields")
        if wanted:
            names = [_field_name(sobject, f.strip()) for f in wanted.split(",") if f.strip()]
            record = {name: record.get(name) for name in names}
        return jsonify(_with_attributes(base, sobject, copy.deepcopy(record)))


@blueprint.patch("/services/data/v<version>/sobjects/<sobject>/<record_id>")
def update_record(version: str, sobject: str, record_id: str) -> tuple[str, int]:
    _base(version)
    sobject = _sobject_or_404(sobject)
    body = _json_object()
    with sandbox_state().lock:
        sec = section(PLATFORM)
        record = _record_or_404(sec, sobject, record_id)
        if sobject not in INSERTABLE:
            raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {sobject}")
        fields = _validate(sec, sobject, body, creating=False)
        record.update(fields)
        _derive(sobject, record)
        _stamp(sec, record, sec["api_user_id"])
        auto_assign = _auto_assign()
        if sobject == "Case" and auto_assign:
            _run_assignment_rule(sec, record)
        record_write(PLATFORM, body, sobject=sobject, id=record["Id"], auto_assign=auto_assign)
    return "", 204


@blueprint.post("/services/data/v<version>/actions/standard/emailSimple", strict_slashes=False)
def email_simple(version: str) -> tuple[Response, int]:
    """Send Email action: one result per input; HTTP 400 when any input fails."""
    _base(version)
    body = _json_object()
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(400, "JSON_PARSER_ERROR", "Missing required property: inputs")
    results = []
    with sandbox_state().lock:
        sec = section(PLATFORM)
        for item in inputs:
            errors = (
                _email_errors(sec, item)
                if isinstance(item, dict)
                else [("INVALID_INPUT", "Each input must be an object")]
            )
            if not errors:
                _send_email(sec, item)
            results.append(
                {
                    "actionName": "emailSimple",
                    "errors": [
                        {"statusCode": code, "message": message, "fields": []} for code, message in errors
                    ]
                    or None,
                    "isSuccess": not errors,
                    "outputValues": None,
                    "sortOrder": -1,
                    "version": 1,
                }
            )
        record_write(PLATFORM, body, action="emailSimple")
    return jsonify(results), 200 if all(r["isSuccess"] for r in results) else 400


@blueprint.post("/services/data/v<version>/composite", strict_slashes=False)
def composite(version: str) -> Response:
    """Up to 25 subrequests (5 queries) in one request, counted once against the daily limit; each
    answers in `compositeResponse` with its own status. With `allOrNone` false (what we send) a failed
    subrequest leaves the others applied; `allOrNone` true is refused here rather than emulated."""
    _base(version)
    body = _json_object()
    subrequests = body.get("compositeRequest")
    if not isinstance(subrequests, list) or not 1 <= len(subrequests) <= COMPOSITE_MAX:
        raise ApiError(
            400, "INVALID_API_INPUT", f"compositeRequest must hold 1 to {COMPOSITE_MAX} subrequests"
        )
    if body.get("allOrNone"):
        raise ApiError(400, "INVALID_API_INPUT", "the sandbox does not emulate allOrNone")
    queries = sum(1 for sub in subrequests if "/query" in str((sub or {}).get("url") or ""))
    if queries > COMPOSITE_MAX_QUERIES:
        raise ApiError(400, "INVALID_API_INPUT", f"at most {COMPOSITE_MAX_QUERIES} queries per composite")
    client = current_app.test_client()
    answers = []
    for sub in subrequests:
        url = str(sub.get("url") or "")
        if not url.startswith("/services/data/v"):
            raise ApiError(400, "INVALID_API_INPUT", "a subrequest url must start with /services/data/vXX.X/")
        headers = {
            "Authorization": request.headers.get("Authorization", ""),
            **(sub.get("httpHeaders") or {}),
        }
        answer = client.open(
            PREFIX + url,
            method=str(sub.get("method") or "GET").upper(),
            json=sub.get("body"),
            headers=headers,
            environ_base={SUBREQUEST: True},
        )
        answers.append(
            {
                "body": answer.get_json(silent=True) if answer.data else None,
                "httpHeaders": {},
                "httpStatusCode": answer.status_code,
                "referenceId": sub.get("referenceId"),
            }
        )
    return jsonify({"compositeResponse": answers})


@blueprint.route("/<path:rest>", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
def unknown(rest: str) -> Response:
    raise _not_found()


# ---------------------------------------------------------------- helpers


def _limit_info(sec: dict[str, Any]) -> str:
    usage = sec.get("api_usage") or {"used": 0, "total": DAILY_API_LIMIT}
    return f"api-usage={usage['used']}/{usage['total']}"


def _base(version: str) -> str:
    if version not in API_VERSIONS:
        raise _not_found()
    return f"{PREFIX}/services/data/v{version}"


def _with_attributes(base: str, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
    record_id = record.get("Id")
    url = f"{base}/sobjects/{sobject}/{record_id}" if record_id else f"{base}/sobjects/{sobject}"
    return {"attributes": {"type": sobject, "url": url}, **record}


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object.")
    return body


def _auto_assign() -> bool:
    """Assignment rules run unless the request opts out (the header's default is TRUE)."""
    return request.headers.get("Sforce-Auto-Assign", "TRUE").strip().upper() not in ("FALSE", "0")


def _sobject_or_404(name: str) -> str:
    for known in SCHEMA:
        if known.lower() == name.lower():
            return known
    raise _not_found()


def _field_name(sobject: str, name: str) -> str:
    for known in SCHEMA[sobject]:
        if known.lower() == name.lower():
            return known
    raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name])


def _record_or_404(sec: dict[str, Any], sobject: str, record_id: str) -> dict[str, Any]:
    normalized = normalize_id(record_id)
    record = sec["objects"][sobject].get(normalized) if normalized else None
    if record is None:
        raise _not_found(
            f"Provided external ID field does not exist or is not accessible: {record_id}"
            if normalized is None
            else "The requested resource does not exist"
        )
    return record


def _case_or_404(sec: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    normalized = normalize_id(ticket_id)
    case = sec["objects"]["Case"].get(normalized) if normalized else None
    if case is None:
        abort(404, f"no Case {ticket_id!r} in the sandbox")
    return case


def _now(sec: dict[str, Any]) -> str:
    """Strictly increasing timestamps, so "newest first" is never a tie in tests or the demo."""
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    now_ms = max(now_ms, sec["clock_ms"] + 1)
    sec["clock_ms"] = now_ms
    return soql.format_datetime(dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC))


def _next_id(sec: dict[str, Any], sobject: str) -> str:
    """Seeded records get the same ids every time; records created afterwards never reuse an id, even
    across a reset, because the worker keeps state per Case id for as long as it runs."""
    if has_app_context():
        issued = sandbox_state().counters
        sec["sequence"] = max(sec["sequence"], issued.get("salesforce.sequence", 0))
        issued["salesforce.sequence"] = sec["sequence"] + 1
    sec["sequence"] += 1
    return make_id(KEY_PREFIXES[sobject], sec["sequence"])


def _insert(sec: dict[str, Any], sobject: str, fields: dict[str, Any], user_id: str) -> dict[str, Any]:
    """Store a new record with its defaults and system fields, bypassing validation (callers validated)."""
    record: dict[str, Any] = {name: None for name in SCHEMA[sobject]}
    record.update(fields)
    record["Id"] = _next_id(sec, sobject)
    now = _now(sec)
    record["CreatedDate"] = now
    if "CreatedById" in record:
        record["CreatedById"] = user_id
    if sobject == "Case":
        sec["case_number"] += 1
        record["CaseNumber"] = f"{sec['case_number']:08d}"
        record["Status"] = record.get("Status") or "New"
    elif sobject == "CaseComment":
        record["IsPublished"] = bool(record.get("IsPublished"))
        record["IsDeleted"] = False
    elif sobject == "EmailMessage":
        record["Incoming"] = bool(record.get("Incoming"))
        record["MessageDate"] = record.get("MessageDate") or now
        record["Status"] = record.get("Status") or ("0" if record["Incoming"] else "3")
    _derive(sobject, record)
    _stamp(sec, record, user_id, now)
    sec["objects"][sobject][record["Id"]] = record
    return record


def _derive(sobject: str, record: dict[str, Any]) -> None:
    """Formula-like fields the platform computes."""
    if sobject == "Case":
        record["IsClosed"] = record.get("Status") in CLOSED_STATUSES
    elif sobject == "Contact":
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)


def _stamp(sec: dict[str, Any], record: dict[str, Any], user_id: str, now: str | None = None) -> None:
    if "LastModifiedDate" in record:
        record["LastModifiedDate"] = now or _now(sec)
    if "LastModifiedById" in record:
        record["LastModifiedById"] = user_id


def _run_assignment_rule(sec: dict[str, Any], case: dict[str, Any]) -> None:
    rule = sec["assignment_rule"]
    if rule["active"]:
        case["OwnerId"] = rule["queue_id"]


def _find_contact(sec: dict[str, Any], email: str) -> dict[str, Any] | None:
    for contact in sec["objects"]["Contact"].values():
        if (contact.get("Email") or "").casefold() == email.casefold():
            return contact
    return None


def _incoming_email(
    sec: dict[str, Any], case: dict[str, Any], subject: str, text: str, email: str | None, name: str | None
) -> dict[str, Any]:
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
    return _insert(
        sec,
        "EmailMessage",
        {
            "ParentId": case["Id"],
            "Incoming": True,
            "FromAddress": email,
            "FromName": name,
            "ToAddress": SUPPORT_ADDRESS,
            "Subject": subject,
            "TextBody": text,
            "HtmlBody": f"<html><body>{paragraphs}</body></html>",
        },
        AUTOMATED_USER_ID,
    )


def _split_tags(value: str | None) -> list[str]:
    return [t for t in (value or "").split(";") if t]


def _validate(sec: dict[str, Any], sobject: str, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Field names, writability, types, lengths, picklists and references, as the API checks them."""
    schema = SCHEMA[sobject]
    fields: dict[str, Any] = {}
    for raw_name, value in body.items():
        if raw_name == "attributes":
            continue
        name = _field_name(sobject, raw_name)
        spec = schema[name]
        if not (spec.create if creating else spec.update):
            raise ApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {name}. Please check the security settings of "
                "this field and verify that it is read/write for your profile or permission set.",
                [name],
            )
        fields[name] = _coerce(sec, sobject, name, spec, value)
    if creating:
        missing = [n for n, s in schema.items() if s.required and fields.get(n) in (None, "")]
        if missing:
            raise ApiError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
    return fields


def _coerce(sec: dict[str, Any], sobject: str, name: str, spec: FieldSpec, value: Any) -> Any:
    if value is None:
        if spec.required:
            raise ApiError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])
        return None
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise _deserialize_error(value, "boolean")
        return value
    if not isinstance(value, str):
        raise _deserialize_error(value, "String")
    if spec.type == "datetime":
        try:
            return soql.parse_datetime(value)
        except soql.SoqlError as exc:
            raise ApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of datetime from "
                f"VALUE_STRING value {value} or request may be missing a required field",
            ) from exc
    if spec.type in ID_TYPES:
        return _reference(sec, name, spec, value)
    if spec.max_length is not None and len(value.encode()) > spec.max_length:
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"{name}: data value too large: {value[:40]}... (max length={spec.max_length})",
            [name],
        )
    if spec.type == "email" and value and not EMAIL_PATTERN.match(value):
        raise ApiError(400, "INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {value}", [name])
    if spec.type == "picklist" and spec.values and value not in spec.values:
        raise ApiError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{name}: bad value for restricted picklist field: {value}",
            [name],
        )
    if spec.type == "multipicklist":
        tags = list(dict.fromkeys(t.strip() for t in value.split(";") if t.strip()))
        if len(tags) > 100 or any(len(t) > 255 for t in tags):
            raise ApiError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{name}: too many values or a value longer than 255 characters",
                [name],
            )
        return ";".join(tags) or None
    return value


def _reference(sec: dict[str, Any], name: str, spec: FieldSpec, value: str) -> str:
    normalized = normalize_id(value)
    if normalized is None:
        raise ApiError(400, "MALFORMED_ID", f"{name}: id value of incorrect type: {value}", [name])
    if spec.refers_to and not any(normalized in sec["objects"][obj] for obj in spec.refers_to):
        raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", [name])
    return normalized


def _deserialize_error(value: Any, type_name: str) -> ApiError:
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from value "
        f"{str(value)[:40]} or request may be missing a required field",
    )


def _resolve_query(query: soql.Query) -> tuple[str, soql.Query]:
    """Canonical object and field names, and literals checked against field types, as the API does."""
    sobject = next((k for k in SCHEMA if k.lower() == query.sobject.lower()), None)
    if sobject is None:
        raise soql.SoqlError(
            "INVALID_TYPE",
            f"sObject type '{query.sobject}' is not supported. If you are "
            "attempting to use a custom object, be sure to append the '__c' after the "
            "entity name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        )

    def resolve(name: str) -> str:
        for known in SCHEMA[sobject]:
            if known.lower() == name.lower():
                return known
        raise soql.SoqlError(
            "INVALID_FIELD",
            f"No such column '{name}' on entity '{sobject}'. If you are "
            "attempting to use a custom field, be sure to append the '__c' after the custom "
            "field name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        )

    resolved = soql.map_fields(query, resolve)
    where = tuple(_check_condition(sobject, c) for c in resolved.where)
    return sobject, soql.Query(resolved.fields, sobject, where, resolved.order_by, resolved.limit)


def _check_condition(sobject: str, condition: soql.Condition) -> soql.Condition:
    spec = SCHEMA[sobject][condition.field]
    values = condition.value if condition.op in ("in", "not in") else (condition.value,)
    checked: list[Any] = []
    for value in values:
        if value is None:
            checked.append(None)
        elif spec.type == "boolean" and not isinstance(value, bool):
            raise _filter_type_error(condition.field, "boolean")
        elif spec.type == "datetime" and not isinstance(value, soql.DatetimeLiteral):
            raise _filter_type_error(condition.field, "dateTime")
        elif spec.type in ID_TYPES:
            if not isinstance(value, str):
                raise _filter_type_error(condition.field, "id")
            normalized = normalize_id(soql.unescape_wildcards(value))
            if normalized is None and condition.op != "like":
                raise soql.SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}")
            checked.append(normalized or value)
        elif spec.type in STRING_TYPES and not isinstance(value, str):
            raise _filter_type_error(condition.field, "string")
        else:
            checked.append(value)
    if condition.op == "like" and spec.type not in STRING_TYPES | ID_TYPES:
        raise soql.SoqlError("INVALID_FIELD", f"invalid operator on field {condition.field}: LIKE")
    value = tuple(checked) if condition.op in ("in", "not in") else checked[0]
    return soql.Condition(condition.field, condition.op, value)


def _filter_type_error(field: str, type_name: str) -> soql.SoqlError:
    quoted = "and should not be enclosed in quotes" if type_name != "string" else "and should be quoted"
    return soql.SoqlError(
        "INVALID_FIELD", f"value of filter criterion for field '{field}' must be of type {type_name} {quoted}"
    )


def _email_errors(sec: dict[str, Any], item: dict[str, Any]) -> list[tuple[str, str]]:
    """(statusCode, message) per problem with one emailSimple input."""
    errors = []
    recipients = _recipients(item)
    if not recipients:
        errors.append(("REQUIRED_FIELD_MISSING", "Missing required input parameter: emailAddresses"))
    elif len(recipients) > 5:
        errors.append(("INVALID_INPUT", "The combined number of recipients must be five or fewer"))
    elif any(not EMAIL_PATTERN.match(r) for r in recipients):
        errors.append(("INVALID_EMAIL_ADDRESS", "Invalid email address in emailAddresses"))
    for required in ("emailSubject", "emailBody"):
        if not isinstance(item.get(required), str) or not item[required].strip():
            errors.append(("REQUIRED_FIELD_MISSING", f"Missing required input parameter: {required}"))
    sender_type = item.get("senderType")
    if sender_type not in (None, "CurrentUser", "DefaultWorkflowUser", "OrgWideEmailAddress"):
        errors.append(("INVALID_INPUT", f"Invalid senderType: {sender_type}"))
    if sender_type == "OrgWideEmailAddress" and item.get("senderAddress") not in sec["org_wide_addresses"]:
        errors.append(("INVALID_INPUT", "senderAddress must be a verified organization-wide email address"))
    related = item.get("relatedRecordId")
    if related is not None and _find_any(sec, related) is None:
        errors.append(("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {related}"))
    return errors


def _recipients(item: dict[str, Any]) -> list[str]:
    listed = item.get("emailAddresses") or ""
    array = item.get("emailAddressesArray") or []
    if not isinstance(listed, str) or not isinstance(array, list):
        return ["<invalid>"]
    return [a.strip() for a in listed.split(",") if a.strip()] + [str(a).strip() for a in array]


def _thread_token(case: dict[str, Any]) -> str:
    """The Email-to-Case thread token Salesforce adds for the Case (its format is Salesforce's own)."""
    return f"thread::{case['Id'][:15]}::"


def _find_any(sec: dict[str, Any], record_id: Any) -> tuple[str, dict[str, Any]] | None:
    normalized = normalize_id(record_id) if isinstance(record_id, str) else None
    for sobject, records in sec["objects"].items():
        if normalized in records:
            return sobject, records[normalized]
    return None


def _send_email(sec: dict[str, Any], item: dict[str, Any]) -> None:
    """ "Sends" the email (to the outbox) and, with logEmailOnSend, logs it on the related Case."""
    sender = item.get("senderAddress") if item.get("senderType") == "OrgWideEmailAddress" else None
    sender = sender or sec["objects"]["User"][sec["api_user_id"]]["Email"]
    related = _find_any(sec, item.get("relatedRecordId"))
    related_id = related[1]["Id"] if related else None
    recipients = _recipients(item)
    token = _thread_token(related[1]) if related and related[0] == "Case" else ""
    in_subject = bool(token) and item.get("addThreadingTokenToSubject") is True
    sec["outbox"].append(
        {
            "to": recipients,
            "subject": f"{item['emailSubject']} [ {token} ]" if in_subject else item["emailSubject"],
            "body": item["emailBody"],
            "token": token,
            "token_in_body": bool(token) and item.get("addThreadingTokenToBody") is True,
            "sender": sender,
            "related_record_id": related_id,
            "at": _now(sec),
        }
    )
    if related and related[0] == "Case" and item.get("logEmailOnSend") is True:
        _insert(
            sec,
            "EmailMessage",
            {
                "ParentId": related_id,
                "Incoming": False,
                "FromAddress": sender,
                "ToAddress": ", ".join(recipients),
                "Subject": item["emailSubject"],
                "TextBody": item["emailBody"],
                "Status": "3",
            },
            sec["api_user_id"],
        )
