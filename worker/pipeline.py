"""What the worker does with one event, under the ticket's lock.

Events arrive at least once and in any order, so the pipeline decides from the conversation's state,
not from the event alone: a "created" for a ticket already handled is a no-op, a customer message for
a ticket never handled is treated as the new ticket, and a message whose id was already acted on is
a duplicate however it was delivered.

A notification is only a pointer. Every fact about the ticket (requester, owner, status, the
customer's words) is read from the helpdesk's API, never from the webhook body, on every helpdesk.
The bot acts only on a ticket that is ours to act on: one no person owns (an assignee other than our
own API user, as the helpdesk itself reports it, means a person has it).

A turn reads every customer message since the last one handled, in order, joined as its input.
What the turn decides to tell the customer waits in the conversation's outbox: the state is saved
first, then the outbox is sent. A worker killed before the save re-runs the whole turn (the action
ledger returns every write that already happened, so nothing is done twice); one killed after it
sends the outbox on the next delivery. Either way the question is never visible to the customer
before the state that expects its answer is saved.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis

from connectors import telemetry
from connectors.helpdesk.base import Helpdesk
from connectors.models import Message, Ticket
from connectors.tools import ToolRegistry, load_all_tools
from policies.document.modes import MODES, Mode, policy_mode
from policies.document.variants import variant_for
from policies.engines.engine import PolicyEngine
from policies.engines.router import default_library, route
from policies.engines.runtime import PolicyPort, PolicyState
from policies.understanding import REQUEST_WORDS, Understanding, only_thanks
from policies.understanding.clarify import (
    OPEN,
    OPEN_QUESTION,
    Clarification,
    clarifying_question,
    confirmed_by_reading,
    says_nothing,
    settle,
)
from policies.understanding.classifier import Classification, Classifier
from worker.actions import TicketActions
from worker.conversation import Conversation, ConversationStore
from worker.events import TicketEvent
from worker.identity import PROVING, IdentityGate, Step
from worker.ledger import ActionLedger
from worker.notes import triage_note
from worker.offers import record_turn
from worker.policy_port import TicketPolicyPort, send_outbox
from worker.policy_versions import PolicyVersions, pinned_library, policy_closure
from worker.rehearsal import rehearse_turn
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)

EngineStep = Callable[[PolicyEngine, PolicyPort, PolicyState], PolicyState]


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
        self.versions = PolicyVersions(client)
        self._engine: PolicyEngine | None = None

    @property
    def engine(self) -> PolicyEngine:
        """The engine over the active library, rebuilt when a policy folder changed."""
        library = default_library()
        if self._engine is None or self._engine.library is not library:
            self._engine = PolicyEngine(library, self.registry)
        return self._engine

    def engine_for(self, state: PolicyState) -> PolicyEngine:
        """The engine over the policy versions this conversation started on."""
        engine = self.engine
        library = pinned_library(engine.library, state.versions, self.versions)
        return engine if library is engine.library else PolicyEngine(library, self.registry)

    def _pin_versions(self, conversation: Conversation, policy: str) -> None:
        """Record the versions of the policy and of every policy it can lead to, and keep their texts."""
        state = PolicyState.from_dict(conversation.policy)
        for doc in policy_closure(self.engine.library, policy):
            self.versions.keep(doc)
            state.versions[doc.id] = doc.version
        conversation.policy = state.to_dict()

    def process(self, event: TicketEvent) -> Outcome:
        if event.kind == "ignored":
            return Outcome("ignored")
        conversation = self.store.load(event.helpdesk, event.ticket_id)
        if conversation is not None and conversation.outbox:
            self._finish_turn(conversation)  # a worker died after saving a turn, before sending it
        if conversation is None or conversation.status == "new":
            conversation = conversation or Conversation(helpdesk=event.helpdesk, ticket_id=event.ticket_id)
            return self._new_ticket(event, conversation)
        return self._customer_message(event, conversation)

    def _new_ticket(self, event: TicketEvent, conversation: Conversation) -> Outcome:
        ticket = self.desk.get_ticket(event.ticket_id)
        if not self._ours_to_act_on(ticket.assignee_id):
            log.info("ticket=%s is owned by a person and was never ours: left alone", conversation.key)
            return Outcome("human_has_it", "a person owns this ticket; it was never the bot's")
        paused = self.desk.paused_for_budget()
        messages = self.desk.customer_messages(event.ticket_id)
        if not messages and not ticket.description:
            # Kustomer announces a conversation before its first message, which comes in its own
            # webhook: classify on the customer's words when they arrive, never on a subject alone.
            return Outcome("ignored", "no customer message yet")
        subject, text = ticket_text(ticket, messages)
        for message in messages:
            conversation.mark_seen(message.id)
        if not messages:
            conversation.mark_seen(f"ticket-{event.ticket_id}")
        conversation.note_turn("customer", text, [m.id for m in messages])

        classification = self.classifier.classify(text, subject)
        conversation.ticket_type = classification.label
        conversation.confidence = round(classification.confidence, 3)
        conversation.facts = known_facts(ticket, classification)
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
        barrier = paused or self.engine.language_barrier(opener.language)
        if barrier is None and "human" not in opener.intents and says_nothing(subject, text, opener):
            return self._ask_what_about(conversation)
        return self._route(conversation, classification, opener, text, barrier)

    def _route(
        self,
        conversation: Conversation,
        classification: Classification,
        said: Understanding,
        text: str,
        barrier: str | None = None,
    ) -> Outcome:
        """Start the policy the classification (or, when it is unsure, the customer's own requests)
        points at; else ask which type it is when one question could settle it, or hand off."""
        helpdesk = conversation.helpdesk
        policy, reason = self._policy_for(classification, helpdesk) if barrier is None else (None, barrier)
        if policy is None and barrier is None and classification.confidence < self.settings.min_confidence:
            confirmed = confirmed_by_reading(classification, self._handled(helpdesk), said.intents)
            policy = self._route_id(confirmed, helpdesk) if confirmed else None
        if policy is None:
            reason = with_requests(reason, said)
            question = self._clarifying(classification, helpdesk, said) if barrier is None else None
            if question is not None:
                return self._ask_type(conversation, question)
            self._hand_off(conversation, reason)
            return Outcome("triaged", reason)
        if not conversation.context["customer"].get("email"):
            # nobody the helpdesk knows: prove an email before any account
            gate = IdentityGate(conversation, self.registry, helpdesk)
            return self._identity_step(conversation, gate.begin(text, policy))
        return self._start(conversation, policy)

    def _start(self, conversation: Conversation, policy: str) -> Outcome:
        # an offer variant, stable per ticket, for policies that compare offers ($variant)
        conversation.context["variant"] = variant_for(
            default_library().get(policy), conversation.helpdesk, conversation.ticket_id
        )

        def start(engine: PolicyEngine, port: PolicyPort, state: PolicyState) -> PolicyState:
            return engine.start(state, policy, conversation.context, port)

        mode = policy_mode(default_library().get(policy))
        if mode == "off":
            self._hand_off(conversation, f"policy {policy} is switched off (mode: off)")
            return Outcome("triaged", f"policy {policy} is off")
        self._pin_versions(conversation, policy)
        if mode != "live":
            conversation.mode = mode
            return self._rehearse(conversation, start, policy)
        return self._run(conversation, start, policy)

    def _clarifying(
        self, classification: Classification, helpdesk: str, opener: Understanding
    ) -> Clarification | None:
        """An unsure classification that one short question could settle (policies.understanding.clarify)."""
        if classification.confidence >= self.settings.min_confidence or "human" in opener.intents:
            return None
        return clarifying_question(classification, self._handled(helpdesk), opener.intents)

    def _handled(self, helpdesk: str) -> Callable[[str], bool]:
        return lambda label: route(label, helpdesk).policy is not None

    def _route_id(self, label: str, helpdesk: str) -> str | None:
        found = route(label, helpdesk).policy
        return found.id if found else None

    def _ask_type(self, conversation: Conversation, question: Clarification) -> Outcome:
        self._ask(conversation, question.text, list(question.labels))
        return Outcome("waiting", f"asked whether this is {' or '.join(question.labels)}")

    def _ask_what_about(self, conversation: Conversation) -> Outcome:
        self._ask(conversation, OPEN_QUESTION, [OPEN])
        return Outcome("waiting", "asked what the message is about")

    def _ask(self, conversation: Conversation, text: str, clarifying: list[str]) -> None:
        actions = TicketActions(self.desk, ActionLedger(self.redis, conversation.key), conversation)
        step = f"clarify-{len(conversation.seen_messages)}"
        actions.reply(step, text)
        conversation.note_turn("bot", text)
        actions.wait(step)
        conversation.status = "waiting"
        conversation.clarifying = clarifying
        self.store.save(conversation)

    def _told_what_about(self, conversation: Conversation, reply: str) -> Outcome:
        """The answer to "how can I help?": classified and routed as the first message would have been,
        with what the first message said (an order, a date) kept."""
        conversation.clarifying = []
        memory = Understanding.from_dict(PolicyState.from_dict(conversation.policy).understood)
        memory.add(self.engine.reader.read(reply), reply)
        conversation.policy = PolicyState(understood=memory.to_dict()).to_dict()
        ticket = conversation.context.setdefault("ticket", {})
        ticket["text"] = f"{ticket.get('text') or ''}\n\n{reply}"[:4000]
        classification = self.classifier.classify(reply, str(ticket.get("subject") or ""))
        conversation.ticket_type = classification.label
        conversation.confidence = round(classification.confidence, 3)
        barrier = self.engine.language_barrier(memory.language)
        return self._route(conversation, classification, memory, ticket["text"], barrier)

    def _clarified(self, conversation: Conversation, reply: str) -> Outcome:
        """The answer to the type question: start the policy it picks, or hand off."""
        if conversation.clarifying == [OPEN]:
            return self._told_what_about(conversation, reply)
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

    def _identity_step(self, conversation: Conversation, step: Step) -> Outcome:
        """Ask the next identity question, start the policy for a proven email, or hand off."""
        if step.proven:
            conversation.context["customer"]["email"] = step.proven
            conversation.facts["email"] = step.proven
            conversation.context["facts"]["email"] = step.proven
            log.info("identity proven ticket=%s how=%s", conversation.key, conversation.identity.get("how"))
            return self._start(conversation, str(conversation.identity.get("policy") or ""))
        if step.give_up:
            self._hand_off(conversation, step.give_up)
            return Outcome("handed_off", step.give_up)
        key = f"identity-{len(conversation.seen_messages)}"
        conversation.outbox.append({"kind": "reply", "step": key, "text": step.ask or ""})
        conversation.note_turn("bot", step.ask or "")
        conversation.status = "waiting"
        self.store.save(conversation)
        self._finish_turn(conversation)
        return Outcome("waiting", "proof of identity asked")

    def _customer_message(self, event: TicketEvent, conversation: Conversation) -> Outcome:
        """Every customer message since the last one handled, in order, is this turn's input."""
        if conversation.saw(event.message_id):
            return Outcome("duplicate", "message already handled")
        messages = [
            m
            for m in self.desk.customer_messages(event.ticket_id, after=conversation.last_seen)
            if not conversation.saw(m.id)
        ]
        if not messages:
            return Outcome("duplicate", "no new customer message")
        for message in messages:
            conversation.mark_seen(message.id)
        text = "\n\n".join(m.text for m in messages if m.text)
        conversation.note_turn("customer", text, [m.id for m in messages])
        if conversation.mode in ("shadow", "draft"):
            return self._rehearse_reply(conversation, text)
        if conversation.status == "handed_off":
            self.store.save(conversation)
            return Outcome("human_has_it", "a person owns this ticket; the bot stays silent")
        if conversation.status == "waiting":
            if not self._ours_to_act_on(self.desk.assignee_id(event.ticket_id)):
                conversation.status = "handed_off"
                conversation.handoff_reason = "a person took the ticket over"
                self.store.save(conversation)
                return Outcome("human_has_it", "a person took the ticket over; the bot stays silent")
            paused = self.desk.paused_for_budget()
            if paused:
                self._hand_off(conversation, paused)
                return Outcome("handed_off", "automatic work paused to spare the helpdesk's API budget")
            if conversation.clarifying:
                return self._clarified(conversation, text)
            if conversation.identity.get("stage") in PROVING:
                gate = IdentityGate(conversation, self.registry, conversation.helpdesk)
                return self._identity_step(conversation, gate.resume(text))
            return self._run(
                conversation,
                lambda engine, port, state: engine.resume(state, text, conversation.context, port),
            )
        if conversation.status == "resolved" and only_thanks(text):
            self.store.save(conversation)  # "thanks!" after the answer: nothing to do, nobody to bother
            return Outcome("resolved", "a thank-you after the policy finished")
        self._hand_off(conversation, "the customer wrote again after the policy had finished")
        return Outcome("handed_off", "reply after the policy finished")

    def _ours_to_act_on(self, assignee: str | None) -> bool:
        """Ours to act on: no person owns it. A ticket assigned to a user other than our own API user
        (read from the helpdesk, see Helpdesk.own_user_id) is a person's, whatever a webhook says."""
        return not assignee or assignee in own_user_ids(self.desk)

    def _policy_for(self, classification: Classification, helpdesk: str) -> tuple[str | None, str]:
        return policy_for(classification, helpdesk, self.settings.min_confidence)

    def _run(self, conversation: Conversation, step: EngineStep, starting: str | None = None) -> Outcome:
        ledger = ActionLedger(self.redis, conversation.key)
        actions = TicketActions(self.desk, ledger, conversation)
        saved = PolicyState.from_dict(conversation.policy)
        engine = self.engine_for(saved)
        port = TicketPolicyPort(
            conversation,
            actions,
            ledger,
            self.registry,
            datetime.now(UTC).date(),
            starting or saved.policy_id,
        )
        state = step(engine, port, saved)
        conversation.policy = state.to_dict()
        if state.status == "active":  # the engine stopped without an outcome: never leave a ticket hanging
            conversation.outbox.clear()
            self._hand_off(conversation, "the policy stopped without reaching an outcome")
            telemetry.count(
                "policy_outcomes", policy=state.policy_id, mode=conversation.mode, status="handed_off"
            )
            return Outcome("handed_off", "policy stopped without an outcome")
        conversation.status = state.status
        # Saved before the customer sees anything: an answer to this turn's question can only arrive
        # after the state that expects it is on record, however the worker dies from here on.
        self.store.save(conversation)
        self._finish_turn(conversation)
        record_turn(self.redis, conversation)  # counts a finished offer's outcome once per ticket
        log.info(
            "policy turn ticket=%s policy=%s version=%s status=%s",
            conversation.key,
            state.policy_id,
            state.versions.get(state.policy_id or "", "-"),
            state.status,
        )
        telemetry.count(
            "policy_outcomes", policy=state.policy_id, mode=conversation.mode, status=state.status
        )
        return Outcome(state.status, state.outcome or "")

    def _rehearse(self, conversation: Conversation, step: EngineStep, policy: str) -> Outcome:
        """A shadow or draft turn (worker.rehearsal): every write simulated, nothing sent."""
        mode = policy_mode_of(conversation)
        ledger = ActionLedger(self.redis, conversation.key)
        engine = self.engine_for(PolicyState.from_dict(conversation.policy))
        state = rehearse_turn(
            conversation,
            mode,
            lambda port, state: step(engine, port, state),
            policy,
            registry=self.registry,
            client=self.redis,
            engine=engine.choose(policy) or "none",
            today=datetime.now(UTC).date(),
            actions=TicketActions(self.desk, ledger, conversation) if mode == "draft" else None,
        )
        conversation.status = state.status
        self.store.save(conversation)
        log.info("rehearsal ticket=%s mode=%s status=%s", conversation.key, mode, state.status)
        telemetry.count("policy_outcomes", policy=policy, mode=mode, status=state.status)
        return Outcome(mode, state.status)

    def _rehearse_reply(self, conversation: Conversation, text: str) -> Outcome:
        saved = PolicyState.from_dict(conversation.policy)
        if conversation.status != "waiting" or saved.policy_id is None:
            self.store.save(conversation)
            return Outcome("human_has_it", f"the {conversation.mode} rehearsal has ended; people have it")
        return self._rehearse(
            conversation,
            lambda engine, port, state: engine.resume(state, text, conversation.context, port),
            saved.policy_id,
        )

    def _finish_turn(self, conversation: Conversation) -> None:
        """Send a saved turn's outbox, then mark the ticket as waiting if the turn asked a question."""
        actions = TicketActions(self.desk, ActionLedger(self.redis, conversation.key), conversation)
        send_outbox(actions, conversation)
        if conversation.status == "waiting":
            actions.wait(f"wait-{len(conversation.seen_messages)}")
        self.store.save(conversation)

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


def own_user_ids(desk: Helpdesk) -> set[str]:
    """Our own API user on this helpdesk, as the helpdesk reports it, plus SALESFORCE_INTEGRATION_USER_ID
    (kept as an explicit override for Salesforce); its assignment of a ticket is not a person's."""
    ids = {desk.own_user_id() or ""}
    if desk.name == "salesforce":
        ids.add(os.environ.get("SALESFORCE_INTEGRATION_USER_ID") or "")
    return {i for i in ids if i}


def ticket_text(ticket: Ticket, messages: list[Message]) -> tuple[str, str]:
    """The subject and the customer's words, all from the helpdesk's API: every customer message in
    order (the first is the description where the helpdesk has one), else the description."""
    parts = [m.text for m in messages if m.text] or [ticket.description]
    return ticket.subject, "\n\n".join(p for p in parts if p)


def known_facts(ticket: Ticket, classification: Classification) -> dict[str, str]:
    """What the first message names, and the requester's email as the helpdesk records it (never a
    webhook body's: a notification is only a pointer)."""
    facts = {k: v for k, v in classification.facts.items() if v}
    if ticket.requester_email:
        facts["email"] = ticket.requester_email
    return facts


def flow_context(
    event: TicketEvent, ticket: Ticket, subject: str, text: str, facts: dict[str, str]
) -> dict[str, Any]:
    """The `$customer`, `$ticket`, `$brand` and `$facts` a policy reads; kept for later turns."""
    name = ticket.requester_name or ""
    requester = ticket.requester_email  # the helpdesk's own record, never a webhook body or ticket text
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
