"""Freshdesk API v2 as the sandbox serves it (docs/platforms/freshdesk.md).

Faithful where our client depends on it: Basic auth with the API key as user name, integer enums
(status 2/3/4/5, priority 1-4), tags replaced wholesale on PUT, the ticket description being the first
message (conversations hold only what came after it), customer replies arriving as
incoming/public conversations with the previous thread quoted below them, Freshdesk's error bodies,
and X-Ratelimit-* headers on every response. Rate limits are reported, never enforced: a throttle is
injected with a fault so tests stay deterministic.
"""

from __future__ import annotations

import html
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from connectors.text import html_to_text, looks_like_html
from sandbox import world
from sandbox.app import count_request, record_write, sandbox_state, section
from sandbox.state import Fault

PLATFORM = "freshdesk"
PREFIX = "/freshdesk/api/v2"
HELPDESK = True

API_KEY = "sandbox-freshdesk-api-key"
RATE_LIMIT_TOTAL = 400  # a Pro-plan-like per-minute allowance
HANDOFF_GROUP_ID = 5001
BOT_AGENT_ID = 9001
SUPPORT_EMAIL = "support@acme-shop.example"
EMBEDDED_CONVERSATIONS_CAP = 10

STATUS_NAMES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PRIORITIES = (1, 2, 3, 4)
SOURCE_EMAIL, SOURCE_PORTAL, SOURCE_OUTBOUND_EMAIL = 1, 2, 10
CONVERSATION_SOURCE_REPLY, CONVERSATION_SOURCE_NOTE = 0, 2
TICKET_TYPES = ("Question", "Incident", "Problem", "Feature Request", "Refund")
UPDATABLE_FIELDS = frozenset(
    {
        "tags",
        "group_id",
        "responder_id",
        "status",
        "priority",
        "type",
        "subject",
        "description",
        "custom_fields",
    }
)

blueprint = Blueprint("freshdesk", __name__)


# ---- helpers ------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, body: Any = None) -> Response:
    response = jsonify(body) if body is not None else Response(b"", mimetype="application/json")
    response.status_code = status
    return response


def _invalid_json() -> Response:
    return _error(400, {"code": "invalid_json", "message": "Request body has invalid json format"})


def _validation_error(field: str, message: str, code: str = "invalid_value") -> Response:
    return _error(
        400,
        {"description": "Validation failed", "errors": [{"field": field, "message": message, "code": code}]},
    )


