"""Freshdesk (API v2) behind the Helpdesk interface (docs/platforms/freshdesk.md).

Freshdesk specifics this hides: integer status codes, a tag list that PUT replaces (so tags are merged
here, never overwritten), the ticket description being the customer's first message (conversations
only hold what came after it), and customer replies being conversations with incoming=true and
private=false whose HTML still carries the quoted thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.config import PlatformConfig
from connectors.errors import Rejected
from connectors.helpdesk.base import TicketStatus, UpdatesInOneWrite, messages_after, utc_instant
from connectors.helpdesk.turn_reads import remember, remembered, revise
from connectors.http import HttpClient
from connectors.models import Customer, Message, Ticket
from connectors.parcels import parse_instant
from connectors.text import clean_message, html_to_text, merge_tags, same_text, text_to_html

STATUS_CODES: dict[str, int] = {"open": 2, "pending": 3, "resolved": 4}
STATUS_NAMES: dict[int, str] = {2: "open", 3: "pending", 4: "resolved", 5: "resolved"}
SOURCE_OUTBOUND_EMAIL = 10  # a ticket an agent started: its description is not the customer's words
PER_PAGE = 100
LIST_PAGES = 300  # Freshdesk lists no deeper than page 300
EMBEDDED_CONVERSATIONS = 10  # View a Ticket embeds up to ten; a ticket with that many may have more
TICKET_INCLUDES = "requester,conversations"
MAX_PAGES = 50  # 5,000 conversations: far beyond any real ticket, a stop against a looping server


class FreshdeskClient(UpdatesInOneWrite):
    """One Freshdesk account, reached with an agent's API key (Basic auth, key as user name)."""

    name = "freshdesk"

    def __init__(self, config: PlatformConfig, env: Mapping[str, str]):
        self.http = HttpClient(
            "freshdesk", config.base_url, auth=(config.secret("api_key"), "X"), verify=config.verify
        )
        self.handoff_group: str | None = env.get("FRESHDESK_HANDOFF_GROUP_ID") or None
        self._own_user: str | None = None

    # ---- writes ---------------------------------------------------------------------------------

    def reply(self, ticket_id: str, body: str) -> str:
        created = self.http.send_json(
            "POST", f"tickets/{_id(ticket_id)}/reply", {"body": text_to_html(body)}, idempotent=False
        )
        return str(created["id"])

    def add_note(self, ticket_id: str, body: str, *, and_update: Mapping[str, Any] | None = None) -> str:
        """An internal note. `and_update` is for helpdesks that can write the ticket in the same call
        (Salesforce); here the caller's `update` that follows makes that change."""
        created = self.http.send_json(
            "POST",
            f"tickets/{_id(ticket_id)}/notes",
            {"body": text_to_html(body), "private": True},
            idempotent=False,
        )
        return str(created["id"])

    def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        group: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> list[str]:
        """One `PUT tickets/{id}` for tags, group and status together; only what differs is sent.
        Tags are merged with the ticket's own (PUT replaces the list: a blind write would drop a
        human's tags), read in this turn's one ticket read."""
        if status is not None and status not in STATUS_CODES:
            raise ValueError(f"unknown ticket status {status!r}")
        ticket = self._ticket(ticket_id)
        current = list(ticket.get("tags") or [])
        merged = merge_tags(current, list(add_tags), list(remove_tags))
        change: dict[str, Any] = {}
        if merged != current:
            change["tags"] = merged
        if group is not None and _numeric("group id", group) != ticket.get("group_id"):
            change["group_id"] = _numeric("group id", group)
        if status is not None and STATUS_CODES[status] != ticket.get("status"):
            change["status"] = STATUS_CODES[status]
        if change:
            self.http.send_json("PUT", f"tickets/{_id(ticket_id)}", change, idempotent=True)
            revise(_ticket_key(ticket_id), lambda held: held.update(change))
        return merged

    # ---- reads ----------------------------------------------------------------------------------

    def tickets_created(self, since: datetime, until: datetime, limit: int) -> list[str]:
        """List All Tickets (`GET /api/v2/tickets`, docs/platforms/freshdesk.md) updated since `since`,
        oldest created first, a page of 100 at a time up to Freshdesk's 300 pages. A ticket created in
        the range was updated in it too, so none is missed; the creation day is checked here."""
        ids: list[str] = []
        params: dict[str, Any] = {
            "updated_since": utc_instant(since),
            "order_by": "created_at",
            "order_type": "asc",
            "per_page": PER_PAGE,
        }
        for page in range(1, LIST_PAGES + 1):
            rows = self.http.get_json("tickets", params={**params, "page": page}) or []
            for row in rows:
                created = parse_instant(row.get("created_at"))
                if created is not None and created >= until:
                    return ids
                if created is not None and created >= since:
                    ids.append(str(row["id"]))
                if len(ids) >= limit:
                    return ids
            if len(rows) < PER_PAGE:
                break
        return ids

    def get_ticket(self, ticket_id: str) -> Ticket:
        ticket = self._ticket(ticket_id)
        requester = ticket.get("requester") or {}
        return Ticket(
            helpdesk=self.name,
            id=str(ticket["id"]),
            subject=ticket.get("subject") or "",
            description=clean_message(ticket.get("description") or ticket.get("description_text") or ""),
            requester_email=requester.get("email"),
            requester_name=requester.get("name"),
            customer_id=_str_or_none(ticket.get("requester_id")),
            status=_status_name(ticket.get("status")),
            tags=tuple(ticket.get("tags") or ()),
            group_id=_str_or_none(ticket.get("group_id")),
            assignee_id=_str_or_none(ticket.get("responder_id")),
        )

    def assignee_id(self, ticket_id: str) -> str | None:
        return _str_or_none(self._ticket(ticket_id).get("responder_id"))

    def latest_customer_message(self, ticket_id: str) -> Message | None:
        """Newest incoming public conversation; if the customer has not written since, the description."""
        messages = self.customer_messages(ticket_id)
        return messages[-1] if messages else None

    def customer_messages(self, ticket_id: str, after: str | None = None) -> list[Message]:
        """The description (the customer's first message, unless an agent started the ticket), then
        every incoming public conversation, oldest first."""
        ticket = self._ticket(ticket_id)
        messages: list[Message] = []
        text = clean_message(ticket.get("description") or ticket.get("description_text") or "")
        if ticket.get("source") != SOURCE_OUTBOUND_EMAIL and text:
            messages.append(
                Message(
                    id=f"ticket-{ticket['id']}",
                    text=text,
                    incoming=True,
                    created_at=ticket.get("created_at"),
                    author_email=(ticket.get("requester") or {}).get("email"),
                )
            )
        replies = [c for c in self._turn_conversations(ticket) if c.get("incoming") and not c.get("private")]
        replies.sort(key=lambda c: (c.get("created_at") or "", c.get("id") or 0))
        messages.extend(
            Message(
                id=str(reply["id"]),
                text=clean_message(reply.get("body") or reply.get("body_text") or ""),
                incoming=True,
                created_at=reply.get("created_at"),
                author_email=reply.get("from_email"),
            )
            for reply in replies
        )
        return messages_after(messages, after)

    def paused_for_budget(self) -> str | None:
        """A per-minute limit recovers within the minute; there is no daily allocation to protect."""
        return None

    def own_user_id(self) -> str | None:
        """`GET /api/v2/agents/me`, the agent whose API key we use (Freshdesk API v2, "View Me")."""
        if self._own_user is None:
            self._own_user = _str_or_none((self.http.get_json("agents/me") or {}).get("id")) or ""
        return self._own_user or None

    def send_email(self, ticket_id: str, to: str, subject: str, body: str) -> str:
        """No documented call emails an address outside the ticket's conversation."""
        raise Rejected("freshdesk", "emailing an address outside the conversation is not supported")

    def find_customer(self, email: str) -> Customer | None:
        email = (email or "").strip()
        if not email:
            return None

        def read() -> dict[str, Any] | None:
            contacts = self.http.get_json("contacts", params={"email": email}) or []
            return contacts[0] if contacts else None

        contact = remembered(("freshdesk", "contact-by-email", email.casefold()), read)
        if not contact:
            return None
        return Customer(
            platform=self.name,
            id=str(contact["id"]),
            email=contact.get("email"),
            name=contact.get("name"),
            extra={k: contact[k] for k in ("phone", "mobile", "company_id") if contact.get(k)},
        )

    def find_reply(self, ticket_id: str, body: str) -> str | None:
        for conversation in self._conversations(ticket_id):
            if conversation.get("incoming") or conversation.get("private"):
                continue
            if same_text(body, conversation.get("body") or conversation.get("body_text") or ""):
                return str(conversation["id"])
        return None

    def find_note(self, ticket_id: str, marker: str) -> bool:
        for conversation in self._conversations(ticket_id):
            if not conversation.get("private"):
                continue
            body = conversation.get("body") or ""
            if (
                marker in body
                or marker in (conversation.get("body_text") or "")
                or marker in html_to_text(body)
            ):
                return True
        return False

    # ---- helpers --------------------------------------------------------------------------------

    def _ticket(self, ticket_id: str) -> dict[str, Any]:
        """The ticket with its requester and first conversations: one read per turn (turn_reads).
        Each `include` costs Freshdesk an extra rate-limit credit, but not another call."""

        def read() -> dict[str, Any]:
            ticket = self.http.get_json(f"tickets/{_id(ticket_id)}", params={"include": TICKET_INCLUDES})
            requester = ticket.get("requester") or {}
            if requester.get("email"):  # the requester's contact: find_customer need not ask again
                remember(("freshdesk", "contact-by-email", requester["email"].casefold()), requester)
            return ticket

        return remembered(_ticket_key(ticket_id), read)

    def _turn_conversations(self, ticket: dict[str, Any]) -> list[dict[str, Any]]:
        """The conversations embedded in the ticket read, unless there may be more than Freshdesk
        embeds: then every page of the conversations endpoint."""
        embedded = ticket.get("conversations")
        if isinstance(embedded, list) and len(embedded) < EMBEDDED_CONVERSATIONS:
            return embedded
        ticket_id = str(ticket["id"])
        return remembered(
            ("freshdesk", "conversations", ticket_id), lambda: list(self._conversations(ticket_id))
        )

    def _conversations(self, ticket_id: str) -> Iterator[dict[str, Any]]:
        """All conversations, page by page; a short page is the last (the Link header is not relied on)."""
        for page in range(1, MAX_PAGES + 1):
            rows = self.http.get_json(
                f"tickets/{_id(ticket_id)}/conversations", params={"page": page, "per_page": PER_PAGE}
            )
            rows = rows or []
            yield from rows
            if len(rows) < PER_PAGE:
                return


def _ticket_key(ticket_id: str) -> tuple[str, str, str]:
    return ("freshdesk", "ticket", str(ticket_id).strip())


def _id(ticket_id: str) -> int:
    return _numeric("ticket id", ticket_id)


def _numeric(what: str, value: str) -> int:
    """Freshdesk ids are integers; anything else is refused here rather than sent into a URL."""
    text = str(value).strip()
    if not text.isdigit():
        raise Rejected("freshdesk", f"{what} must be numeric")
    return int(text)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _status_name(status: Any) -> str | None:
    """Freshdesk's numeric status as our name; a status we do not know keeps its own text."""
    known = STATUS_NAMES.get(status) if isinstance(status, int) else None
    return known or _str_or_none(status)
