"""The deterministic flow engine: runs a policy's `## Flow` steps until it must wait, ends or hands off.

Deterministic and resumable by construction:
- All state lives in a `PolicyState` the worker saves in the conversation; the engine works on a copy
  and returns the new state, so a run that crashed half-way can be repeated from the saved one.
- Every outside effect goes through `PolicyPort` with a step key built from (policy, step, visit), and
  visits are counted in the state. The same saved state and the same customer message therefore
  produce the same calls under the same keys, which the worker's action ledger turns into no-ops.
- Nothing reads the clock except through `port.today` / `context.today`.

Failure policy: a non-retryable platform error, a guard violation, a broken step or a customer we
could not understand twice all end in a hand-off with a reason, never in a stuck ticket. Retryable
platform errors propagate so the worker retries the whole task later.

Tools are called only through policies.engines.guards.GuardedTools, the same path the agent engine uses, so
the guards hold whichever engine runs a policy. A write is authorised by the customer's yes to an
`ask` step of type yes_no that carries `confirms: {tool: <name>, args: {...}}` (the same argument
expressions as the call step); a refused write hands off with "refused: <reason>".
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from connectors.errors import NotFound, PlatformError
from connectors.tools import ToolRegistry
from policies.document.library import PolicyLibrary
from policies.document.loader import PolicyDocument, Step, macro_name
from policies.engines.guards import GuardedTools, ToolRefused
from policies.engines.runtime import FlowContext, Frame, Handoff, PolicyPort, PolicyState, step_key
from policies.language.expressions import (
    ExpressionError,
    compile_expression,
    format_value,
    lookup,
    render_template,
)
from policies.understanding import REQUEST_WORDS as INTENT_WORDS
from policies.understanding import (
    SLOT_TYPES,
    Confirmation,
    Question,
    Reader,
    Reading,
    Understanding,
    default_reader,
    language_name,
)
from policies.understanding.choices import by_words, option_label, pick_options
from policies.understanding.extract import extract_email
from policies.understanding.local import LocalReader

__all__ = [
    "FlowEngine",
    "MAX_STEPS_PER_RUN",
    "MAX_POLICY_DEPTH",
    "PERSON_REQUESTED",
    "branch_arms",
    "slot_kind",
]

log = logging.getLogger(__name__)

MAX_STEPS_PER_RUN = 200  # a flow that loops without asking the customer anything is a broken flow
MAX_POLICY_DEPTH = 5
DEFAULT_TRIES = 2  # ask, re-ask once, then a person takes over
_WHOLE_VARIABLE = re.compile(r"^\s*\$\{?([A-Za-z_]\w*(?:\.\w+)*)\}?\s*$")
_SAID_FACT = re.compile(r"^\s*\$\{?said\.(\w+)\}?\s*$")
_NAMES = re.compile(r"\$\{?([A-Za-z_]\w*(?:\.\w+)*)")
FALL_THROUGH = "no case held"
MAX_SHOWN = 60
PERSON_REQUESTED = "the customer asked to talk to a person"
# Requests that belong to a policy of their own; a reply asking for one the running policies do not do
# switches to a policy that does, or goes to a person.
SWITCHABLE = (
    "refund",
    "return",
    "replacement",
    "not_received",
    "cancel_order",
    "cancel_subscription",
    "skip_delivery",
    "pause_subscription",
    "where_is_order",
)
# Requests still open when a policy ends: said plainly and left for a person (informational ones, such as
# where the order is, are answered along the way).
LEFTOVER = (
    "refund",
    "return",
    "replacement",
    "cancel_order",
    "cancel_subscription",
    "skip_delivery",
    "pause_subscription",
    "change_address",
)
HOLDING_MACRO = "handing_over"
# How a re-ask explains what is needed, so it never repeats the first question word for word.
REASK_PREFACE = {
    "yes_no": "Sorry, I want to be sure I get this right, so I need a plain yes or no.",
    "choice": "Sorry, I couldn't tell which one you mean.",
    "items": "Sorry, I couldn't tell which items you mean.",
    "email": "Sorry, I couldn't find an email address in your message.",
    "order_number": "Sorry, I couldn't find an order number in your message.",
    "text": "Sorry, I didn't catch that.",
}
QUALIFIED_PREFACE = (
    "I can only go ahead with exactly what I asked, so I need a plain yes or no; anything else you'd like "
    "is noted for a colleague."
)


class FlowError(Exception):
    """The policy itself is broken at this step (the linter should have caught it)."""


def branch_arms(step: Step) -> list[tuple[str, str | None]]:
    """Every way out of a branch step, in order, as (condition, target): `if` cases, then `else`, or,
    when no `else` closes it, (FALL_THROUGH, None) for going on to the next step. The engine takes
    them in this order and a try-out's coverage counts them by their place in this list."""
    arms: list[tuple[str, str | None]] = []
    for case in step.value if isinstance(step.value, list) else []:
        if not isinstance(case, Mapping):
            raise FlowError(f"branch {step.id!r} has a case that is not 'if/goto'")
        if "if" in case:
            arms.append((str(case["if"]), str(case.get("goto") or case.get("then"))))
        elif "else" in case:
            arms.append(("else", str(case["else"])))
            return arms
    arms.append((FALL_THROUGH, None))
    return arms


