"""Kustomer API v1 as the sandbox serves it (docs/platforms/kustomer.md).

JSON:API documents ({"data": ...}, relative `links`, paging with page/pageSize), Bearer API keys,
conversations whose `tags` are tag ids replaced wholesale on PATCH, status open|snoozed|done with a
`snooze` {time, status} that reopens the conversation when its time passes, notes created on a
conversation (`POST /conversations/{id}/notes`; `POST /notes` takes no `conversation`, so a note
made there belongs to none), and replies sent as drafts on the customer. Messages carry `preview`
(the opening of the text), `meta` and `size`, never a body, as the vendor schema has it.

Drafts: an email draft is addressed with objects (`to` {email, name} or a list of them, `from`
{email, name}); sms, chat and whatsapp take strings. A draft with `scheduled: true` and a future
`sendAt` is sent when that time comes (checked on every request) and then removed, leaving an `out`
message. Whether a draft created without a schedule is sent or waits in the reply box is not
established by any source: READINGS "unscheduled_drafts" plays "held" (it waits, the default) or
"sent" (it goes out at once).

Every response carries x-ratelimit-* headers; x-ratelimit-reset is the epoch second the window
resets (the unit is unconfirmed for the real service, so our client accepts both forms). Rate limits
are reported, never enforced: throttles come from injected faults.
"""

from __future__ import annotations

import html
import math
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from connectors.text import html_to_text, looks_like_html
from sandbox import world
from sandbox.app import count_request, reading, record_write, sandbox_state, section
from sandbox.state import Fault

PLATFORM = "kustomer"
PREFIX = "/kustomer/v1"
HELPDESK = True

API_KEY = "sandbox-kustomer-api-key"
RATE_LIMIT = 1000  # Enterprise plan, requests per 60 s
PAGE_SIZE_MAX = 100
ASSIGNEES_MAX = 10
NOTE_BODY_MAX = 10_240
SUPPORT_EMAIL = "support@acme-shop.example"
STATUSES = ("open", "snoozed", "done")
DRAFT_CHANNELS = ("email", "chat", "sms", "whatsapp", "note")
SNOOZE_STATUSES = ("scheduled", "canceled", "elapsed")
PREVIEW_LENGTH = 100  # the length of Kustomer's preview is not documented
READINGS = {"unscheduled_drafts": ("held", "sent")}
CONVERSATION_FIELDS = frozenset(
    {"status", "priority", "tags", "assignedUsers", "assignedTeams", "queue", "custom", "name", "snooze"}
)

_ID_PREFIX = "66a1f0c2"


def oid(n: int) -> str:
    """A 24-hex id shaped like Kustomer's (Mongo ObjectIds)."""
    return f"{_ID_PREFIX}{n:016x}"


HANDOFF_TEAM_ID = oid(0x7001)
BOT_USER_ID = oid(0x9001)

blueprint = Blueprint("kustomer", __name__)


# ---- helpers ------------------------------------------------------------------------------------


def _now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _new_id(kind: str) -> str:
    return oid(sandbox_state().next_id("kustomer.id", start=0x100000))


def _error(status: int, code: str, title: str, detail: str | None = None) -> Response:
    err: dict[str, Any] = {"status": status, "code": code, "title": title}
    if detail:
        err["detail"] = detail
    response = jsonify({"errors": [err]})
    response.status_code = status
    return response


def _bad_request(detail: str) -> Response:
    return _error(400, "validation_error", "Bad Request", detail)


def _not_found(kind: str) -> Response:
    return _error(404, "not_found", "Not Found", f"{kind} not found")


def _doc(data: Any, status: int = 200, **extra: Any) -> Response:
    response = jsonify({"data": data, **extra})
    response.status_code = status
    return response