def _rate_headers(cost: int = 1) -> dict[str, str]:
    """Per-minute window counted in the state; the counter only informs, it never throttles."""
    window = int(time.time() // 60)
    used = count_request(PLATFORM, window, cost)
    return {
        "X-Ratelimit-Total": str(RATE_LIMIT_TOTAL),
        "X-Ratelimit-Remaining": str(max(0, RATE_LIMIT_TOTAL - used)),
        "X-Ratelimit-Used-CurrentRequest": str(cost),
    }


def _includes() -> list[str]:
    return [part for part in (request.args.get("include") or "").split(",") if part]


def _body_json() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _ticket_or_404(data: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    ticket = data["tickets"].get(ticket_id)
    if ticket is None:
        abort(_error(404))
    return ticket


def _contact_by_email(data: dict[str, Any], email: str) -> dict[str, Any] | None:
    wanted = email.strip().casefold()
    return next((c for c in data["contacts"].values() if (c.get("email") or "").casefold() == wanted), None)


def _as_html(text: str) -> str:
    if looks_like_html(text):
        return text
    return "<div>" + html.escape(text).replace("\n", "<br>") + "</div>"


def _conversation(
    data: dict[str, Any],
    ticket: dict[str, Any],
    *,
    body_html: str,
    incoming: bool,
    private: bool,
    user_id: int,
    from_email: str | None,
    to_emails: list[str],
    source: int,
    conversation_id: int | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    now = created_at or _now()
    conversation = {
        "id": conversation_id or sandbox_state().next_id("freshdesk.conversation", start=5_000_100_000),
        "body": body_html,
        "body_text": html_to_text(body_html),
        "incoming": incoming,
        "private": private,
        "user_id": user_id,
        "support_email": SUPPORT_EMAIL if not private else None,
        "source": source,
        "category": 2 if incoming else 3,
        "ticket_id": ticket["id"],
        "from_email": from_email,
        "to_emails": to_emails,
        "cc_emails": [],
        "bcc_emails": [],
        "attachments": [],
        "created_at": now,
        "updated_at": now,
    }
    data["conversations"].setdefault(ticket["id"], []).append(conversation)
    ticket["updated_at"] = now
    return conversation


def _new_ticket(
    data: dict[str, Any],
    *,
    ticket_id: int,
    subject: str,
    description_html: str,
    requester_id: int,
    status: int = 2,
    priority: int = 1,
    source: int = SOURCE_EMAIL,
    tags: list[str] | None = None,
    group_id: int | None = None,
    ticket_type: str | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    now = created_at or _now()
    ticket = {
        "id": ticket_id,
        "subject": subject,
        "description": description_html,
        "description_text": html_to_text(description_html),
        "status": status,
        "priority": priority,
        "source": source,
        "type": ticket_type,
        "requester_id": requester_id,
        "responder_id": None,
        "group_id": group_id,
        "company_id": None,
        "product_id": None,
        "email_config_id": None,
        "tags": list(tags or []),
        "cc_emails": [],
        "fwd_emails": [],
        "reply_cc_emails": [],
        "to_emails": [SUPPORT_EMAIL],
        "spam": False,
        "fr_escalated": False,
        "is_escalated": False,
        "custom_fields": {},
        "attachments": [],
        "due_by": now,
        "fr_due_by": now,
        "created_at": now,
        "updated_at": now,
    }
    data["tickets"][ticket_id] = ticket
    return ticket


def _requester_json(data: dict[str, Any], contact_id: int) -> dict[str, Any] | None:
    contact = data["contacts"].get(contact_id)
    if contact is None:
        return None
    return {k: contact.get(k) for k in ("id", "name", "email", "mobile", "phone")}


def _ensure_contact(data: dict[str, Any], email: str | None, name: str | None) -> dict[str, Any]:
    email = (email or "customer@example.com").strip()
    contact = _contact_by_email(data, email)
    if contact is None:
        contact_id = sandbox_state().next_id("freshdesk.contact", start=20_000)  # above the world's
        contact = _contact(contact_id, name or email.split("@")[0], email)
        data["contacts"][contact_id] = contact
    return contact


def _contact(
    contact_id: int, name: str, email: str, created_at: str = "2024-11-02T10:00:00Z", language: str = "en"
) -> dict[str, Any]:
    return {
        "id": contact_id,
        "name": name,
        "email": email,
        "phone": None,
        "mobile": None,
        "active": True,
        "address": None,
        "company_id": None,
        "description": None,
        "job_title": None,
        "language": language,
        "time_zone": "Eastern Time (US & Canada)",
        "twitter_id": None,
        "other_emails": [],
        "tags": [],
        "custom_fields": {},
        "created_at": created_at,
        "updated_at": created_at,
    }


def _write_result(response: Response, body: Any) -> Response:
    record_write(PLATFORM, body, status=response.status_code)
    return response


# ---- auth and headers ---------------------------------------------------------------------------


@blueprint.before_request
def _authenticate() -> Response | None:
    auth = request.authorization
    if auth is None or auth.type != "basic" or auth.username != API_KEY:
        return _error(
            401,
            {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."},
        )
    return None


@blueprint.after_request
def _add_rate_headers(response: Response) -> Response:
    for name, value in _rate_headers(1 + len(_includes())).items():
        response.headers.setdefault(name, value)
    return response


def fault_response(fault: Fault) -> Response:
    """429 carries Retry-After in whole seconds (how Freshdesk sends it); other faults a JSON message."""
    if fault.status == 429:
        wait = 60 if fault.retry_after is None else max(0, math.ceil(float(fault.retry_after)))
        response = _error(429, fault.body or {"message": "You have exceeded the limit of requests per hour"})
        response.headers["Retry-After"] = str(wait)
        response.headers.update(_rate_headers(1))
        response.headers["X-Ratelimit-Remaining"] = "0"
        return response
    response = _error(fault.status, fault.body or {"code": "sandbox_fault", "message": "Injected fault"})
    response.headers.update(_rate_headers(1))
    return response


# ---- API ----------------------------------------------------------------------------------------


LIST_PAGE_MAX = 300  # Freshdesk refuses deeper pages of List All Tickets
LIST_DEFAULT_DAYS = 30  # without updated_since, only tickets created in the last 30 days are listed
LIST_ORDER_FIELDS = ("created_at", "due_by", "updated_at", "status")


@blueprint.get("/tickets")
def list_tickets():
    """List All Tickets (docs/platforms/freshdesk.md): `updated_since` (else the last 30 days' new
    tickets), `order_by` and `order_type` (desc by default), `per_page` up to 100, `page` up to 300.
    Like Freshdesk it leaves the description out (`include=description` adds it back)."""
    data = section(PLATFORM)
    args = request.args
    order_by, order_type = args.get("order_by", "created_at"), args.get("order_type", "desc")
    if order_by not in LIST_ORDER_FIELDS:
        return _validation_error(
            "order_by", f"It should be one of these values: '{','.join(LIST_ORDER_FIELDS)}'"
        )
    if order_type not in ("asc", "desc"):
        return _validation_error("order_type", "It should be one of these values: 'asc,desc'")
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("per_page", 30))
    except ValueError:
        return _validation_error("page", "It should be a Positive Number", "invalid_value")
    if not 1 <= page <= LIST_PAGE_MAX or not 1 <= per_page <= 100:
        return _validation_error(
            "page", f"It should be a Positive Number less than or equal to {LIST_PAGE_MAX}"
        )
    since = args.get("updated_since")
    try:
        bound = _moment(since) if since else datetime.now(UTC) - timedelta(days=LIST_DEFAULT_DAYS)
    except ValueError:
        return _validation_error("updated_since", "It should be in the 'valid date' format", "invalid_value")
    field = "updated_at" if since else "created_at"
    with sandbox_state().lock:
        rows = [dict(t) for t in data["tickets"].values() if _moment(t[field]) >= bound]
    rows.sort(key=lambda t: (t[order_by] is None, t[order_by], t["id"]), reverse=order_type == "desc")
    if "description" not in _includes():
        for row in rows:
            row.pop("description", None)
            row.pop("description_text", None)
    return jsonify(rows[(page - 1) * per_page : page * per_page])


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@blueprint.get("/tickets/<int:ticket_id>")
def view_ticket(ticket_id: int):
    data = section(PLATFORM)
    with sandbox_state().lock:
        ticket = dict(_ticket_or_404(data, ticket_id))
        includes = _includes()
        if "conversations" in includes:
            ticket["conversations"] = list(data["conversations"].get(ticket_id, []))[
                :EMBEDDED_CONVERSATIONS_CAP
            ]
        if "requester" in includes:
            ticket["requester"] = _requester_json(data, ticket["requester_id"])
        return jsonify(ticket)


@blueprint.get("/tickets/<int:ticket_id>/conversations")
def list_conversations(ticket_id: int):
    data = section(PLATFORM)
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(100, max(1, int(request.args.get("per_page", 30))))
    except ValueError:
        return _validation_error("page", "It should be a Positive Number", "invalid_value")
    with sandbox_state().lock:
        _ticket_or_404(data, ticket_id)
        rows = data["conversations"].get(ticket_id, [])
        chunk = rows[(page - 1) * per_page : page * per_page]
        response = jsonify(chunk)
        if page * per_page < len(rows):
            nxt = f"{request.base_url}?page={page + 1}&per_page={per_page}"
            response.headers["Link"] = f'<{nxt}>; rel="next"'
        return response


def _add_conversation(ticket_id: int, *, note: bool):
    data = section(PLATFORM)
    body = _body_json()
    if body is None:
        return _write_result(_invalid_json(), None)
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        return _write_result(_validation_error("body", "It should be a/an String", "missing_field"), body)
    with sandbox_state().lock:
        ticket = _ticket_or_404(data, ticket_id)
        requester = data["contacts"].get(ticket["requester_id"]) or {}
        if note:
            private = body.get("private", True)
            if not isinstance(private, bool):
                return _write_result(_validation_error("private", "It should be a/an Boolean"), body)
            conversation = _conversation(
                data,
                ticket,
                body_html=text,
                incoming=bool(body.get("incoming", False)),
                private=private,
                user_id=body.get("user_id") or BOT_AGENT_ID,
                from_email=None,
                to_emails=[e for e in body.get("notify_emails") or [] if isinstance(e, str)]
                if isinstance(body.get("notify_emails"), list)
                else [],
                source=CONVERSATION_SOURCE_NOTE,
            )
        else:
            conversation = _conversation(
                data,
                ticket,
                body_html=text,
                incoming=False,
                private=False,
                user_id=body.get("user_id") or BOT_AGENT_ID,
                from_email=body.get("from_email") or SUPPORT_EMAIL,
                to_emails=[str(requester["email"])] if requester.get("email") else [],
                source=CONVERSATION_SOURCE_REPLY,
            )
        response = jsonify(conversation)
        response.status_code = 201
        return _write_result(response, body)


@blueprint.post("/tickets/<int:ticket_id>/reply")
def reply(ticket_id: int):
    return _add_conversation(ticket_id, note=False)


@blueprint.post("/tickets/<int:ticket_id>/notes")
def add_note(ticket_id: int):
    return _add_conversation(ticket_id, note=True)


def _is_one_of(value: Any, allowed: Any) -> bool:
    """Freshdesk ids and enums are integers; anything else (lists, strings, booleans) is invalid."""
    return isinstance(value, int) and not isinstance(value, bool) and value in allowed


def _check_update(data: dict[str, Any], body: dict[str, Any]) -> Response | None:
    unknown = sorted(set(body) - UPDATABLE_FIELDS)
    if unknown:
        return _validation_error(unknown[0], "Unexpected/invalid field in request", "invalid_field")
    if "tags" in body and not (
        isinstance(body["tags"], list) and all(isinstance(t, str) for t in body["tags"])
    ):
        return _validation_error("tags", "It should be a/an Array", "datatype_mismatch")
    if "status" in body and not _is_one_of(body["status"], STATUS_NAMES):
        return _validation_error("status", "It should be one of these values: '2,3,4,5'")
    if "priority" in body and not _is_one_of(body["priority"], PRIORITIES):
        return _validation_error("priority", "It should be one of these values: '1,2,3,4'")
    for field in ("subject", "description"):
        if field in body and not isinstance(body[field], str):
            return _validation_error(field, "It should be a/an String", "datatype_mismatch")
    if "custom_fields" in body and not isinstance(body["custom_fields"], dict):
        return _validation_error("custom_fields", "It should be a/an key/value pair", "datatype_mismatch")
    if "type" in body and body["type"] is not None and body["type"] not in TICKET_TYPES:
        return _validation_error("type", "It should be one of these values: '" + ",".join(TICKET_TYPES) + "'")
    if (
        "group_id" in body
        and body["group_id"] is not None
        and not _is_one_of(body["group_id"], data["groups"])
    ):
        return _validation_error("group_id", "There is no group matching the given group_id")
    if (
        "responder_id" in body
        and body["responder_id"] is not None
        and not _is_one_of(body["responder_id"], data["agents"])
    ):
        return _validation_error("responder_id", "There is no agent matching the given responder_id")
    return None


@blueprint.put("/tickets/<int:ticket_id>")
def update_ticket(ticket_id: int):
    data = section(PLATFORM)
    body = _body_json()
    if body is None:
        return _write_result(_invalid_json(), None)
    with sandbox_state().lock:
        ticket = _ticket_or_404(data, ticket_id)
        problem = _check_update(data, body)
        if problem is not None:
            return _write_result(problem, body)
        for field, value in body.items():
            if field == "description":
                ticket["description"] = value
                ticket["description_text"] = html_to_text(value or "")
            elif field == "custom_fields":
                ticket["custom_fields"].update(value or {})
            elif field == "tags":
                ticket["tags"] = list(dict.fromkeys(value))
            else:
                ticket[field] = value
        ticket["updated_at"] = _now()
        return _write_result(jsonify(ticket), body)


@blueprint.post("/tickets")
def create_ticket_api():
    data = section(PLATFORM)
    body = _body_json()
    if body is None:
        return _write_result(_invalid_json(), None)
    email, requester_id = body.get("email"), body.get("requester_id")
    if email is not None and not isinstance(email, str):
        return _write_result(
            _validation_error("email", "It should be a/an String", "datatype_mismatch"), body
        )
    if not email and not requester_id:
        message = "Please fill at least 1 of requester_id, email, phone, unique_external_id fields"
        return _write_result(_validation_error("requester_id", message, "missing_field"), body)
    for field in ("subject", "description"):
        if not isinstance(body.get(field), str) or not body[field].strip():
            return _write_result(_validation_error(field, "It should be a/an String", "missing_field"), body)
    with sandbox_state().lock:
        if requester_id is not None and not _is_one_of(requester_id, data["contacts"]):
            return _write_result(
                _validation_error("requester_id", "There is no contact matching the given requester_id"), body
            )
        contact = (
            data["contacts"][requester_id] if requester_id else _ensure_contact(data, email, body.get("name"))
        )
        problem = _check_update(data, {k: v for k, v in body.items() if k in UPDATABLE_FIELDS})
        if problem is not None:
            return _write_result(problem, body)
        ticket = _new_ticket(
            data,
            ticket_id=sandbox_state().next_id("freshdesk.ticket", start=1000),
            subject=body["subject"],
            description_html=body["description"],
            requester_id=contact["id"],
            status=body.get("status", 2),
            priority=body.get("priority", 1),
            source=body.get("source", SOURCE_PORTAL),
            tags=body.get("tags"),
            group_id=body.get("group_id"),
            ticket_type=body.get("type"),
        )
        response = jsonify(ticket)
        response.status_code = 201
        return _write_result(response, body)


@blueprint.get("/contacts")
def list_contacts():
    data = section(PLATFORM)
    email = request.args.get("email")
    with sandbox_state().lock:
        if email:
            contact = _contact_by_email(data, email)
            return jsonify([contact] if contact else [])
        return jsonify(list(data["contacts"].values()))


@blueprint.get("/groups")
def list_groups():
    with sandbox_state().lock:
        return jsonify(list(section(PLATFORM)["groups"].values()))


@blueprint.get("/agents/me")
def me():
    with sandbox_state().lock:
        return jsonify(section(PLATFORM)["agents"][BOT_AGENT_ID])


# ---- sandbox contract ---------------------------------------------------------------------------


def client_env(base_url: str) -> dict[str, str]:
    return {
        "FRESHDESK_BASE_URL": f"{base_url}{PREFIX}",
        "FRESHDESK_API_KEY": API_KEY,
        "FRESHDESK_HANDOFF_GROUP_ID": str(HANDOFF_GROUP_ID),
    }


def _agent(agent_id: int, name: str, email: str, group_ids: list[int]) -> dict[str, Any]:
    return {
        "id": agent_id,
        "available": True,
        "occasional": False,
        "signature": None,
        "ticket_scope": 1,
        "group_ids": group_ids,
        "role_ids": [1],
        "created_at": "2024-10-01T09:00:00Z",
        "updated_at": "2024-10-01T09:00:00Z",
        "contact": {
            "name": name,
            "email": email,
            "active": True,
            "job_title": None,
            "language": "en",
            "mobile": None,
            "phone": None,
            "time_zone": "Eastern Time (US & Canada)",
        },
    }


def _group(group_id: int, name: str, description: str, agent_ids: list[int]) -> dict[str, Any]:
    return {
        "id": group_id,
        "name": name,
        "description": description,
        "agent_ids": agent_ids,
        "auto_ticket_assign": False,
        "business_hour_id": None,
        "escalate_to": None,
        "unassigned_for": "30m",
        "created_at": "2024-10-01T09:00:00Z",
        "updated_at": "2024-10-01T09:00:00Z",
    }


FRESHDESK_STATUS = {"open": 2, "waiting": 3, "resolved": 4, "closed": 5}
AGENT_ID = 9002  # Sam Rivera, who answers as "agent" in the world's tickets


def _stamp(moment: world.Moment) -> str:
    return moment.on(world.today()).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(data: dict[str, Any]) -> None:
    """Agents and groups of this helpdesk; the world's customers as contacts (id 8000 + the customer's
    number) and its Freshdesk tickets (ids 101... in file order, the first message being the
    description and the others conversations 5000000001... in order)."""
    data.clear()
    data["groups"] = {
        HANDOFF_GROUP_ID: _group(
            HANDOFF_GROUP_ID, "Customer Support", "Agents who take handed-off tickets", [AGENT_ID]
        ),
        5002: _group(5002, "Billing", "Refunds and invoices", [9003]),
    }
    data["agents"] = {
        BOT_AGENT_ID: _agent(BOT_AGENT_ID, "Acme Support Bot", SUPPORT_EMAIL, []),
        AGENT_ID: _agent(AGENT_ID, "Sam Rivera", "sam.rivera@acme-shop.example", [HANDOFF_GROUP_ID]),
        9003: _agent(9003, "Priya Natarajan", "priya.natarajan@acme-shop.example", [5002]),
    }
    the_world = world.load()
    data["contacts"] = {}
    for customer in the_world.customers:
        contact = _contact(8000 + customer.id, customer.name, customer.email, language=customer.language)
        data["contacts"][contact["id"]] = contact
    data["tickets"], data["conversations"] = {}, {}
    conversation_id = 5_000_000_000
    for number, seeded in enumerate(the_world.tickets_on(PLATFORM), start=101):
        first, *later = seeded.messages
        requester = 8000 + seeded.customer.id
        ticket = _new_ticket(
            data,
            ticket_id=number,
            subject=seeded.subject,
            description_html=first.body if first.html else _as_html(first.body),
            requester_id=requester,
            status=FRESHDESK_STATUS[seeded.status],
            tags=list(seeded.tags),
            created_at=_stamp(first.at),
        )
        for message in later:
            conversation_id += 1
            from_customer = message.sender == "customer"
            agent = {"bot": BOT_AGENT_ID, "agent": AGENT_ID}.get(message.sender, requester)
            _conversation(
                data,
                ticket,
                body_html=message.body if message.html else _as_html(message.body),
                incoming=from_customer,
                private=message.note,
                user_id=agent,
                from_email=seeded.customer.email if from_customer else SUPPORT_EMAIL,
                to_emails=[SUPPORT_EMAIL] if from_customer else [seeded.customer.email],
                source=CONVERSATION_SOURCE_NOTE if message.note else CONVERSATION_SOURCE_REPLY,
                conversation_id=conversation_id,
                created_at=_stamp(message.at),
            )


def _quoted_history(data: dict[str, Any], ticket: dict[str, Any]) -> str:
    """What the customer's mail client appends under their reply: our last public message, quoted."""
    ours = [c for c in data["conversations"].get(ticket["id"], []) if not c["incoming"] and not c["private"]]
    if not ours:
        return ""
    last = ours[-1]
    return (
        '<br><div class="gmail_quote"><div class="gmail_attr">On '
        + last["created_at"]
        + f" Acme Support &lt;{SUPPORT_EMAIL}&gt; wrote:</div>"
        f'<blockquote class="gmail_quote">{last["body"]}</blockquote></div>'
    )


def create_ticket(
    data: dict[str, Any], *, subject: str, text: str, email: str | None, name: str | None
) -> dict[str, Any]:
    contact = _ensure_contact(data, email, name)
    ticket = _new_ticket(
        data,
        ticket_id=sandbox_state().next_id("freshdesk.ticket", start=1000),
        subject=subject,
        description_html=_as_html(text),
        requester_id=contact["id"],
    )
    # Freshdesk has no conversation for the first message: the description is it.
    return {
        "ticket_id": str(ticket["id"]),
        "message_id": f"ticket-{ticket['id']}",
        "customer_id": str(contact["id"]),
    }


def _ticket_for_control(data: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    try:
        return _ticket_or_404(data, int(ticket_id))
    except ValueError:
        abort(404)


def add_customer_message(data: dict[str, Any], ticket_id: str, text: str) -> dict[str, Any]:
    """A customer's emailed reply: incoming, public, thread quoted below; it reopens the ticket."""
    ticket = _ticket_for_control(data, ticket_id)
    contact = data["contacts"].get(ticket["requester_id"]) or {}
    conversation = _conversation(
        data,
        ticket,
        body_html=_as_html(text) + _quoted_history(data, ticket),
        incoming=True,
        private=False,
        user_id=ticket["requester_id"],
        from_email=contact.get("email"),
        to_emails=[SUPPORT_EMAIL],
        source=CONVERSATION_SOURCE_REPLY,
    )
    if ticket["status"] in (3, 4, 5):
        ticket["status"] = 2
    return {"message_id": str(conversation["id"])}


def ticket_view(data: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    ticket = _ticket_for_control(data, ticket_id)
    conversations = data["conversations"].get(ticket["id"], [])
    contact = data["contacts"].get(ticket["requester_id"]) or {}
    group = data["groups"].get(ticket["group_id"]) if ticket["group_id"] is not None else None
    return {
        "ticket_id": str(ticket["id"]),
        "subject": ticket["subject"],
        "status": STATUS_NAMES.get(ticket["status"], str(ticket["status"])),
        "status_code": ticket["status"],
        "priority": ticket["priority"],
        "tags": list(ticket["tags"]),
        "group": str(ticket["group_id"]) if ticket["group_id"] is not None else None,
        "group_name": group["name"] if group else None,
        "responder_id": ticket["responder_id"],
        "replies": [c["body_text"] for c in conversations if not c["incoming"] and not c["private"]],
        "notes": [c["body_text"] for c in conversations if c["private"]],
        "customer_messages": [c["body_text"] for c in conversations if c["incoming"] and not c["private"]],
        "requester_email": contact.get("email"),
    }
