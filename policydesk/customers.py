"""Playing the customer and the helpdesk against the sandbox: open a ticket, reply, and produce the
webhook the helpdesk would send for it. The demo and the end-to-end tests speak through this."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests

from policydesk import deliveries
from policydesk.deliveries import Delivery


@dataclass(frozen=True)
class OpenedTicket:
    helpdesk: str
    ticket_id: str
    customer_id: str | None
    email: str | None
    subject: str
    deliveries: tuple[Delivery, ...]  # what the helpdesk sends for the new ticket, in order


class SandboxCustomers:
    def __init__(self, sandbox_url: str, ca_bundle: str, env: Mapping[str, str]):
        self.url = sandbox_url.rstrip("/")
        self.env = env
        self.http = requests.Session()
        self.http.verify = ca_bundle
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify; loopback needs no proxy

    def open_ticket(
        self,
        helpdesk: str,
        subject: str,
        text: str,
        email: str | None,
        name: str | None = None,
        *,
        simple: bool = False,
        first: str = "conversation",
        direction: str = "in",
    ) -> OpenedTicket:
        """A new ticket and the webhooks its helpdesk sends. On Kustomer the conversation and its first
        message are two webhooks: `first` "conversation" (the conversation exists before its message)
        or "message"; `direction` "out" opens one our team started."""
        spec: dict[str, Any] = {"subject": subject, "text": text, "email": email, "name": name}
        if helpdesk == "kustomer":
            spec["options"] = {"hold_message": True, "direction": direction}
        created = self._post(f"/_sandbox/{helpdesk}/tickets", spec)
        ticket_id = str(created["ticket_id"])
        customer_id = created.get("customer_id")
        if helpdesk == "kustomer":
            message_id = created.get("message_id")
            conversation = deliveries.kustomer_conversation_created(
                ticket_id, customer_id, subject, direction=direction
            )
            message = replace(
                deliveries.kustomer_customer_message(
                    ticket_id, customer_id, text, message_id=message_id, from_email=email, direction=direction
                ),
                happens_first=lambda: self._post(
                    f"/_sandbox/kustomer/tickets/{ticket_id}/messages/{message_id}/release", {}
                ),
            )
            sent: tuple[Delivery, ...] = (
                (conversation, message) if first == "conversation" else (message, conversation)
            )
        elif helpdesk == "freshdesk":
            sent = (
                deliveries.freshdesk_ticket_created(ticket_id, subject, text, email, name, simple=simple),
            )
        else:
            sent = (
                deliveries.salesforce_case_created(
                    ticket_id,
                    subject,
                    text,
                    email,
                    name,
                    org_id=self.env["SALESFORCE_ORG_ID"],
                    session_id=created.get("session_id"),
                ),
            )
        signed = tuple(d.authenticated(self.env) for d in sent)
        return OpenedTicket(helpdesk, ticket_id, customer_id, email, subject, signed)

    def reply(
        self, ticket: OpenedTicket, text: str, *, simple: bool = False, triggered_event: str | None = None
    ) -> Delivery:
        """The customer answers on the ticket; returns the webhook the helpdesk sends for it (on
        Freshdesk, `simple` content and the `triggered_event` value the rule renders, if any)."""
        added = self._post(f"/_sandbox/{ticket.helpdesk}/tickets/{ticket.ticket_id}/messages", {"text": text})
        if ticket.helpdesk == "kustomer":
            sent = deliveries.kustomer_customer_message(
                ticket.ticket_id,
                ticket.customer_id,
                text,
                message_id=added.get("message_id"),
                from_email=ticket.email,
            )
        elif ticket.helpdesk == "freshdesk":
            sent = deliveries.freshdesk_customer_reply(
                ticket.ticket_id,
                ticket.email,
                subject=ticket.subject,
                simple=simple,
                text=text,
                triggered_event=triggered_event,
            )
        else:
            sent = deliveries.salesforce_customer_reply(
                ticket.ticket_id,
                ticket.subject,
                "",
                ticket.email,
                org_id=self.env["SALESFORCE_ORG_ID"],
                session_id=added.get("session_id"),
            )
        return sent.authenticated(self.env)

    def view(self, ticket: OpenedTicket) -> dict[str, Any]:
        response = self.http.get(
            f"{self.url}/_sandbox/{ticket.helpdesk}/tickets/{ticket.ticket_id}", timeout=10
        )
        response.raise_for_status()
        return response.json()

    def wait_for(
        self, ticket: OpenedTicket, done: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        """Poll the ticket until `done(view)` holds and the helpdesk has sent every reply it was given
        (Kustomer sends a scheduled draft at its time); return the last view either way."""
        deadline = time.monotonic() + timeout
        view = self.view(ticket)
        while not (done(view) and not view.get("drafts")) and time.monotonic() < deadline:
            time.sleep(0.2)
            view = self.view(ticket)
        return view

    def writes(self, platform: str | None = None) -> list[dict[str, Any]]:
        params = {"platform": platform} if platform else None
        response = self.http.get(f"{self.url}/_sandbox/writes", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_for_held(self, platform: str, path_part: str, since: int, timeout: float = 30) -> None:
        """Until the sandbox holds a request (a delay fault) to `platform` whose path has `path_part`,
        among its writes from index `since` on: the caller knows the worker is inside that call."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(w.get("held") and path_part in w["path"] for w in self.writes(platform)[since:]):
                return
            time.sleep(0.1)
        raise TimeoutError(f"no held request on {platform} {path_part}")

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.url}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()
