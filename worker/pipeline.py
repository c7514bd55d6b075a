"""What the worker does with one event, under the ticket's lock.

Events arrive at least once and in any order, so the pipeline decides from the conversation's state,
not from the event alone: a "created" for a ticket already triaged is a no-op, a customer message for
a ticket never triaged is treated as the new ticket, and a message whose id was already acted on is
a duplicate however it was delivered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from connectors.helpdesk.base import Helpdesk
from connectors.models import Message, Ticket
from policies.classifier import Classification, Classifier
from policies.router import policy_for
from worker.actions import TicketActions, type_tag
from worker.conversation import Conversation, ConversationStore
from worker.events import TicketEvent
from worker.ledger import ActionLedger
from worker.notes import triage_note
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)

DESCRIPTION_MESSAGE = "description"  # the seen-id of a ticket's first message when it has no own id


@dataclass(frozen=True)
class Outcome:
    result: str  # triaged | duplicate | ignored | human_has_it
    detail: str = ""


class EventProcessor:
    def __init__(
        self,
        desk: Helpdesk,
        client: redis.Redis,
        classifier: Classifier,
        settings: WorkerSettings,
    ):
        self.desk = desk
        self.redis = client
        self.store = ConversationStore(client)
        self.classifier = classifier
        self.settings = settings

    def process(self, event: TicketEvent) -> Outcome:
        if event.kind == "ignored":
            return Outcome("ignored")
        conversation = self.store.load(event.helpdesk, event.ticket_id)
        if conversation is None or conversation.status == "new":
            conversation = conversation or Conversation(helpdesk=event.helpdesk, ticket_id=event.ticket_id)
            return self._new_ticket(event, conversation)
        if event.kind == "created":
            return Outcome("duplicate", "ticket already triaged")
        return self._customer_message(event, conversation)

    def _new_ticket(self, event: TicketEvent, conversation: Conversation) -> Outcome:
        ticket = self.desk.get_ticket(event.ticket_id)
        message = self.desk.latest_customer_message(event.ticket_id)
        subject, text = ticket_text(event, ticket, message)
        conversation.mark_seen(message.id if message else DESCRIPTION_MESSAGE)
        conversation.note_turn("customer", text)

        classification = self.classifier.classify(text, subject)
        conversation.ticket_type = classification.label
        conversation.confidence = round(classification.confidence, 3)
        conversation.facts = known_facts(event, ticket, classification)
        conversation.status = "active"
        # Saved only once the handoff is done: a retry then re-runs every step, and the ledger
        # returns the recorded results of the writes that already happened.
        reason = self._routing_reason(classification)
        self._hand_off(conversation, reason)
        log.info(
            "triaged ticket=%s type=%s confidence=%.2f routed=humans",
            conversation.key,
            classification.label,
            classification.confidence,
        )
        return Outcome("triaged", reason)

    def _customer_message(self, event: TicketEvent, conversation: Conversation) -> Outcome:
        if conversation.saw(event.message_id):
            return Outcome("duplicate", "message already handled")
        message = self.desk.latest_customer_message(event.ticket_id)
        if message is None or conversation.saw(message.id):
            return Outcome("duplicate", "no new customer message")
        conversation.mark_seen(message.id)
        conversation.note_turn("customer", message.text)
        if conversation.status == "handed_off":
            self.store.save(conversation)
            return Outcome("human_has_it", "a person owns this ticket; the bot stays silent")
        self._hand_off(conversation, "the customer wrote again and no policy is waiting for a reply")
        return Outcome("triaged", "reply routed to humans")

    def _routing_reason(self, classification: Classification) -> str:
        label, confidence = classification.label, classification.confidence
        if confidence < self.settings.min_confidence:
            return (
                f"the classifier is unsure ({label} at {confidence:.2f}, "
                f"below the {self.settings.min_confidence:.2f} threshold)"
            )
        if label == "other":
            return "not a ticket type policydesk resolves automatically"
        if policy_for(label) is None:
            return f"no automated policy for {label} is enabled"
        return "routed to humans"

    def _hand_off(self, conversation: Conversation, reason: str) -> None:
        ledger = ActionLedger(self.redis, conversation.key)
        actions = TicketActions(self.desk, ledger, conversation)
        step = f"handoff-{len(conversation.seen_messages)}"
        actions.note(step, triage_note(conversation, reason))
        actions.assign_to_humans(step)
        actions.set_status(step, "open")
        # The lifecycle tag goes last: it is the visible sign that the handoff is complete.
        extra = [type_tag(conversation.ticket_type)] if conversation.ticket_type else []
        actions.set_lifecycle(step, "handed_off", extra)
        conversation.status = "handed_off"
        conversation.handoff_reason = reason
        self.store.save(conversation)


def ticket_text(event: TicketEvent, ticket: Ticket, message: Message | None) -> tuple[str, str]:
    """The subject and the customer's words, from the freshest source that has them."""
    subject = ticket.subject or event.subject
    parts = [ticket.description or event.text]
    if message and message.text and message.text.strip() not in (parts[0] or ""):
        parts.append(message.text)
    return subject, "\n\n".join(p for p in parts if p)


def known_facts(event: TicketEvent, ticket: Ticket, classification: Classification) -> dict[str, str]:
    facts = {k: v for k, v in classification.facts.items() if v}
    email = event.requester_email or ticket.requester_email
    if email:
        facts["email"] = email
    return facts
