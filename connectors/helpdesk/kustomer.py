"""Kustomer (API v1) behind the Helpdesk interface (docs/platforms/kustomer.md).

Kustomer specifics this hides:
- a "ticket" is a conversation, and a message's words are its `preview` (the vendor schema has no
  body attribute and documents no call for the full text);
- replies are drafts created on the customer, on the channel the customer last wrote from (email
  addresses as {email, name} objects). Whether a draft created without a schedule is sent or waits
  in the agent's reply box is not established, so every reply is scheduled (`scheduled: true`,
  `sendAt` a few seconds ahead): the documented way to have a draft sent, true under either reading;
- notes are created on the conversation (`POST /conversations/{id}/notes`); "pending" is a snooze
  with a time, after which Kustomer reopens the conversation;
- conversation tags are tag *ids* that PATCH replaces, so names are mapped through GET/POST /tags and
  merged with what is already there; list endpoints page with JSON:API `links.next` given as /v1/ paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.config import PlatformConfig
from connectors.errors import NotFound, OutcomeUnknown, Rejected
from connectors.helpdesk.base import TicketStatus, UpdatesInOneWrite, messages_after, utc_instant
from connectors.helpdesk.turn_reads import in_turn, remember, remembered, revise, together
from connectors.http import HttpClient
from connectors.models import Customer, Message, Ticket
from connectors.text import clean_preview, merge_tags, same_text

STATUS_VALUES: dict[str, str] = {"open": "open", "pending": "snoozed", "resolved": "done"}
STATUS_NAMES: dict[str, str] = {"open": "open", "snoozed": "pending", "done": "resolved"}
NOTE_BODY_MAX = 10_240
DEFAULT_SEND_DELAY = 5.0  # seconds ahead a reply is scheduled: "sendAt" must be in the future
DEFAULT_SNOOZE_HOURS = 72.0
PAGE_SIZE = 100
MAX_PAGES = 50
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class KustomerClient(UpdatesInOneWrite):
    """One Kustomer org, reached with an API key (Bearer)."""

    name = "kustomer"

    def __init__(self, config: PlatformConfig, env: Mapping[str, str]):
        self.http = HttpClient(
            "kustomer",
            config.base_url,
            headers={"Authorization": f"Bearer {config.secret('api_key')}"},
            verify=config.verify,
        )
        self.handoff_group: str | None = env.get("KUSTOMER_HANDOFF_TEAM_ID") or None
        self.send_delay = _positive(env.get("KUSTOMER_SEND_DELAY_SECONDS"), DEFAULT_SEND_DELAY)
        self.snooze_hours = _positive(env.get("KUSTOMER_SNOOZE_HOURS"), DEFAULT_SNOOZE_HOURS)
        self._tags_by_id: dict[str, str] | None = None
        self._own_user: str | None = None

    # ---- writes ---------------------------------------------------------------------------------

    def reply(self, ticket_id: str, body: str) -> str:
        """A draft scheduled a few seconds ahead, on the customer's own channel: Kustomer sends it then."""
        conversation = self._conversation(ticket_id)
        customer_id = _related_id(conversation, "customer")
        if not customer_id:
            raise Rejected("kustomer", "conversation has no customer to reply to")
        inbound = [m for m in self._messages(ticket_id) if _attrs(m).get("direction") == "in"]
        last_in = _attrs(inbound[-1]) if inbound else {}
        channels = _attrs(conversation).get("channels") or []
        channel = last_in.get("channel") or (channels[0] if channels else "email")
        send_at = datetime.now(UTC) + timedelta(seconds=self.send_delay)
        draft: dict[str, Any] = {
            "body": body,
            "channel": channel,
            "conversation": conversation["id"],
            "scheduled": True,
            "sendAt": send_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        meta = last_in.get("meta") or {}
        if channel == "email":
            customer = self._customer(customer_id)
            to = _address(meta.get("from")) or (_customer_email(customer) if customer else None)
            if not to:
                raise Rejected("kustomer", "no email address to reply to")
            name = _attrs(customer).get("name") if customer else None
            draft["to"] = {"email": to, **({"name": name} if name else {})}
            inbox = _address(meta.get("to"))
            if inbox:
                draft["from"] = {"email": inbox}
            subject = _attrs(conversation).get("name") or last_in.get("subject") or ""
            if subject:
                draft["subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        elif _address(meta.get("from")):
            draft["to"] = _address(meta.get("from"))
        created = self.http.send_json(
            "POST", f"customers/{_safe(customer_id)}/drafts", draft, idempotent=False
        )
        return str(created["data"]["id"])

    def add_note(self, ticket_id: str, body: str, *, and_update: Mapping[str, Any] | None = None) -> str:
        """An internal note. `and_update` is for helpdesks that can write the ticket in the same call
        (Salesforce); here the caller's `update` that follows makes that change."""
        created = self.http.send_json(
            "POST", f"conversations/{_safe(ticket_id)}/notes", {"body": _fit_note(body)}, idempotent=False
        )
        return str(created["data"]["id"])

    def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        group: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> list[str]:
        """One `PATCH /conversations/{id}` for tags, team and status together; only what differs is
        sent. Tags are read, merged by name and written as ids (PATCH replaces the list, so a blind
        write would drop a human's tags); a team assignment names no user, so the team's routing
        offers it to whoever is free; "pending" snoozes with a time, as the vendor schema pairs them."""
        if status is not None and status not in STATUS_VALUES:
            raise ValueError(f"unknown ticket status {status!r}")
        attributes = _attrs(self._conversation(ticket_id))
        current_ids = list(attributes.get("tags") or [])
        names = self._tag_names() if current_ids or add_tags else {}
        current = [names.get(tag_id, tag_id) for tag_id in current_ids]
        merged = merge_tags(current, list(add_tags), list(remove_tags))
        change: dict[str, Any] = {}
        if group is not None and (
            attributes.get("assignedTeams") != [_safe(group)] or attributes.get("assignedUsers")
        ):
            change.update(assignedTeams=[_safe(group)], assignedUsers=[])
        if status is not None and (status == "pending" or attributes.get("status") != STATUS_VALUES[status]):
            change["status"] = STATUS_VALUES[status]
            if status == "pending":
                wake = datetime.now(UTC) + timedelta(hours=self.snooze_hours)
                change["snooze"] = {"time": wake.isoformat(timespec="seconds"), "status": "scheduled"}
        if merged != current:
            by_name = {name.casefold(): tag_id for name, tag_id in zip(current, current_ids, strict=True)}
            change["tags"] = [by_name.get(name.casefold()) or self._tag_id(name) for name in merged]
        if not change:
            return merged
        try:
            self._patch(ticket_id, change)
        except Rejected:
            if "tags" not in change:
                raise
            # a cached tag id may be gone (an admin deleted the tag): read the org's tags again, once
            self._tag_names(refresh=True)
            change["tags"] = [self._tag_id(name) for name in merged]
            self._patch(ticket_id, change)
        return merged

    def _patch(self, ticket_id: str, change: dict[str, Any]) -> None:
        self.http.send_json("PATCH", f"conversations/{_safe(ticket_id)}", change, idempotent=True)
        revise(_conversation_key(ticket_id), lambda held: held.setdefault("attributes", {}).update(change))

    # ---- reads ----------------------------------------------------------------------------------

    def tickets_created(self, since: datetime, until: datetime, limit: int) -> list[str]:
        """The search API (`POST /v1/customers/search` with `queryContext: conversation`,
        docs/platforms/kustomer.md) on `conversation_created_at`, oldest first. It changes nothing,
        though it is a POST. Outbound conversations (ones we or an agent started) are not tickets."""
        body = {
            "queryContext": "conversation",
            "and": [
                {"conversation_created_at": {"gte": utc_instant(since)}},
                {"conversation_created_at": {"lt": utc_instant(until)}},
            ],
            "sort": [{"conversation_created_at": "asc"}],
        }
        ids: list[str] = []
        for page in range(1, MAX_PAGES + 1):
            document = self.http.send_json(
                "POST",
                "customers/search",
                body,
                params={"page": page, "pageSize": PAGE_SIZE},
                idempotent=True,
            )
            rows = (document or {}).get("data") or []
            ids += [str(row["id"]) for row in rows if _attrs(row).get("direction") != "out"]
            if len(ids) >= limit or not ((document or {}).get("links") or {}).get("next"):
                break
        return ids[:limit]

    def get_ticket(self, ticket_id: str) -> Ticket:
        conversation = self._conversation(ticket_id)
        attributes = _attrs(conversation)
        customer_id = _related_id(conversation, "customer")
        customer, messages = together(
            lambda: self._customer(customer_id) if customer_id else None, lambda: self._messages(ticket_id)
        )
        first_in = next((m for m in messages if _attrs(m).get("direction") == "in"), None)
        names = self._tag_names() if attributes.get("tags") else {}
        teams = attributes.get("assignedTeams") or []
        users = attributes.get("assignedUsers") or []
        return Ticket(
            helpdesk=self.name,
            id=str(conversation["id"]),
            subject=attributes.get("name") or "",
            description=_message_text(first_in) if first_in else "",
            requester_email=_customer_email(customer) if customer else None,
            requester_name=_attrs(customer).get("name") if customer else None,
            customer_id=customer_id,
            status=_status_name(attributes.get("status")),
            tags=tuple(names.get(t, t) for t in attributes.get("tags") or ()),
            group_id=teams[0] if teams else None,
            assignee_id=users[0] if users else None,
        )

    def assignee_id(self, ticket_id: str) -> str | None:
        users = _attrs(self._conversation(ticket_id)).get("assignedUsers") or []
        return users[0] if users else None

    def latest_customer_message(self, ticket_id: str) -> Message | None:
        messages = self.customer_messages(ticket_id)
        return messages[-1] if messages else None

    def customer_messages(self, ticket_id: str, after: str | None = None) -> list[Message]:
        """In a turn, the conversation is read beside its messages: the turn needs it next (who owns
        the ticket, its tags), and the two reads do not depend on each other."""
        if in_turn():
            messages = together(lambda: self._messages(ticket_id), lambda: self._conversation(ticket_id))[0]
        else:
            messages = self._messages(ticket_id)
        inbound = [m for m in messages if _attrs(m).get("direction") == "in"]
        return messages_after([_as_message(m) for m in inbound], after)

    def paused_for_budget(self) -> str | None:
        """A per-minute limit recovers within the minute; there is no daily allocation to protect."""
        return None

    def own_user_id(self) -> str | None:
        """The API key's own user: `GET /v1/users/current` (the user a key acts as; shown in Kustomer's
        own developers' notes, not in the public reference, so a failure reads as "unknown")."""
        if self._own_user is None:
            try:
                found = self.http.get_json("users/current") or {}
            except (NotFound, Rejected):
                found = {}
            self._own_user = str((found.get("data") or {}).get("id") or "")
        return self._own_user or None

    def send_email(self, ticket_id: str, to: str, subject: str, body: str) -> str:
        """No documented call emails an address outside the ticket's conversation."""
        raise Rejected("kustomer", "emailing an address outside the conversation is not supported")

    def find_customer(self, email: str) -> Customer | None:
        email = (email or "").strip()
        if not email:
            return None

        def read() -> dict[str, Any] | None:
            try:
                found = self.http.get_json(f"customers/email={quote(email, safe='')}")
            except NotFound:
                return None
            return (found or {}).get("data") or None

        data = remembered(("kustomer", "customer-by-email", email.casefold()), read)
        if not data:
            return None
        emails = [e.get("email") for e in _attrs(data).get("emails") or [] if isinstance(e, dict)]
        match = next((e for e in emails if e and e.casefold() == email.casefold()), None)
        return Customer(
            platform=self.name,
            id=str(data["id"]),
            email=match or (emails[0] if emails else email),
            name=_attrs(data).get("name") or _attrs(data).get("displayName"),
        )

    def find_reply(self, ticket_id: str, body: str) -> str | None:
        """Our reply, sent (an `out` message) or still waiting for its time (a draft of the customer's)."""
        for message in self._messages(ticket_id, fresh=True):
            if _attrs(message).get("direction") == "out" and same_text(body, _message_text(message)):
                return str(message["id"])
        customer_id = _related_id(self._conversation(ticket_id), "customer")
        for draft in self._pages(f"customers/{_safe(customer_id)}/drafts") if customer_id else ():
            attributes = _attrs(draft)
            mine = _related_id(draft, "conversation") in (None, ticket_id)
            if mine and same_text(body, str(attributes.get("body") or "")):
                return str(draft["id"])
        return None

    def find_note(self, ticket_id: str, marker: str) -> bool:
        return any(
            marker in (_attrs(note).get("body") or "")
            for note in self._pages(f"conversations/{_safe(ticket_id)}/notes")
        )

    # ---- helpers --------------------------------------------------------------------------------

    def _conversation(self, ticket_id: str) -> dict[str, Any]:
        """Read once per turn (turn_reads), like the messages and the customer below."""
        return remembered(
            _conversation_key(ticket_id),
            lambda: self.http.get_json(f"conversations/{_safe(ticket_id)}")["data"],
        )

    def _customer(self, customer_id: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            try:
                customer = self.http.get_json(f"customers/{_safe(customer_id)}")["data"]
            except NotFound:
                return None
            for entry in _attrs(customer).get("emails") or []:  # find_customer need not ask again
                if isinstance(entry, dict) and entry.get("email"):
                    remember(("kustomer", "customer-by-email", entry["email"].casefold()), customer)
            return customer

        return remembered(("kustomer", "customer", _safe(customer_id)), read)

    def _customer_email(self, customer_id: str) -> str | None:
        customer = self._customer(customer_id)
        return _customer_email(customer) if customer else None

    def _messages(self, ticket_id: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        """All messages, oldest first (sorted here: the API's order is not something to rely on).
        Once per turn, unless `fresh`: a reconciliation must see what is on the platform now."""

        def read() -> list[dict[str, Any]]:
            rows = list(self._pages(f"conversations/{_safe(ticket_id)}/messages"))
            order = {id(m): i for i, m in enumerate(rows)}
            return sorted(rows, key=lambda m: (_attrs(m).get("createdAt") or "", order[id(m)]))

        return read() if fresh else remembered(("kustomer", "messages", _safe(ticket_id)), read)

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Follow links.next; Kustomer gives it as a /v1/... path relative to the API host."""
        next_path: str | None = path
        params: dict[str, Any] | None = {"page": 1, "pageSize": PAGE_SIZE}
        for _ in range(MAX_PAGES):
            if not next_path:
                return
            document = self.http.get_json(next_path, params=params) or {}
            yield from document.get("data") or []
            next_path = _relative((document.get("links") or {}).get("next"))
            params = None

    def _tag_names(self, refresh: bool = False) -> dict[str, str]:
        if self._tags_by_id is None or refresh:
            self._tags_by_id = {
                str(tag["id"]): _attrs(tag).get("name") or str(tag["id"]) for tag in self._pages("tags")
            }
        return self._tags_by_id

    def _lookup_tag(self, name: str, refresh: bool = False) -> str | None:
        wanted = name.casefold()
        return next((i for i, n in self._tag_names(refresh).items() if n.casefold() == wanted), None)

    def _tag_id(self, name: str) -> str:
        """The id of the tag called `name`, creating it if the org has none; a lost create is looked up."""
        existing = self._lookup_tag(name)
        if existing:
            return existing
        try:
            created = self.http.send_json("POST", "tags", {"name": name}, idempotent=False)
        except (Rejected, OutcomeUnknown):
            # 409 (someone created it meanwhile) or an unknown outcome: a tag name is unique, so look.
            found = self._lookup_tag(name, refresh=True)
            if found:
                return found
            raise
        tag_id = str(created["data"]["id"])
        self._tag_names()[tag_id] = name
        return tag_id


def _conversation_key(ticket_id: str) -> tuple[str, str, str]:
    return ("kustomer", "conversation", _safe(ticket_id))


def _attrs(resource: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict((resource or {}).get("attributes") or {})


def _related_id(resource: Mapping[str, Any], name: str) -> str | None:
    data = ((resource.get("relationships") or {}).get(name) or {}).get("data") or {}
    return str(data["id"]) if isinstance(data, dict) and data.get("id") else None


def _customer_email(customer: Mapping[str, Any]) -> str | None:
    attributes = _attrs(customer)
    emails = attributes.get("emails") or []
    for entry in emails:
        if isinstance(entry, dict) and entry.get("email"):
            return entry["email"]
    return attributes.get("email")


def _address(value: Any) -> str | None:
    """Email metadata comes as a string, an {"email": ...} object or a list of either."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        return value.get("email") or value.get("address")
    if isinstance(value, list) and value:
        return _address(value[0])
    return None


def _as_message(message: Mapping[str, Any]) -> Message:
    attributes = _attrs(message)
    return Message(
        id=str(message["id"]),
        text=_message_text(message),
        incoming=attributes.get("direction") == "in",
        created_at=attributes.get("createdAt") or attributes.get("sentAt"),
        author_email=_address((attributes.get("meta") or {}).get("from")),
    )


def _message_text(message: Mapping[str, Any]) -> str:
    """The words of a message: its `preview`, the only text the vendor schema gives a message."""
    preview = _attrs(message).get("preview")
    return clean_preview(preview) if isinstance(preview, str) else ""


def _positive(value: str | None, default: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if number > 0 else default


def _fit_note(body: str) -> str:
    """Kustomer caps notes at 10,240 characters; keep the head and the tail, where markers live."""
    if len(body) <= NOTE_BODY_MAX:
        return body
    keep = (NOTE_BODY_MAX - 5) // 2
    return f"{body[:keep]}\n...\n{body[-keep:]}"


def _relative(link: str | None) -> str | None:
    """'/v1/tags?page=2' -> 'tags?page=2', so it joins onto the configured base URL."""
    if not link:
        return None
    if link.startswith("http"):
        return link
    link = link.lstrip("/")
    return link[3:] if link.startswith("v1/") else link


def _safe(ident: str) -> str:
    """Ids go into URL paths; anything but an id-shaped string is refused before it is sent."""
    text = str(ident).strip()
    if not _SAFE_ID.match(text):
        raise Rejected("kustomer", "malformed id")
    return text


def _status_name(status: Any) -> Any:
    return STATUS_NAMES.get(status, status) if isinstance(status, str) else status