def slot_kind(step: Step) -> str:
    """The slot type an ask step extracts: its `type`, or the slot's own name when that is a type."""
    kind = step.data.get("type")
    if kind:
        return str(kind)
    return str(step.value) if step.value in SLOT_TYPES else "text"


class FlowEngine:
    def __init__(self, library: PolicyLibrary, registry: ToolRegistry, reader: Reader | None = None):
        self.library = library
        self.registry = registry
        self.reader = reader or default_reader()  # Claude when configured, else the local reader

    def start(
        self,
        state: PolicyState | None,
        policy_id: str,
        context: FlowContext | Mapping[str, Any] | None,
        port: PolicyPort,
    ) -> PolicyState:
        """Begin `policy_id` (keeping slots already known) and run until it waits, ends or hands off."""
        state = (state or PolicyState()).copy()
        run = _Run(self, state, FlowContext.of(context), port)
        doc = self.library.find(policy_id)
        state.stack = []
        state.status = "active"
        state.waiting_for = None
        if doc is None or not doc.flow or not doc.ok:
            why = "no such policy" if doc is None else "it has no runnable flow"
            state.stack = [Frame(doc.id if doc else policy_id, None)]
            run.hand_off_now(f"policy {policy_id!r} cannot run: {why}", "start")
            return state
        state.stack = [Frame(doc.id, doc.flow[0].id)]
        if not state.understood:  # the opener counts like any other turn
            run.understand(str(run.base["ticket"].get("text") or ""), None)
        if run.memory.namespace()["human"]:
            run.hand_off_now(PERSON_REQUESTED, "person", macro_text=run.holding_text())
            return state
        if run.unreadable(run.memory.language):
            return state
        run.loop()
        return state

    def resume(
        self,
        state: PolicyState,
        customer_message: str,
        context: FlowContext | Mapping[str, Any] | None,
        port: PolicyPort,
        reading: Reading | None = None,
    ) -> PolicyState:
        """Continue a waiting flow with the customer's reply (read by the understanding layer unless
        `reading` is given). A request for a person hands off at once. A finished flow is returned
        unchanged."""
        state = state.copy()
        if state.finished or not state.stack:
            return state
        run = _Run(self, state, FlowContext.of(context), port)
        if state.status == "waiting":
            try:
                step = run.current_step()
                reading = reading if reading is not None else run.read(customer_message or "", step)
                run.understand(customer_message or "", reading)
                if reading.wants_person:
                    run.hand_off_now(PERSON_REQUESTED, "person", macro_text=run.holding_text())
                    return state
                if run.unreadable(reading.language):
                    return state
                run.answer(customer_message or "", reading)
            except FlowError as exc:  # a saved cursor that no longer exists (the policy was edited)
                run.hand_off_now(f"the policy could not continue: {exc}", "error")
        run.loop()
        return state

    def question(
        self, state: PolicyState, context: FlowContext | Mapping[str, Any] | None, port: PolicyPort
    ) -> Question:
        """What the waiting flow asked, so the customer's reply can be read against it."""
        run = _Run(self, state.copy(), FlowContext.of(context), port)
        try:
            return run.question(run.current_step()) if state.status == "waiting" else Question.open()
        except FlowError:
            return Question.open()