def _rate_headers() -> dict[str, str]:
    now = time.time()
    window = int(now // 60)
    used = count_request(PLATFORM, window)
    return {
        "x-ratelimit-limit": str(RATE_LIMIT),
        "x-ratelimit-remaining": str(max(0, RATE_LIMIT - used)),
        "x-ratelimit-reset": str((window + 1) * 60),
    }


def _body_json() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _write_result(response: Response, body: Any) -> Response:
    record_write(PLATFORM, body, status=response.status_code)
    return response


def _paged(rows: list[Any], path: str) -> Response:
    """Kustomer-style paging: links are paths relative to the API host, starting with /v1."""
    try:
        page = max(1, int(request.args.get("page", 1)))
        size = min(PAGE_SIZE_MAX, max(1, int(request.args.get("pageSize", PAGE_SIZE_MAX))))
    except ValueError:
        return _bad_request("page and pageSize must be positive integers")
    chunk = rows[(page - 1) * size : page * size]

    def link(p: int) -> str:
        return f"/v1/{path}?page={p}&pageSize={size}"

    links = {
        "self": link(page),
        "first": link(1),
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page * size < len(rows) else None,
    }
    return _doc(
        chunk, links=links, meta={"page": page, "pageSize": size, "totalPages": max(1, -(-len(rows) // size))}
    )


def _ref(kind: str, ident: str | None) -> dict[str, Any]:
    return {"data": {"type": kind, "id": ident} if ident else None}


def _as_html(text: str) -> str:
    if looks_like_html(text):
        return text
    return "<div>" + html.escape(text).replace("\n", "<br>") + "</div>"


# ---- resources ----------------------------------------------------------------------------------


def _customer_json(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "customer",
        "id": c["id"],
        "attributes": {
            "name": c["name"],
            "displayName": c["name"],
            "displayColor": "blue",
            "emails": [{"type": "home", "email": e} for e in c["emails"]],
            "phones": [],
            "socials": [],
            "locale": c.get("locale", "en_US"),
            "tags": [],
            "verified": True,
            "custom": {},
            "createdAt": c["createdAt"],
            "updatedAt": c["updatedAt"],
            "modifiedAt": c["updatedAt"],
        },
        "relationships": {"org": _ref("org", oid(1))},
        "links": {"self": f"/v1/customers/{c['id']}"},
    }


def _conversation_messages(data: dict[str, Any], conv_id: str) -> list[dict[str, Any]]:
    """The conversation's messages, less those the helpdesk has not created yet (see create_ticket)."""
    messages = (data["messages"][m] for m in data["conversations"][conv_id]["messageIds"])
    return [m for m in messages if not m.get("held")]


def _conversation_json(data: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    messages = _conversation_messages(data, c["id"])
    inbound = [m for m in messages if m["direction"] == "in"]
    outbound = [m for m in messages if m["direction"] == "out"]
    attributes = {
        "name": c["name"],
        "channels": c["channels"],
        "status": c["status"],
        "priority": c["priority"],
        "direction": c["direction"],
        "messageCount": len(messages),
        "noteCount": len(c["noteIds"]),
        "inboundMessageCount": len(inbound),
        "outboundMessageCount": len(outbound),
        "preview": messages[-1]["preview"] if messages else "",
        "tags": list(c["tags"]),
        "assignedUsers": list(c["assignedUsers"]),
        "assignedTeams": list(c["assignedTeams"]),
        "custom": dict(c["custom"]),
        "createdAt": c["createdAt"],
        "updatedAt": c["updatedAt"],
        "modifiedAt": c["updatedAt"],
    }
    if c.get("endedAt"):
        attributes["endedAt"] = c["endedAt"]
    if c.get("snooze"):
        attributes["snooze"] = c["snooze"]
    if inbound:
        attributes["firstMessageIn"] = {"id": inbound[0]["id"], "sentAt": inbound[0]["sentAt"]}
        attributes["lastMessageIn"] = {"id": inbound[-1]["id"], "sentAt": inbound[-1]["sentAt"]}
    return {
        "type": "conversation",
        "id": c["id"],
        "attributes": attributes,
        "relationships": {
            "customer": {
                **_ref("customer", c["customer"]),
                "links": {"self": f"/v1/customers/{c['customer']}"},
            },
            "messages": {"links": {"self": f"/v1/conversations/{c['id']}/messages"}},
            "queue": _ref("queue", c.get("queue")),
            "org": _ref("org", oid(1)),
        },
        "links": {"self": f"/v1/conversations/{c['id']}"},
    }


def _message_json(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "id": m["id"],
        "attributes": {
            "channel": m["channel"],
            "app": m["app"],
            "direction": m["direction"],
            "directionType": m["directionType"],
            "preview": m["preview"],
            "subject": m.get("subject"),
            "meta": m["meta"],
            "status": m["status"],
            "size": len(m["body"]),
            "sentAt": m["sentAt"],
            "createdAt": m["createdAt"],
            "updatedAt": m["createdAt"],
        },
        "relationships": {
            "conversation": _ref("conversation", m["conversation"]),
            "customer": _ref("customer", m["customer"]),
            "createdBy": _ref("user", m.get("createdBy")),
        },
        "links": {"self": f"/v1/messages/{m['id']}"},
    }


def _note_json(n: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "note",
        "id": n["id"],
        "attributes": {
            "body": n["body"],
            "userMentions": n["userMentions"],
            "createdAt": n["createdAt"],
            "updatedAt": n["createdAt"],
        },
        "relationships": {
            "conversation": _ref("conversation", n["conversation"]),
            "customer": _ref("customer", n["customer"]),
            "createdBy": _ref("user", BOT_USER_ID),
        },
        "links": {"self": f"/v1/notes/{n['id']}"},
    }


def _tag_json(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "tag",
        "id": t["id"],
        "attributes": {
            "name": t["name"],
            "color": t["color"],
            "deleted": False,
            "createdAt": t["createdAt"],
            "updatedAt": t["createdAt"],
        },
        "links": {"self": f"/v1/tags/{t['id']}"},
    }


def _team_json(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "team",
        "id": t["id"],
        "attributes": {
            "name": t["name"],
            "displayName": t["name"],
            "members": t["members"],
            "createdAt": "2024-10-01T09:00:00.000Z",
            "updatedAt": "2024-10-01T09:00:00.000Z",
        },
        "links": {"self": f"/v1/teams/{t['id']}"},
    }


def _message(
    data: dict[str, Any],
    conv: dict[str, Any],
    *,
    direction: str,
    body: str,
    channel: str = "email",
    sender: str | None = None,
    to: list[str] | None = None,
    subject: str | None = None,
    created_by: str | None = None,
    message_id: str | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    at = at or _now()
    first = not conv["messageIds"]
    message = {
        "id": message_id or _new_id("message"),
        "conversation": conv["id"],
        "customer": conv["customer"],
        "channel": channel,
        "app": "postmark" if channel == "email" else channel,
        "direction": direction,
        "directionType": ("initial-" if first else "response-") + direction,
        "body": body,
        "preview": html_to_text(body)[:PREVIEW_LENGTH],
        "subject": subject,
        "meta": {"from": sender, "to": [{"email": e} for e in (to or [])], "subject": subject},
        "status": "received" if direction == "in" else "sent",
        "sentAt": at,
        "createdAt": at,
        "createdBy": created_by,
    }
    data["messages"][message["id"]] = message
    conv["messageIds"].append(message["id"])
    if channel not in conv["channels"]:
        conv["channels"].append(channel)
    conv["updatedAt"] = at
    return message


def _new_conversation(
    data: dict[str, Any],
    *,
    customer_id: str,
    name: str,
    conv_id: str | None = None,
    status: str = "open",
    tags: list[str] | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    at = at or _now()
    conv = {
        "id": conv_id or _new_id("conversation"),
        "customer": customer_id,
        "name": name,
        "status": status,
        "priority": 3,
        "direction": "in",
        "channels": [],
        "tags": list(tags or []),
        "assignedUsers": [],
        "assignedTeams": [],
        "queue": None,
        "custom": {},
        "messageIds": [],
        "noteIds": [],
        "createdAt": at,
        "updatedAt": at,
    }
    data["conversations"][conv["id"]] = conv
    return conv


def _customer(data: dict[str, Any], ident: str, name: str, email: str | None) -> dict[str, Any]:
    at = "2024-11-02T10:00:00.000Z"
    emails = [email] if email else []  # a chat visitor may have given no email
    customer = {"id": ident, "name": name, "emails": emails, "createdAt": at, "updatedAt": at}
    data["customers"][ident] = customer
    return customer


def _customer_by_email(data: dict[str, Any], email: str) -> dict[str, Any] | None:
    wanted = email.strip().casefold()
    return next(
        (c for c in data["customers"].values() if wanted in (e.casefold() for e in c["emails"])), None
    )


def _get(data: dict[str, Any], kind: str, ident: str) -> dict[str, Any]:
    item = data[kind].get(ident)
    if item is None:
        abort(_not_found(kind[:-1]))
    return item


# ---- auth and headers ---------------------------------------------------------------------------


@blueprint.before_request
def _authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or token.strip() != API_KEY:
        return _error(401, "unauthorized", "Unauthorized", "Invalid or missing API token")
    return None


@blueprint.before_request
def _catch_up() -> None:
    """What Kustomer does on its own clock: send scheduled drafts that are due, end elapsed snoozes."""
    with sandbox_state().lock:
        catch_up(section(PLATFORM))


def catch_up(data: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    for draft in [d for d in data["drafts"].values() if d["status"] == "scheduled"]:
        if _parse_time(draft["sendAt"]) <= now:
            _send_draft(data, draft)
    for conv in data["conversations"].values():
        snooze = conv.get("snooze") or {}
        due = (
            snooze.get("status") == "scheduled" and snooze.get("time") and _parse_time(snooze["time"]) <= now
        )
        if conv["status"] == "snoozed" and due:
            conv["status"] = "open"
            conv["snooze"] = {**snooze, "status": "elapsed"}


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@blueprint.after_request
def _add_rate_headers(response: Response) -> Response:
    for name, value in _rate_headers().items():
        response.headers.setdefault(name, value)
    return response


def fault_response(fault: Fault) -> Response:
    """429 says when to come back in x-ratelimit-reset (epoch seconds); other faults a JSON:API error."""
    headers = _rate_headers()
    if fault.status == 429:
        wait = 60.0 if fault.retry_after is None else max(0.0, float(fault.retry_after))
        response = _error(429, "rate_limit_exceeded", "Too Many Requests", "Rate limit exceeded")
        headers["x-ratelimit-remaining"] = "0"
        headers["x-ratelimit-reset"] = str(math.ceil(time.time() + wait))
    else:
        response = _error(fault.status, "sandbox_fault", "Injected fault")
    if fault.body is not None:
        response.set_data(jsonify(fault.body).get_data())
    response.headers.update(headers)
    return response


# ---- API ----------------------------------------------------------------------------------------


@blueprint.get("/users/current")
def current_user():
    """The user the API key acts as (Kustomer answers the key's own user in a JSON:API document)."""
    data = section(PLATFORM)
    with sandbox_state().lock:
        user = data["users"][BOT_USER_ID]
        return _doc(
            {"type": "user", "id": user["id"], "attributes": {"name": user["name"], "userType": "machine"}}
        )


SEARCH_PAGE_SIZE_MAX = 500
SEARCH_OPERATORS = {
    "gte": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}


@blueprint.post("/customers/search")
def search():
    """The search API (docs/platforms/kustomer.md), as far as a backtest reads it: `queryContext:
    conversation` with `and` criteria on `conversation_created_at` (gte, gt, lte, lt; a UTC time or a
    YYYY-MM-DD day, GMT), `sort` on it, `page` and `pageSize` up to 500. A search changes nothing, so
    it is not a write. Criteria on any other attribute are refused here (400) rather than ignored, so
    a query the sandbox cannot answer faithfully never looks like an empty result."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("queryContext") != "conversation":
        return _bad_request("this sandbox searches conversations only (queryContext: conversation)")
    tests = []
    for criterion in body.get("and") or []:
        condition = criterion.get("conversation_created_at") if isinstance(criterion, dict) else None
        if not isinstance(condition, dict) or len(criterion) != 1:
            return _bad_request(f"unsupported search criterion {criterion!r}")
        for operator, value in condition.items():
            if operator not in SEARCH_OPERATORS:
                return _bad_request(f"unsupported operator {operator!r}")
            try:
                tests.append((SEARCH_OPERATORS[operator], _parse_time(str(value))))
            except ValueError:
                return _bad_request(f"{value!r} is not a date")
    descending = any(
        isinstance(item, dict) and item.get("conversation_created_at") == "desc"
        for item in body.get("sort") or []
    )
    try:
        page = max(1, int(request.args.get("page", 1)))
        size = min(SEARCH_PAGE_SIZE_MAX, max(1, int(request.args.get("pageSize", 100))))
    except ValueError:
        return _bad_request("page and pageSize must be positive integers")
    data = section(PLATFORM)
    with sandbox_state().lock:
        found = [
            c
            for c in data["conversations"].values()
            if all(test(_parse_time(c["createdAt"]), bound) for test, bound in tests)
        ]
        found.sort(key=lambda c: c["createdAt"], reverse=descending)
        rows = [_conversation_json(data, c) for c in found[(page - 1) * size : page * size]]
    more = page * size < len(found)
    links = {"self": f"/v1/customers/search?page={page}&pageSize={size}", "next": None}
    if more:
        links["next"] = f"/v1/customers/search?page={page + 1}&pageSize={size}"
    return _doc(rows, links=links, meta={"page": page, "pageSize": size, "total": len(found)})


@blueprint.get("/conversations/<conv_id>")
def get_conversation(conv_id: str):
    data = section(PLATFORM)
    with sandbox_state().lock:
        return _doc(_conversation_json(data, _get(data, "conversations", conv_id)))


@blueprint.get("/conversations/<conv_id>/messages")
def list_messages(conv_id: str):
    data = section(PLATFORM)
    with sandbox_state().lock:
        _get(data, "conversations", conv_id)
        rows = [_message_json(m) for m in _conversation_messages(data, conv_id)]
        return _paged(rows, f"conversations/{conv_id}/messages")


@blueprint.get("/messages/<message_id>")
def get_message(message_id: str):
    data = section(PLATFORM)
    with sandbox_state().lock:
        return _doc(_message_json(_get(data, "messages", message_id)))


@blueprint.get("/customers/email=<path:email>")
def customer_by_email(email: str):
    data = section(PLATFORM)
    with sandbox_state().lock:
        customer = _customer_by_email(data, email)
        if customer is None:
            return _not_found("customer")
        return _doc(_customer_json(customer))


@blueprint.get("/customers/<customer_id>")
def get_customer(customer_id: str):
    data = section(PLATFORM)
    with sandbox_state().lock:
        return _doc(_customer_json(_get(data, "customers", customer_id)))


def _check_patch(data: dict[str, Any], body: dict[str, Any]) -> str | None:
    unknown = sorted(set(body) - CONVERSATION_FIELDS)
    if unknown:
        return f"unknown attribute {unknown[0]!r}"
    if "status" in body and body["status"] not in STATUSES:
        return "status must be one of open, snoozed, done"
    if "snooze" in body:
        snooze = body["snooze"]
        if not isinstance(snooze, dict) or snooze.get("status") not in SNOOZE_STATUSES:
            return "snooze must be {time, status: scheduled|canceled|elapsed}"
        if snooze.get("time") is not None and not _is_time(snooze["time"]):
            return "snooze.time must be an ISO 8601 timestamp"
    if "priority" in body and body["priority"] not in (1, 2, 3, 4, 5):
        return "priority must be an integer from 1 to 5"
    for field, kind in (("tags", "tags"), ("assignedTeams", "teams"), ("assignedUsers", "users")):
        if field not in body:
            continue
        value = body[field]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"{field} must be an array of ids"
        if field != "tags" and len(value) > ASSIGNEES_MAX:
            return f"{field} accepts at most {ASSIGNEES_MAX} ids"
        missing = [v for v in value if v not in data[kind]]
        if missing:
            return f"{field}: unknown id {missing[0]}"
    return None


@blueprint.patch("/conversations/<conv_id>")
def update_conversation(conv_id: str):
    data = section(PLATFORM)
    body = _body_json()
    if body is None:
        return _write_result(_bad_request("body must be a JSON object"), None)
    with sandbox_state().lock:
        conv = _get(data, "conversations", conv_id)
        problem = _check_patch(data, body)
        if problem:
            return _write_result(_bad_request(problem), body)
        for field, value in body.items():
            conv[field] = list(dict.fromkeys(value)) if isinstance(value, list) else value
        conv["updatedAt"] = _now()
        if body.get("status") == "done":
            conv["endedAt"] = conv["updatedAt"]
        return _write_result(_doc(_conversation_json(data, conv)), body)


def _is_time(value: Any) -> bool:
    try:
        _parse_time(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def _create_note(
    data: dict[str, Any], conv: dict[str, Any] | None, body: str, mentions: list[Any]
) -> dict[str, Any]:
    """A note on `conv`, or (conv None) on no conversation at all."""
    note = {
        "id": _new_id("note"),
        "body": body,
        "conversation": conv["id"] if conv else None,
        "customer": conv["customer"] if conv else None,
        "userMentions": mentions,
        "createdAt": _now(),
    }
    data["notes"][note["id"]] = note
    if conv:
        conv["noteIds"].append(note["id"])
    return note


def _note_write(conv_id: str | None) -> Response:
    data = section(PLATFORM)
    body = _body_json()
    if body is None:
        return _write_result(_bad_request("body must be a JSON object"), None)
    text, mentions = body.get("body"), body.get("userMentions") or []
    if not isinstance(text, str) or not 1 <= len(text) <= NOTE_BODY_MAX:
        return _write_result(_bad_request(f"body must be 1 to {NOTE_BODY_MAX} characters"), body)
    if not isinstance(mentions, list) or len(mentions) > 20:
        return _write_result(_bad_request("userMentions must be an array of at most 20 users"), body)
    with sandbox_state().lock:
        conv = _get(data, "conversations", conv_id) if conv_id else None
        return _write_result(_doc(_note_json(_create_note(data, conv, text, mentions)), 201), body)


@blueprint.post("/conversations/<conv_id>/notes")
def create_conversation_note(conv_id: str):
    return _note_write(conv_id)


@blueprint.post("/notes")
def create_note():
    """The org-level create: its schema has no `conversation`, so such a note is on no conversation."""
    return _note_write(None)


@blueprint.get("/conversations/<conv_id>/notes")
def list_notes(conv_id: str):
    data = section(PLATFORM)
    with sandbox_state().lock:
        conv = _get(data, "conversations", conv_id)
        return _paged(
            [_note_json(data["notes"][n]) for n in conv["noteIds"]], f"conversations/{conv_id}/notes"
        )


def _address_problem(channel: str, body: dict[str, Any]) -> str | None:
    """Email addresses are {email, name} objects (`to` also a list of them); other channels strings."""
    to, sender = body.get("to"), body.get("from")
    if channel == "email":
        recipients = to if isinstance(to, list) else [to]
        if not to or not all(isinstance(r, dict) and isinstance(r.get("email"), str) for r in recipients):
            return "to must be {email, name} or an array of them for email drafts"
        if sender is not None and not (isinstance(sender, dict) and isinstance(sender.get("email"), str)):
            return "from must be {email, name} for email drafts"
    elif channel in ("sms", "whatsapp") and not isinstance(to, str):
        return f"to is required for {channel} drafts and must be a string"
    return None


def _recipients(to: Any) -> list[str]:
    rows = to if isinstance(to, list) else [to]
    return [r["email"] if isinstance(r, dict) else r for r in rows if isinstance(r, dict | str)]


@blueprint.post("/customers/<customer_id>/drafts")
def create_draft(customer_id: str):
    """A draft goes out when its schedule comes; unscheduled, what happens is a READINGS choice."""
    data = section(PLATFORM)
    body = _body_json()
    if body is None:
        return _write_result(_bad_request("body must be a JSON object"), None)
    with sandbox_state().lock:
        customer = data["customers"].get(customer_id)
        if customer is None:
            return _write_result(_not_found("customer"), body)
        text, channel, conv_id = body.get("body"), body.get("channel"), body.get("conversation")
        if not isinstance(text, str) or not text.strip():
            return _write_result(_bad_request("body is required"), body)
        if channel not in DRAFT_CHANNELS:
            return _write_result(_bad_request("channel must be one of " + ", ".join(DRAFT_CHANNELS)), body)
        conv = data["conversations"].get(conv_id) if isinstance(conv_id, str) else None
        if conv is None or conv["customer"] != customer_id:
            return _write_result(_bad_request("conversation must belong to this customer"), body)
        problem = _address_problem(channel, body)
        if problem:
            return _write_result(_bad_request(problem), body)
        scheduled = body.get("scheduled") is True
        if scheduled and not (
            _is_time(body.get("sendAt")) and _parse_time(body["sendAt"]) > datetime.now(UTC)
        ):
            return _write_result(_bad_request("a scheduled draft needs a sendAt in the future"), body)
        draft = {
            "id": _new_id("draft"),
            "customer": customer_id,
            "body": text,
            "channel": channel,
            "conversation": conv["id"],
            "to": body.get("to"),
            "from": body.get("from"),
            "subject": body.get("subject"),
            "sendAt": body["sendAt"] if scheduled else None,
            "status": "scheduled" if scheduled else "draft",
            "createdAt": _now(),
        }
        data["drafts"][draft["id"]] = draft
        answer = _draft_json(draft, customer_id)
        if not scheduled and reading(PLATFORM, "unscheduled_drafts") == "sent":
            _send_draft(data, draft)
        return _write_result(_doc(answer, 201), body)


def _send_draft(data: dict[str, Any], draft: dict[str, Any]) -> None:
    """Deliver it: the draft is removed and an `out` message (or a note) is on the conversation."""
    data["drafts"].pop(draft["id"], None)
    conv = data["conversations"][draft["conversation"]]
    if draft["channel"] == "note":
        _create_note(data, conv, draft["body"], [])
        return
    sender = draft.get("from")
    _message(
        data,
        conv,
        direction="out",
        body=draft["body"],
        channel=draft["channel"],
        sender=(sender.get("email") if isinstance(sender, dict) else sender) or SUPPORT_EMAIL,
        to=_recipients(draft.get("to")),
        subject=draft.get("subject"),
        created_by=BOT_USER_ID,
    )


@blueprint.get("/customers/<customer_id>/drafts")
def list_drafts(customer_id: str):
    data = section(PLATFORM)
    with sandbox_state().lock:
        _get(data, "customers", customer_id)
        rows = [_draft_json(d, customer_id) for d in data["drafts"].values() if d["customer"] == customer_id]
        return _paged(rows, f"customers/{customer_id}/drafts")


def _draft_json(d: dict[str, Any], customer_id: str) -> dict[str, Any]:
    return {
        "type": "draft",
        "id": d["id"],
        "attributes": {
            k: d[k] for k in ("body", "channel", "to", "from", "subject", "sendAt", "status", "createdAt")
        },
        "relationships": {
            "conversation": _ref("conversation", d["conversation"]),
            "customer": _ref("customer", customer_id),
        },
        "links": {"self": f"/v1/drafts/{d['id']}"},
    }


@blueprint.get("/tags")
def list_tags():
    with sandbox_state().lock:
        return _paged([_tag_json(t) for t in section(PLATFORM)["tags"].values()], "tags")


@blueprint.post("/tags")
def create_tag():
    data = section(PLATFORM)
    body = _body_json()
    if body is None:
        return _write_result(_bad_request("body must be a JSON object"), None)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        return _write_result(_bad_request("name is required"), body)
    with sandbox_state().lock:
        if any(t["name"].casefold() == name.strip().casefold() for t in data["tags"].values()):
            return _write_result(_error(409, "conflict", "Conflict", "a tag with this name exists"), body)
        tag = _tag(data, _new_id("tag"), name.strip(), body.get("color") or "gray")
        return _write_result(_doc(_tag_json(tag), 201), body)


def _tag(data: dict[str, Any], ident: str, name: str, color: str = "gray") -> dict[str, Any]:
    tag = {"id": ident, "name": name, "color": color, "createdAt": _now()}
    data["tags"][ident] = tag
    return tag


@blueprint.get("/teams")
def list_teams():
    with sandbox_state().lock:
        return _paged([_team_json(t) for t in section(PLATFORM)["teams"].values()], "teams")


# ---- sandbox contract ---------------------------------------------------------------------------


def client_env(base_url: str) -> dict[str, str]:
    return {
        "KUSTOMER_BASE_URL": f"{base_url}{PREFIX}",
        "KUSTOMER_API_KEY": API_KEY,
        "KUSTOMER_HANDOFF_TEAM_ID": HANDOFF_TEAM_ID,
        "KUSTOMER_SEND_DELAY_SECONDS": "1",
    }


KUSTOMER_STATUS = {"open": "open", "waiting": "snoozed", "resolved": "done", "closed": "done"}
LOCALES = {"en": "en_US", "es": "es_US", "fr": "fr_FR", "de": "de_DE"}


def _stamp(moment: world.Moment) -> str:
    return moment.on(world.today()).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def seed(data: dict[str, Any]) -> None:
    """Users, teams and tags of this org; the world's customers (ids oid(0x1000 + the customer's
    number)) and its Kustomer tickets as conversations (oid(0x2001)... in file order, their messages
    oid(0x3001)... in order)."""
    data.clear()
    for kind in ("customers", "conversations", "messages", "notes", "drafts", "tags", "teams", "users"):
        data[kind] = {}
    data["users"] = {
        BOT_USER_ID: {"id": BOT_USER_ID, "name": "Acme Support Bot"},
        oid(0x9002): {"id": oid(0x9002), "name": "Sam Rivera"},
    }
    data["teams"] = {
        HANDOFF_TEAM_ID: {"id": HANDOFF_TEAM_ID, "name": "Tier 1 Support", "members": [oid(0x9002)]},
        oid(0x7002): {"id": oid(0x7002), "name": "Returns", "members": []},
    }
    tag_ids = {"vip": _tag(data, oid(0x5001), "vip", "gold")["id"]}
    tag_ids["damaged"] = _tag(data, oid(0x5002), "damaged", "red")["id"]
    the_world = world.load()
    for person in the_world.customers:
        customer = _customer(data, oid(0x1000 + person.id), person.name, person.email)
        customer["locale"] = LOCALES.get(person.language, "en_US")
    message_ids = (oid(0x3000 + n) for n in range(1, 0x1000))
    for number, seeded in enumerate(the_world.tickets_on(PLATFORM), start=0x2001):
        email = seeded.customer.email
        for name in seeded.tags:
            if name not in tag_ids:
                tag_ids[name] = _tag(data, oid(0x5000 + len(tag_ids) + 1), name)["id"]
        conv = _new_conversation(
            data,
            customer_id=oid(0x1000 + seeded.customer.id),
            name=seeded.subject,
            conv_id=oid(number),
            status=KUSTOMER_STATUS[seeded.status],
            tags=[tag_ids[name] for name in seeded.tags],
            at=_stamp(seeded.messages[0].at),
        )
        for n, message in enumerate(seeded.messages):
            incoming = message.sender == "customer"
            _message(
                data,
                conv,
                direction="in" if incoming else "out",
                message_id=next(message_ids),
                at=_stamp(message.at),
                body=message.body,
                sender=email if incoming else SUPPORT_EMAIL,
                to=[SUPPORT_EMAIL] if incoming else [email],
                subject=conv["name"] if n == 0 else "Re: " + conv["name"],
                created_by=None if incoming else BOT_USER_ID if message.sender == "bot" else oid(0x9002),
            )


def _quoted_history(data: dict[str, Any], conv: dict[str, Any]) -> str:
    """What the customer's mail client appends under the reply: our last outbound message, quoted."""
    ours = [m for m in _conversation_messages(data, conv["id"]) if m["direction"] == "out"]
    if not ours:
        return ""
    last = ours[-1]
    return (
        f'<br><div class="gmail_quote"><div class="gmail_attr">On {last["sentAt"]} Acme Support '
        f'&lt;{SUPPORT_EMAIL}&gt; wrote:</div><blockquote class="gmail_quote">{_as_html(last["body"])}'
        "</blockquote></div>"
    )


def create_ticket(
    data: dict[str, Any],
    *,
    subject: str,
    text: str,
    email: str | None,
    name: str | None,
    hold_message: bool = False,
    direction: str = "in",
) -> dict[str, Any]:
    """An emailed conversation, or a chat from an anonymous visitor when no email is given.

    Kustomer creates the conversation and its first message as two records with two webhooks, in
    either order; `hold_message` keeps the message out of the API until release_message, so a caller
    can deliver `conversation.create` while the conversation has no message yet. `direction` "out"
    is a conversation our team started (an agent, an outbound campaign).
    """
    if email:
        email = email.strip()
        customer = _customer_by_email(data, email) or _customer(
            data, _new_id("customer"), name or email.split("@")[0], email
        )
    else:
        customer = _customer(data, _new_id("customer"), name or "Chat visitor", None)
    conv = _new_conversation(data, customer_id=customer["id"], name=subject)
    conv["direction"] = direction
    outbound = direction == "out"
    message = _message(
        data,
        conv,
        direction=direction,
        body=_as_html(text),
        channel="email" if email else "chat",
        sender=SUPPORT_EMAIL if outbound else email,
        to=([email] if outbound else [SUPPORT_EMAIL]) if email else None,
        subject=subject if email else None,
        created_by=oid(0x9002) if outbound else None,
    )
    message["held"] = hold_message
    return {"ticket_id": conv["id"], "message_id": message["id"], "customer_id": customer["id"]}


def release_message(data: dict[str, Any], ticket_id: str, message_id: str) -> dict[str, Any]:
    """The held first message now exists in the API (releasing it twice changes nothing)."""
    message = data["messages"].get(message_id)
    if message is None or message["conversation"] != ticket_id:
        abort(404)
    message["held"] = False
    return {"message_id": message_id}


def add_customer_message(data: dict[str, Any], ticket_id: str, text: str) -> dict[str, Any]:
    """An emailed customer reply with the thread quoted below; it reopens a snoozed or done conversation."""
    conv = data["conversations"].get(ticket_id)
    if conv is None:
        abort(404)
    customer = data["customers"][conv["customer"]]
    message = _message(
        data,
        conv,
        direction="in",
        body=_as_html(text) + (_quoted_history(data, conv) if customer["emails"] else ""),
        channel="email" if customer["emails"] else "chat",
        sender=customer["emails"][0] if customer["emails"] else None,
        to=[SUPPORT_EMAIL] if customer["emails"] else None,
        subject="Re: " + conv["name"] if customer["emails"] else None,
    )
    if conv["status"] != "open":
        conv["status"] = "open"
    return {"message_id": message["id"]}


def ticket_view(data: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    catch_up(data)
    conv = data["conversations"].get(ticket_id)
    if conv is None:
        abort(404)
    messages = _conversation_messages(data, conv["id"])
    customer = data["customers"].get(conv["customer"]) or {"emails": [None]}
    return {
        "ticket_id": conv["id"],
        "subject": conv["name"],
        "status": conv["status"],
        "priority": conv["priority"],
        "tags": [data["tags"][t]["name"] if t in data["tags"] else t for t in conv["tags"]],
        "tag_ids": list(conv["tags"]),
        "group": conv["assignedTeams"][0] if conv["assignedTeams"] else None,
        "assigned_teams": list(conv["assignedTeams"]),
        "assigned_users": list(conv["assignedUsers"]),
        "replies": [html_to_text(m["body"]) for m in messages if m["direction"] == "out"],
        "notes": [data["notes"][n]["body"] for n in conv["noteIds"]],
        "customer_messages": [html_to_text(m["body"]) for m in messages if m["direction"] == "in"],
        "requester_email": (customer["emails"] or [None])[0],
        "drafts": [d["body"] for d in data["drafts"].values() if d["conversation"] == conv["id"]],
        "snooze": dict(conv.get("snooze") or {}),
    }
