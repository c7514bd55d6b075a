"""What the worker does with one event, under the ticket's lock.

Events arrive at least once and in any order, so the pipeline decides from the conversation's state,
not from the event alone: a "created" for a ticket already handled is a no-op, a customer message for
a ticket never handled is treated as the new ticket, and a message whose id was already acted on is
a duplicate however it was delivered.

The conversation is saved only after every action of a turn is done. A retry after a failure (or a
worker killed mid-turn) re-runs the whole turn, and the action ledger returns the recorded result of
every write that already happened, so nothing is done twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis

from connectors.helpdesk.base import Helpdesk
from connectors.models import Message, Ticket
from connectors.tools import ToolRegistry, load_all_tools
from policies.clarify import Clarification, clarifying_question, confirmed_by_reading, settle
from policies.classifier import Classification, Classifier
from policies.engines import PolicyEngine
from policies.modes import MODES, Mode, policy_mode
from policies.router import default_library, route
from policies.runtime import PolicyPort, PolicyState
from policies.understanding import REQUEST_WORDS, Understanding, only_thanks
from policies.variants import variant_for
from worker.actions import TicketActions
from worker.conversation import Conversation, ConversationStore
from worker.events import TicketEvent
from worker.ledger import ActionLedger
from worker.notes import triage_note
from worker.offers import record_turn
from worker.policy_port import TicketPolicyPort
from worker.rehearsal import rehearse_turn
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)

EngineStep = Callable[[PolicyPort, PolicyState], PolicyState]


@dataclass(frozen=True)
class Outcome:
    result: str  # triaged | waiting | resolved | handed_off | duplicate | ignored | human_has_it
    #              | shadow | draft (a rehearsal turn: detail is the policy's state)
    detail: str = ""


class EventProcessor:
    def __init__(
        self,
        desk: Helpdesk,
        client: redis.Redis,
        classifier: Classifier,
        settings: WorkerSettings,
        registry: ToolRegistry | None = None,
    ):
        self.desk = desk
        self.redis = client
        self.store = ConversationStore(client)
        self.classifier = classifier
        self.settings = settings
        self.registry = registry or load_all_tools()
        self.engine = PolicyEngine(default_library(), self.registry)

    def process(self, event: TicketEvent) -> Outcome:
        if event.kind == "ignored":
            return Outcome("ignored")
        conversation = self.store.load(event.helpdesk, event.ticket_id)
        if conversation is None or conversation.status == "new":
            conversation = conversation or Conversation(helpdesk=event.helpdesk, ticket_id=event.ticket_id)
            return self._new_ticket(event, conversation)
        if event.kind == "created":
            return Outcome("duplicate", "ticket already handled")
        return self._customer_message(event, conversation)

    def _new_ticket(self, event: TicketEvent, conversation: Conversation) -> Outcome:
        ticket = self.desk.get_ticket(event.ticket_id)
        message = self.desk.latest_customer_message(event.ticket_id)
        if message is None and not (ticket.description or event.text):
            # Kustomer announces a conversation before its first message, which comes in its own
            # webhook: classify on the customer's words when they arrive, never on a subject alone.
            return Outcome("ignored", "no customer message yet")
        subject, text = ticket_text(event, ticket, message)
        conversation.mark_seen(message.id if message else f"ticket-{event.ticket_id}")
        conversation.note_turn("customer", text)

        classification = self.classifier.classify(text, subject)
        conversation.ticket_type = classification.label
        conversation.confidence = round(classification.confidence, 3)
        conversation.facts = known_facts(event, ticket, classification)
        conversation.context = flow_context(event, ticket, subject, text, conversation.facts)
        conversation.status = "active"
        log.info(
            "classified ticket=%s type=%s confidence=%.2f",
            conversation.key,
            classification.label,
            classification.confidence,
        )

        opener = self.engine.read_opener(text)  # read once; the policy's engine starts from it
        conversation.policy = PolicyState(understood=opener.to_dict()).to_dict()
        barrier = self.engine.language_barrier(opener.language)
        policy, reason = (
            self._policy_for(classification, event.helpdesk) if barrier is None else (None, barrier)
        )
        if policy is None and barrier is None and classification.confidence < self.settings.min_confidence:
            confirmed = confirmed_by_reading(classification, self._handled(event.helpdesk), opener.intents)
            policy = self._route_id(confirmed, event.helpdesk) if confirmed else None
        if policy is None:
            reason = with_requests(reason, opener)
            question = self._clarifying(classification, event.helpdesk, opener) if barrier is None else None
            if question is not None:
                return self._ask_type(conversation, question)
            self._hand_off(conversation, reason)
            return Outcome("triaged", reason)
        return self._start(conversation, policy)

    def _start(self, conversation: Conversation, policy: str) -> Outcome:
        # an offer variant, stable per ticket, for policies that compare offers ($variant)
        conversation.context["variant"] = variant_for(
            default_library().get(policy), conversation.helpdesk, conversation.ticket_id
        )

        def start(port: PolicyPort, state: PolicyState) -> PolicyState:
            return self.engine.start(state, policy, conversation.context, port)

        mode = policy_mode(default_library().get(policy))
        if mode == "off":
            self._hand_off(conversation, f"policy {policy} is switched off (mode: off)")
            return Outcome("triaged", f"policy {policy} is off")
        if mode != "live":
            conversation.mode = mode
            return self._rehearse(conversation, start, policy)
        return self._run(conversation, start, policy)

    def _clarifying(
        self, classification: Classification, helpdesk: str, opener: Understanding
    ) -> Clarification | None:
        """An unsure classification that one short question could settle (policies.clarify)."""
        if classification.confidence >= self.settings.min_confidence or "human" in opener.intents:
            return None
        return clarifying_question(classification, self._handled(helpdesk), opener.intents)

    def _handled(self, helpdesk: str) -> Callable[[str], bool]:
        return lambda label: route(label, helpdesk).policy is not None

    def _route_id(self, label: str, helpdesk: str) -> str | None:
        found = route(label, helpdesk).policy
        return found.id if found else None

    def _ask_type(self, conversation: Conversation, question: Clarification) -> Outcome:
        actions = TicketActions(self.desk, ActionLedger(self.redis, conversation.key), conversation)
        step = f"clarify-{len(conversation.seen_messages)}"
        actions.reply(step, question.text)
        conversation.note_turn("bot", question.text)
        actions.set_status(step, "pending")
        actions.set_lifecycle(step, "waiting")
        conversation.status = "waiting"
        conversation.clarifying = list(question.labels)
        self.store.save(conversation)
        return Outcome("waiting", f"asked whether this is {' or '.join(question.labels)}")

    def _clarified(self, conversation: Conversation, reply: str) -> Outcome:
        """The answer to the type question: start the policy it picks, or hand off."""
        question = Clarification((conversation.clarifying[0], conversation.clarifying[1]))
        conversation.clarifying = []
        label = settle(question, reply, self.engine.reader)
        policy = route(label, conversation.helpdesk).policy if label and label != "other" else None
        if label is None or policy is None:
            why = "did not say which" if label is None else "says it is about something else"
            said = Understanding.from_dict(PolicyState.from_dict(conversation.policy).understood)
            said.add(self.engine.reader.read(reply), reply)
            reason = with_requests(f"the classifier was unsure and the customer's answer {why}", said)
            self._hand_off(conversation, reason)
            return Outcome("handed_off", "type not settled")
        conversation.ticket_type = label
        ticket = conversation.context.setdefault("ticket", {})
        ticket["text"] = f"{ticket.get('text') or ''}\n\n{reply}"[:4000]
        memory = Understanding.from_dict(PolicyState.from_dict(conversation.policy).understood)
        memory.add(self.engine.reader.read(reply), reply)
        conversation.policy = PolicyState(understood=memory.to_dict()).to_dict()
        return self._start(conversation, policy.id)

    def _customer_message(self, event: TicketEvent, conversation: Conversation) -> Outcome:
        if conversation.saw(event.message_id):
            return Outcome("duplicate", "message already handled")
        message = self.desk.latest_customer_message(event.ticket_id)
        if message is None or conversation.saw(message.id):
            return Outcome("duplicate", "no new customer message")
        conversation.mark_seen(message.id)
        conversation.note_turn("customer", message.text)
        if conversation.mode in ("shadow", "draft"):
            return self._rehearse_reply(conversation, message.text)
        if conversation.status == "handed_off":
            self.store.save(conversation)
            return Outcome("human_has_it", "a person owns this ticket; the bot stays silent")
        if conversation.status == "waiting":
            if self._human_took_over(event.ticket_id):
                conversation.status = "handed_off"
                conversation.handoff_reason = "a person took the ticket over"
                self.store.save(conversation)
                return Outcome("human_has_it", "a person took the ticket over; the bot stays silent")
            if conversation.clarifying:
                return self._clarified(conversation, message.text)
            return self._run(
                conversation,
                lambda port, state: self.engine.resume(state, message.text, conversation.context, port),
            )
        if conversation.status == "resolved" and only_thanks(message.text):
            self.store.save(conversation)  # "thanks!" after the answer: nothing to do, nobody to bother
            return Outcome("resolved", "a thank-you after the policy finished")
        self._hand_off(conversation, "the customer wrote again after the policy had finished")
        return Outcome("handed_off", "reply after the policy finished")

    def _policy_for(self, classification: Classification, helpdesk: str) -> tuple[str | None, str]:
        return policy_for(classification, helpdesk, self.settings.min_confidence)

    def _run(self, conversation: Conversation, step: EngineStep, starting: str | None = None) -> Outcome:
        ledger = ActionLedger(self.redis, conversation.key)
        actions = TicketActions(self.desk, ledger, conversation)
        saved = PolicyState.from_dict(conversation.policy)
        port = TicketPolicyPort(
            conversation,
            actions,
            ledger,
            self.registry,
            datetime.now(UTC).date(),
            starting or saved.policy_id,
        )
        state = step(port, saved)
        conversation.policy = state.to_dict()
        turn = len(conversation.seen_messages)
        if state.status == "waiting":
            port.wait_for_customer(f"wait-{turn}")
        elif state.status == "active":  # the engine stopped without an outcome: never leave a ticket hanging
            self._hand_off(conversation, "the policy stopped without reaching an outcome")
            return Outcome("handed_off", "policy stopped without an outcome")
        conversation.status = state.status
        self.store.save(conversation)
        record_turn(self.redis, conversation)  # counts a finished offer's outcome once per ticket
        log.info("policy turn ticket=%s policy=%s status=%s", conversation.key, state.policy_id, state.status)
        return Outcome(state.status, state.outcome or "")

    def _rehearse(self, conversation: Conversation, step: EngineStep, policy: str) -> Outcome:
        """A shadow or draft turn (worker.rehearsal): every write simulated, nothing sent."""
        mode = policy_mode_of(conversation)
        ledger = ActionLedger(self.redis, conversation.key)
        state = rehearse_turn(
            conversation,
            mode,
            step,
            policy,
            registry=self.registry,
            client=self.redis,
            engine=self.engine.choose(policy) or "none",
            today=datetime.now(UTC).date(),
            actions=TicketActions(self.desk, ledger, conversation) if mode == "draft" else None,
        )
        conversation.status = state.status
        self.store.save(conversation)
        log.info("rehearsal ticket=%s mode=%s status=%s", conversation.key, mode, state.status)
        return Outcome(mode, state.status)

    def _rehearse_reply(self, conversation: Conversation, text: str) -> Outcome:
        saved = PolicyState.from_dict(conversation.policy)
        if conversation.status != "waiting" or saved.policy_id is None:
            self.store.save(conversation)
            return Outcome("human_has_it", f"the {conversation.mode} rehearsal has ended; people have it")
        return self._rehearse(
            conversation,
            lambda port, state: self.engine.resume(state, text, conversation.context, port),
            saved.policy_id,
        )

    def _human_took_over(self, ticket_id: str) -> bool:
        """An agent assigned to the ticket (not our own API user) means a person is handling it."""
        assignee = self.desk.get_ticket(ticket_id).assignee_id
        return bool(assignee) and assignee not in bot_user_ids()

    def _hand_off(self, conversation: Conversation, reason: str) -> None:
        ledger = ActionLedger(self.redis, conversation.key)
        actions = TicketActions(self.desk, ledger, conversation)
        step = f"handoff-{len(conversation.seen_messages)}"
        actions.hand_off(step, triage_note(conversation, reason))
        conversation.status = "handed_off"
        conversation.handoff_reason = reason
        self.store.save(conversation)


def policy_for(
    classification: Classification, helpdesk: str, min_confidence: float
) -> tuple[str | None, str]:
    """The policy a classified ticket runs, or None and why it goes to people instead."""
    label, confidence = classification.label, classification.confidence
    if confidence < min_confidence:
        return None, (
            f"the classifier is unsure ({label} at {confidence:.2f}, "
            f"below the {min_confidence:.2f} threshold)"
        )
    if label == "other":
        return None, "not a ticket type policydesk resolves automatically"
    decision = route(label, helpdesk)
    return (decision.policy.id, "") if decision.policy else (None, decision.reason)


def policy_mode_of(conversation: Conversation) -> Mode:
    return cast(Mode, conversation.mode if conversation.mode in MODES else "live")


def with_requests(reason: str, said: Understanding) -> str:
    """A hand-off reason with what the customer asked for, so the person need not re-read the thread."""
    asked = [REQUEST_WORDS[i] for i in said.intents if i in REQUEST_WORDS]
    if not asked:
        return reason
    orders = f" (order {', '.join(said.order_numbers)})" if said.order_numbers else ""
    return f"{reason}; the customer asks for {', '.join(asked)}{orders}"


def bot_user_ids() -> set[str]:
    """Our own API users, whose assignment of a ticket is not a person taking it over."""
    return {v for v in (os.environ.get("SALESFORCE_INTEGRATION_USER_ID"),) if v}


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


def flow_context(
    event: TicketEvent, ticket: Ticket, subject: str, text: str, facts: dict[str, str]
) -> dict[str, Any]:
    """The `$customer`, `$ticket`, `$brand` and `$facts` a policy reads; kept for later turns."""
    name = event.requester_name or ticket.requester_name or ""
    requester = event.requester_email or ticket.requester_email  # the helpdesk's, never the ticket text's
    return {
        "customer": {
            "email": requester,
            "name": name,
            "first_name": name.split()[0] if name else "",
        },
        "ticket": {
            "id": event.ticket_id,
            "subject": subject,
            "text": text[:4000],
            "helpdesk": event.helpdesk,
        },
        "brand": {"name": os.environ.get("POLICYDESK_BRAND_NAME", "")},
        "facts": dict(facts),
    }