class _Run:
    """One engine run over one state; holds what every step needs."""

    def __init__(self, engine: FlowEngine, state: PolicyState, context: FlowContext, port: PolicyPort):
        self.engine = engine
        self.state = state
        self.context = context
        self.port = port
        today = context.today or getattr(port, "today", None) or date.today()
        self.today = today
        self.base = context.as_namespace(today)
        self.memory = Understanding.from_dict(state.understood)

    # -- helpers ---------------------------------------------------------------------------------

    def namespace(self, **extra: Any) -> dict[str, Any]:
        names: dict[str, Any] = {**self.state.saved, **self.state.slots}
        names.update(self.base)  # context roots cannot be shadowed by a flow's names
        names["said"] = self.memory.namespace()
        names.update(extra)
        return names

    def frame(self) -> Frame:
        return self.state.stack[-1]

    def doc(self) -> PolicyDocument:
        doc = self.engine.library.get(self.frame().policy)
        if doc is None or doc.flow is None:
            raise FlowError(f"policy {self.frame().policy!r} is not in the library")
        return doc

    def current_step(self) -> Step | None:
        step_id = self.frame().step
        if step_id is None:
            return None
        step = self.doc().step(step_id)
        if step is None:
            raise FlowError(f"step {step_id!r} does not exist")
        return step

    def visit(self, step_id: str) -> str:
        """Count a visit and return its step key; the count is saved, so a replay reuses it."""
        counter = f"{self.frame().policy}/{step_id}"
        self.state.visits[counter] = self.state.visits.get(counter, 0) + 1
        return step_key(self.frame().policy, step_id, self.state.visits[counter])

    def advance(self, step: Step) -> None:
        target = step.data.get("next")
        if target is not None:
            self.goto(str(target))
            return
        following = self.doc().next_step(step.id)
        self.frame().step = following.id if following else None

    def goto(self, step_id: str) -> None:
        if self.doc().step(step_id) is None:
            raise FlowError(f"step {step_id!r} does not exist")
        self.frame().step = step_id

    def macro(self, name: Any, **extra: Any) -> str:
        """A reply by name: the running policy's own, else the nearest calling policy's own (so a
        building block speaks in its caller's words), else the shared one (policies/library/replies.md)."""
        key = macro_name(str(name))
        docs = [self.engine.library.get(frame.policy) for frame in reversed(self.state.stack)]
        own = (
            doc.macros[key]
            for doc in docs
            if doc is not None and key in doc.macros and key not in doc.inherited
        )
        macro = next(own, None) or self.doc().macros.get(key)
        if macro is None:
            raise FlowError(f"macro {name!r} is not defined")
        return render_template(macro.text, self.namespace(**extra)).strip()

    def expression(self, source: Any, **extra: Any) -> Any:
        try:
            return compile_expression(source).evaluate(self.namespace(**extra))
        except ExpressionError as exc:
            raise FlowError(str(exc)) from None

    def value(self, raw: Any) -> Any:
        """A tool argument: `$order.id` keeps its type, text with placeholders is filled in."""
        if isinstance(raw, str):
            whole = _WHOLE_VARIABLE.match(raw)
            if whole:
                return lookup(self.namespace(), whole.group(1))
            if "$" in raw:
                return render_template(raw, self.namespace())
        return raw

    def note(self, line: str) -> None:
        self.state.checked.append(line[:300])

    # -- the loop --------------------------------------------------------------------------------

    def loop(self) -> None:
        budget = MAX_STEPS_PER_RUN
        while self.state.status == "active" and self.state.stack:
            budget -= 1
            if budget < 0:
                self.hand_off_now("the policy went round in circles without reaching an answer", "loop")
                return
            try:
                step = self.current_step()
                if step is None:
                    self.finish_policy()
                    continue
                policy = self.frame().policy
                getattr(self, f"do_{step.action}")(step)
                if step.action != "branch":  # a branch says itself which way it went
                    self.took(policy, step, **self.step_outcome(step))
            except FlowError as exc:
                log.warning("policy %s broken at step %s: %s", self.frame().policy, self.frame().step, exc)
                self.hand_off_now(f"the policy could not continue: {exc}", "error")

    def took(self, policy: str, step: Step, **detail: Any) -> None:
        """Tell a port that keeps a trace (a try-out's) which step ran and where it led; a worker's
        port has no such witness, so nothing changes for live tickets."""
        witness = getattr(self.port, "step_taken", None)
        if not callable(witness):
            return
        visit = max(1, self.state.visits.get(f"{policy}/{step.id}", 0))
        witness(
            step_key(policy, step.id, visit),
            {"policy": policy, "step_id": step.id, "action": step.action, **detail},
        )

    def step_outcome(self, step: Step) -> dict[str, Any]:
        """Where a step led: the step now current (or the status), and for a question whether it was
        asked or already known."""
        detail: dict[str, Any] = {"status": self.state.status}
        if not self.state.stack:
            return detail
        detail["to"] = self.frame().step
        if step.action == "ask":
            counter = f"{self.frame().policy}/{step.id}"
            if self.state.status == "waiting" and self.frame().step == step.id:
                detail["outcome"] = "asked" if self.state.asks.get(counter, 0) <= 1 else "asked again"
            elif self.state.status == "active" and self.state.slots.get(str(step.value)) is not None:
                detail["outcome"] = "already known"
            else:
                detail["outcome"] = "gave up"
        return detail

    def names_in(self, condition: str) -> dict[str, str]:
        """The values a condition read, shortened: why it held or not."""
        names = self.namespace()
        shown = {}
        for name in dict.fromkeys(_NAMES.findall(condition)):
            value = lookup(names, name)
            if isinstance(value, Mapping):
                text = "a record" if value else "empty"
            elif isinstance(value, list | tuple):
                text = f"a list of {len(value)}" if value else "empty"
            else:
                text = format_value(value) if value is not None else "not set"
            shown[name] = text[:MAX_SHOWN]
        return shown

    def finish_policy(self, key: str | None = None) -> None:
        """The innermost policy ended: return to its caller, the next of several things the customer
        chose, a person for what is left, or resolve the ticket."""
        if len(self.state.stack) > 1:
            self.state.stack.pop()
            return
        if self.next_target():
            return
        left = self.left_for_a_person()
        if left:
            wanted = ", ".join(INTENT_WORDS[i] for i in left)
            self.hand_off_now(
                f"the customer also asked for {wanted}, which this policy does not do",
                "also",
                macro_text=f"You also asked for {wanted}: I've passed that to a colleague, who will get "
                "back to you about it shortly.",
            )
            return
        key = key or self.visit("_end")
        self.port.resolve(key)
        self.state.status = "resolved"
        self.state.outcome = "resolved"
        self.state.waiting_for = None

    def next_target(self) -> bool:
        """Run the steps after a `several: true` question again for the next thing chosen ("both")."""
        queue = self.state.queue
        rest = list(queue.get("rest") or [])
        doc = self.engine.library.get(str(queue.get("policy") or ""))
        step = doc.step(str(queue.get("step"))) if doc else None
        if not rest or doc is None or step is None:
            self.state.queue = {}
            return False
        option, queue["rest"] = rest[0], rest[1:]
        snapshot = queue.get("snapshot") or {}
        self.state.slots = copy.deepcopy(snapshot.get("slots") or {})
        self.state.saved = copy.deepcopy(snapshot.get("saved") or {})
        self.state.asks = dict(snapshot.get("asks") or {})
        self.state.slots[str(queue.get("slot"))] = option
        callers = [Frame(str(f.get("policy")), f.get("step")) for f in queue.get("callers") or []]
        self.state.stack = [*callers, Frame(doc.id, step.id)]  # a building block's caller resumes after it
        self.note(f"next, as the customer asked: {option_label(option)}")
        self.advance(step)
        return True

    def queue_rest(self, step: Step, rest: list[Any]) -> None:
        """Several options chosen at once: the first now, the others once it is done."""
        self.state.queue = {
            "policy": self.frame().policy,
            "step": step.id,
            "slot": str(step.value),
            "callers": [frame.to_dict() for frame in self.state.stack[:-1]],
            "rest": copy.deepcopy(rest),
            "snapshot": copy.deepcopy(
                {"slots": self.state.slots, "saved": self.state.saved, "asks": self.state.asks}
            ),
        }
        self.note(f"the customer chose several; after this one: {', '.join(option_label(o) for o in rest)}")

    def left_for_a_person(self) -> list[str]:
        """Requests the customer made that no policy that ran here does."""
        ran = {key.split("/", 1)[0] for key in self.state.visits}
        served = {i for policy in ran for i in self.served_by(policy)}
        return [i for i in self.memory.unhandled(sorted(served)) if i in LEFTOVER]

    def hand_off_now(self, reason: str, where: str, *, key: str | None = None, macro_text: str = "") -> None:
        rest = self.state.queue.get("rest") if self.state.queue else None
        if rest:
            reason = f"{reason}; also asked about {', '.join(option_label(o) for o in rest)}"
            self.state.queue = {}
        if key is None:
            key = self.visit(f"_handoff_{where}")
        if macro_text:
            self.port.reply(key, macro_text)
        wants = self.wants()
        subject = str(self.base["ticket"].get("subject") or "").strip()
        if subject:
            wants = f'{wants} (ticket: "{subject[:80]}")'
        checked = "; ".join(self.state.checked[-8:]) or "nothing was looked up yet"
        self.port.hand_off(key, Handoff(wants=wants, checked=checked, reason=reason[:300]))
        self.state.status = "handed_off"
        self.state.outcome = reason[:300]
        self.state.waiting_for = None

    def wants(self) -> str:
        """What the customer wants, for the hand-off note: the innermost policy on the stack that says
        (a building block such as #Verify Customer has no description, so its caller's is used)."""
        docs = [self.engine.library.get(frame.policy) for frame in reversed(self.state.stack)]
        described = next((doc for doc in docs if doc is not None and doc.description), None)
        fallback = next((doc for doc in docs if doc is not None), None)
        if described is not None:
            return described.description
        return fallback.title if fallback is not None else "help with their ticket"

    # -- steps -----------------------------------------------------------------------------------

    def do_goto(self, step: Step) -> None:
        self.visit(step.id)
        self.goto(str(step.value))

    def do_reply(self, step: Step) -> None:
        key = self.visit(step.id)
        self.port.reply(key, self.macro(step.value))
        self.advance(step)

    def do_end(self, step: Step) -> None:
        key = self.visit(step.id)
        if step.data.get("macro"):
            self.port.reply(key, self.macro(step.data["macro"]))
        self.finish_policy(key)
        if self.state.status == "active":  # returned to a calling policy
            return

    def do_handoff(self, step: Step) -> None:
        key = self.visit(step.id)
        reason = render_template(str(step.value or "handed off by the policy"), self.namespace()).strip()
        text = self.macro(step.data["macro"]) if step.data.get("macro") else ""
        self.hand_off_now(reason, step.id, key=key, macro_text=text)

    def do_branch(self, step: Step) -> None:
        self.visit(step.id)
        policy = self.frame().policy
        arms = branch_arms(step)
        for arm, (condition, target) in enumerate(arms):
            if condition == FALL_THROUGH:
                self.advance(step)
            elif condition != "else" and not self.expression(condition):
                continue
            else:
                self.goto(str(target))
            held = [c for c, _ in arms[:arm] if c not in ("else", FALL_THROUGH)]
            self.took(
                policy,
                step,
                arm=arm,
                condition=condition,
                to=self.frame().step,
                values=self.names_in(" ".join([*held, condition])),
            )
            return

    def do_policy(self, step: Step) -> None:
        self.visit(step.id)
        target = self.engine.library.resolve_mention(str(step.value or ""))
        if target is None or not target.flow or not target.ok:
            raise FlowError(f"policy {step.value!r} cannot run (missing or without a flow)")
        if len(self.state.stack) >= MAX_POLICY_DEPTH:
            raise FlowError("policies call each other too deeply")
        arguments = step.data.get("with") or {}
        if not isinstance(arguments, Mapping):
            raise FlowError(f"step {step.id!r}: with must be 'name: value' pairs")
        for name, raw in arguments.items():  # a building block's arguments, readable as $name
            self.state.slots[str(name)] = self.value(raw)
        self.advance(step)  # where to come back to
        if target.description:  # a building block (no description of its own) is not worth a line
            self.note(f"switched to #{target.title}")
        self.state.stack.append(Frame(target.id, target.flow[0].id))

    def do_call(self, step: Step) -> None:
        key = self.visit(step.id)
        tool = self.engine.registry.resolve(str(step.value or ""))
        if tool is None:
            raise FlowError(f"tool @{step.value} is not available")
        args = self.arguments(step.data.get("args"), step.id)
        try:
            result = self.tools().call(key, tool.name, args)
        except ToolRefused as exc:
            self.note(f"@{tool.name}: refused")
            self.hand_off_now(f"refused: {exc.reason}", step.id, key=key)
            return
        except PlatformError as exc:
            if exc.retryable:
                raise
            if isinstance(exc, NotFound) and not tool.writes:
                result = None  # "no such customer/order" is an answer a flow branches on
            else:
                self.note(f"@{tool.name}: failed")
                self.hand_off_now(f"@{tool.name} failed: {exc}", step.id, key=key)
                return
        except (TypeError, ValueError, KeyError) as exc:
            log.warning("tool %s rejected its arguments: %s", tool.name, type(exc).__name__)
            self.hand_off_now(f"@{tool.name} could not be called with these arguments", step.id, key=key)
            return
        if step.data.get("save_as"):
            self.state.saved[str(step.data["save_as"])] = result
        self.note(f"@{tool.name}: {summarize(result)}")
        self.advance(step)

    def tools(self) -> GuardedTools:
        """The one way a flow calls a tool: the innermost policy's guards, the conversation's facts."""
        return GuardedTools(
            self.port,
            self.state.guard,
            self.doc().guards,
            self.engine.registry,
            requester_email=self.base["customer"].get("email"),
            context=self.base,
        )

    def arguments(self, raw_args: Any, step_id: str) -> dict[str, Any]:
        raw_args = raw_args or {}
        if not isinstance(raw_args, Mapping):
            raise FlowError(f"step {step_id!r}: args must be 'name: value' pairs")
        return {str(name): self.value(raw) for name, raw in raw_args.items()}

    def confirm(self, step: Step, verdict: Confirmation) -> bool:
        """The customer's reply to a question that names a write: that exact call may run once, if the
        guards accept the understanding layer's verdict as a plain yes to that very tool.

        The arguments are evaluated now, from the same names the call step will read, so a call whose
        arguments changed in between (another order, a bigger discount) is not the one confirmed."""
        tool = self.confirmed_tool(step)
        form = self.tools().confirm(tool, self.arguments(step.data["confirms"].get("args"), step.id), verdict)
        if form is not None:
            self.note(f"customer confirmed @{tool}")
        return form is not None

    def confirmed_tool(self, step: Step) -> str:
        spec = step.data.get("confirms")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("tool"), str):
            raise FlowError(f"step {step.id!r}: confirms needs 'tool: <name>' and 'args: {{...}}'")
        tool = self.engine.registry.resolve(spec["tool"])
        if tool is None:
            raise FlowError(f"step {step.id!r}: confirms names an unknown tool @{spec['tool']}")
        return tool.name

    # -- understanding ---------------------------------------------------------------------------

    def read(self, message: str, step: Step | None) -> Reading:
        return self.engine.reader.read(message, self.question(step))

    def understand(self, message: str, reading: Reading | None) -> Reading:
        """Fold one customer message into what the conversation knows (`$said`)."""
        reading = (
            reading
            if reading is not None
            else self.engine.reader.read(message, Question.open(str(self.today)))
        )
        self.memory.add(reading, message)
        self.state.understood = self.memory.to_dict()
        return reading

    def question(self, step: Step | None) -> Question:
        """The pending ask step as a Question: its kind, options, the fact it is about, the write it names."""
        if step is None or step.action != "ask":
            return Question.open(str(self.today))
        kind = slot_kind(step)
        options = tuple(self.options(step)) if kind in ("choice", "items") else ()
        show = step.data.get("show")
        topic = _SAID_FACT.match(str(step.data.get("prefill") or ""))
        action = self.confirmed_tool(step) if "confirms" in step.data else None
        macro = step.data.get("macro")
        try:
            text = self.macro(macro, choices=self.choices_text(step)) if macro else ""
        except FlowError:
            text = ""
        return Question(
            kind,  # type: ignore[arg-type]
            text,
            options=options,
            labels=tuple(option_label(o, show) for o in options),
            topic=topic.group(1) if topic else None,
            action=action,
            today=str(self.today),
        )

    def redirect(self, reading: Reading) -> bool:
        """The reply asks for something none of the running policies does: switch to a policy they refer
        to that does it (#Refund Policy), or hand off with the reason. True when it did either."""
        served = {i for frame in self.state.stack for i in self.served_by(frame.policy)}
        wanted = [i for i in reading.intents if i in SWITCHABLE and i not in served]
        if not wanted:
            return False
        intent = wanted[0]
        target = self.policy_serving(intent)
        if target is not None:
            self.note(f"the customer wants {INTENT_WORDS[intent]}: switched to #{target.title}")
            self.state.stack[-1] = Frame(target.id, target.flow[0].id if target.flow else None)
            return True
        policy = self.engine.library.get(self.frame().policy)
        title = policy.title if policy else "this policy"
        self.hand_off_now(
            f"the customer asked for {INTENT_WORDS[intent]}, which {title} does not do",
            "redirect",
            macro_text=self.holding_text(),
        )
        return True

    def served_by(self, policy_id: str) -> list[str]:
        doc = self.engine.library.get(policy_id)
        return list(doc.serves) if doc else []

    def policy_serving(self, intent: str) -> PolicyDocument | None:
        """A runnable policy that one on the stack refers to (#mention) and that does what is wanted."""
        for frame in reversed(self.state.stack):
            doc = self.engine.library.get(frame.policy)
            for reference in doc.references if doc else ():
                if reference.kind != "policy":
                    continue
                target = self.engine.library.resolve_mention(reference.name)
                if target and target.flow and target.ok and intent in target.serves:
                    return target
        return None

    def unreadable(self, language: str | None) -> bool:
        """A message in a language the local reader does not read: a person answers it, never an English
        reply to words the bot did not understand. (With Claude the reader reads it and the worker
        translates the replies.)"""
        if not language or language == "en" or self.engine.reader.name != "local":
            return False
        self.hand_off_now(
            f"the customer writes in {language_name(language)}, which the offline reader does not read",
            "language",
        )
        return True

    def holding_text(self) -> str:
        """The policy's holding reply for a hand-off, when it has one."""
        doc = self.engine.library.get(self.frame().policy) if self.state.stack else None
        if doc is None or macro_name(HOLDING_MACRO) not in doc.macros:
            return ""
        try:
            return self.macro(HOLDING_MACRO)
        except FlowError:
            return ""

    # -- asking ----------------------------------------------------------------------------------

    def do_ask(self, step: Step) -> None:
        slot = str(step.value)
        kind = slot_kind(step)
        # A question that confirms a write is always asked: a yes given earlier, or words in the
        # ticket ("I confirm"), must not stand in for the customer's answer to this question.
        again = bool(step.data.get("again")) or "confirms" in step.data
        counter = f"{self.frame().policy}/{step.id}"
        asked = self.state.asks.get(counter, 0)
        if not again:
            if self.state.slots.get(slot) is not None:
                self.advance(step)
                return
            known = self.prefilled(step, kind)
            if known is not None:
                self.state.slots[slot] = known
                self.note(f"{slot.replace('_', ' ')} already known: {describe_slot(kind, known)}")
                self.advance(step)
                return
        if kind in ("choice", "items") and not self.options(step):
            self.fail_ask(step, "there was nothing to choose from")
            return
        if asked >= self.tries(step):
            self.fail_ask(
                step, f"the customer was asked for {slot.replace('_', ' ')} and it did not work out"
            )
            return
        self.ask(step, first=asked == 0)

    def tries(self, step: Step) -> int:
        tries = step.data.get("tries", DEFAULT_TRIES)
        return (
            tries if isinstance(tries, int) and not isinstance(tries, bool) and tries > 0 else DEFAULT_TRIES
        )

    def choices_text(self, step: Step) -> str:
        if slot_kind(step) not in ("choice", "items"):
            return ""
        show = step.data.get("show")
        return "\n".join(f"{i}. {option_label(o, show)}" for i, o in enumerate(self.options(step), start=1))

    def ask(self, step: Step, *, first: bool, preface: str = "") -> None:
        key = self.visit(step.id)
        counter = f"{self.frame().policy}/{step.id}"
        self.state.asks[counter] = self.state.asks.get(counter, 0) + 1
        reask = step.data.get("reask_macro")
        macro = step.data.get("macro") if first else (reask or step.data.get("macro"))
        if macro:
            text = self.macro(macro, choices=self.choices_text(step))
            if not first and (preface or not reask):  # a re-ask always explains itself differently
                text = f"{preface or REASK_PREFACE.get(slot_kind(step), REASK_PREFACE['text'])}\n\n{text}"
            self.port.reply(key, text)
        if (step.data.get("again") or "confirms" in step.data) and first:
            self.state.slots.pop(str(step.value), None)
        self.state.status = "waiting"
        self.state.waiting_for = str(step.value)

    def answer(self, message: str, reading: Reading) -> None:
        """The awaited slot from the reading of the customer's reply; re-ask once, then hand off."""
        step = self.current_step()
        if step is None or step.action != "ask":
            self.state.status = "active"
            return
        kind = slot_kind(step)
        self.state.status = "active"
        self.state.waiting_for = None
        value = self.value_from(step, kind, message, reading)
        declined_for_another = reading.answer == "no" and "other_action" in reading.qualifiers
        if (value is None or declined_for_another) and self.redirect(reading):
            return
        if value is None and "changed_detail" in reading.qualifiers and step.data.get("on_change"):
            self.note(f"the customer changed a detail in answer to {str(step.value).replace('_', ' ')}")
            self.visit(step.id)
            self.goto(str(step.data["on_change"]))
            return
        if value is not None:
            self.state.slots[str(step.value)] = value
            self.note(f"customer gave {str(step.value).replace('_', ' ')}: {describe_slot(kind, value)}")
            if kind == "choice" and isinstance(
                value, str
            ):  # "arrived damaged" picked is "arrived damaged" said
                self.memory.add(LocalReader().read(value), "")
                self.state.understood = self.memory.to_dict()
            confirming = "confirms" in step.data and kind == "yes_no" and value is True
            if confirming and not self.confirm(step, Confirmation.of(reading, self.confirmed_tool(step))):
                self.state.slots[str(step.value)] = None  # the guards did not take it as a plain yes
                self.retry(step, reading)
                return
            self.advance(step)
            return
        self.retry(step, reading)

    def retry(self, step: Step, reading: Reading) -> None:
        counter = f"{self.frame().policy}/{step.id}"
        if self.state.asks.get(counter, 0) < self.tries(step):
            preface = QUALIFIED_PREFACE if reading.answer == "yes" and reading.qualifiers else ""
            self.ask(step, first=False, preface=preface)
        else:
            self.fail_ask(step, f"could not understand the customer's {str(step.value).replace('_', ' ')}")

    def value_from(self, step: Step, kind: str, message: str, reading: Reading) -> Any:
        """What the reply gives for this step, or None when it does not answer it clearly."""
        if kind == "yes_no":
            if reading.plain_yes:
                return True
            return False if reading.answer == "no" else None
        if kind == "email":
            return reading.email
        if kind == "order_number":
            return reading.order_numbers[0] if len(reading.order_numbers) == 1 else None
        if kind == "choice":
            options = self.options(step)
            picks = [p for p in reading.picks if 0 <= p < len(options)]
            if not picks:
                return None
            if len(picks) > 1:
                if not step.data.get("several"):
                    return None  # two orders for a question about one: ask again
                self.queue_rest(step, [options[p] for p in picks[1:]])
            return options[picks[0]]
        if kind == "items":
            return self.items_value(self.options(step), {p: reading.quantities.get(p) for p in reading.picks})
        text = message.strip()
        return text[:1000] if text else None

    def items_value(self, items: list[Any], named: Mapping[int, int | None]) -> list[dict[str, Any]] | None:
        """Order lines to act on, each with the quantity meant; None when a quantity is unclear."""
        chosen = []
        for index, quantity in sorted(named.items()):
            if not 0 <= index < len(items) or not isinstance(items[index], Mapping):
                continue
            item = dict(items[index])
            given = item.get("quantity")
            ordered: int = given if isinstance(given, int) else 1
            if quantity is None:
                if ordered != 1:
                    return None  # "the mug" of two mugs: how many?
                quantity = 1
            if not 0 < quantity <= ordered:
                return None
            item["quantity"] = quantity
            chosen.append(item)
        return chosen or None

    def fail_ask(self, step: Step, reason: str) -> None:
        target = step.data.get("on_fail")
        if target:
            self.visit(step.id)
            self.goto(str(target))
            return
        self.hand_off_now(reason, step.id, key=self.visit(step.id), macro_text=self.holding_text())

    def options(self, step: Step) -> list[Any]:
        source = step.data.get("from")
        if source is None:
            return []
        value = self.expression(source)
        return list(value) if isinstance(value, list | tuple) else []

    def prefilled(self, step: Step, kind: str) -> Any:
        """A slot value already known from any turn: the requester's email, an order the customer named,
        a fact they stated (`prefill: $said.received`), the items they said were damaged."""
        prefill = step.data.get("prefill")
        if prefill is False:
            return None
        candidate = self.expression(prefill) if prefill not in (None, True) else None
        said = self.memory
        if kind == "email":
            requester = self.base["customer"].get("email")
            sources = (candidate, requester, said.email, self.base["facts"].get("email"))
            for value in sources:
                email = extract_email(str(value)) if value else None
                if email:
                    return email
            return None
        if kind == "order_number":
            for value in (candidate, said.order_number, self.base["facts"].get("order_number")):
                if value:
                    return str(value).lstrip("#")
            return None
        if kind == "choice":
            return self.known_choice(step, candidate)
        if kind == "items":
            if isinstance(candidate, list):
                return candidate or None
            items = self.options(step)
            single = (
                len(items) == 1 and isinstance(items[0], Mapping) and items[0].get("quantity") in (1, None)
            )
            return self.items_value(items, {0: 1} if single else said.items_of(items))
        return candidate

    def known_choice(self, step: Step, candidate: Any) -> Any:
        options = self.options(step)
        if len(options) == 1:
            return options[0]
        if candidate is not None and candidate in options:
            return candidate
        numbers = [candidate] if candidate else []
        numbers += self.memory.order_numbers or [self.base["facts"].get("order_number")]
        named = [n for n in numbers if n]
        if named:
            picks = pick_options(" ".join(f"#{str(n).lstrip('#')}" for n in named), options)
            if picks:
                if len(picks) > 1 and step.data.get("several"):
                    self.queue_rest(step, [options[p] for p in picks[1:]])
                return options[picks[0]]
        show = step.data.get("show")
        worded = {p for text in self.memory.texts for p in by_words(text, options, show)}
        return options[worded.pop()] if len(worded) == 1 else None  # "the oat milk creamer"


def describe_slot(kind: str, value: Any) -> str:
    """A handoff-note line without personal data: emails are not repeated, orders by number."""
    if kind == "email":
        return "an email address"
    if kind == "yes_no":
        return "yes" if value else "no"
    if kind == "choice":
        return option_label(value)
    if kind == "items":
        return format_value(value)[:120]
    return str(value)[:60]


def summarize(result: Any) -> str:
    if result is None or result == [] or result == {}:
        return "nothing found"
    if isinstance(result, list):
        numbers = [f"#{r['number']}" for r in result if isinstance(r, Mapping) and r.get("number")]
        listed = f" ({', '.join(numbers[:5])})" if numbers else ""
        return f"{len(result)} found{listed}"
    if isinstance(result, Mapping):
        if result.get("number") and result.get("status"):
            return f"order #{result['number']} is {result['status']}"
        return "found"
    return "done"
