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

Tools are called only through policies.guards.GuardedTools, the same path the agent engine uses, so
the guards hold whichever engine runs a policy. A write is authorised by the customer's yes to an
`ask` step of type yes_no that carries `confirms: {tool: <name>, args: {...}}` (the same argument
expressions as the call step); a refused write hands off with "refused: <reason>".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from connectors.errors import NotFound, PlatformError
from connectors.tools import ToolRegistry
from policies.claude_slots import extract_slot  # Claude when ANTHROPIC_API_KEY is set, else offline
from policies.document import PolicyDocument, Step, macro_name
from policies.expressions import ExpressionError, compile_expression, lookup, render_template
from policies.extract import extract_email, extract_order_number
from policies.guards import GuardedTools, ToolRefused
from policies.library import PolicyLibrary
from policies.runtime import FlowContext, Frame, Handoff, PolicyPort, PolicyState, step_key
from policies.slots import SLOT_TYPES, extract_choice, option_label

__all__ = ["FlowEngine", "MAX_STEPS_PER_RUN", "MAX_POLICY_DEPTH", "slot_kind"]

log = logging.getLogger(__name__)

MAX_STEPS_PER_RUN = 200  # a flow that loops without asking the customer anything is a broken flow
MAX_POLICY_DEPTH = 5
DEFAULT_TRIES = 2  # ask, re-ask once, then a person takes over
_WHOLE_VARIABLE = re.compile(r"^\s*\$\{?([A-Za-z_]\w*(?:\.\w+)*)\}?\s*$")


class FlowError(Exception):
    """The policy itself is broken at this step (the linter should have caught it)."""


def slot_kind(step: Step) -> str:
    """The slot type an ask step extracts: its `type`, or the slot's own name when that is a type."""
    kind = step.data.get("type")
    if kind:
        return str(kind)
    return str(step.value) if step.value in SLOT_TYPES else "text"


class FlowEngine:
    def __init__(self, library: PolicyLibrary, registry: ToolRegistry):
        self.library = library
        self.registry = registry

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
        run.loop()
        return state

    def resume(
        self,
        state: PolicyState,
        customer_message: str,
        context: FlowContext | Mapping[str, Any] | None,
        port: PolicyPort,
    ) -> PolicyState:
        """Continue a waiting flow with the customer's reply. A finished flow is returned unchanged."""
        state = state.copy()
        if state.finished or not state.stack:
            return state
        run = _Run(self, state, FlowContext.of(context), port)
        if state.status == "waiting":
            try:
                run.answer(customer_message or "")
            except FlowError as exc:  # a saved cursor that no longer exists (the policy was edited)
                run.hand_off_now(f"the policy could not continue: {exc}", "error")
        run.loop()
        return state


class _Run:
    """One engine run over one state; holds what every step needs."""

    def __init__(self, engine: FlowEngine, state: PolicyState, context: FlowContext, port: PolicyPort):
        self.engine = engine
        self.state = state
        self.context = context
        self.port = port
        today = context.today or getattr(port, "today", None) or date.today()
        self.base = context.as_namespace(today)

    # -- helpers ---------------------------------------------------------------------------------

    def namespace(self, **extra: Any) -> dict[str, Any]:
        names: dict[str, Any] = {**self.state.saved, **self.state.slots}
        names.update(self.base)  # context roots cannot be shadowed by a flow's names
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
        doc = self.doc()
        macro = doc.macros.get(macro_name(str(name)))
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
                getattr(self, f"do_{step.action}")(step)
            except FlowError as exc:
                log.warning("policy %s broken at step %s: %s", self.frame().policy, self.frame().step, exc)
                self.hand_off_now(f"the policy could not continue: {exc}", "error")

    def finish_policy(self, key: str | None = None) -> None:
        """The innermost policy ended: return to its caller, or resolve the ticket if it was the first."""
        if len(self.state.stack) > 1:
            self.state.stack.pop()
            return
        key = key or self.visit("_end")
        self.port.resolve(key)
        self.state.status = "resolved"
        self.state.outcome = "resolved"
        self.state.waiting_for = None

    def hand_off_now(self, reason: str, where: str, *, key: str | None = None, macro_text: str = "") -> None:
        if key is None:
            key = self.visit(f"_handoff_{where}")
        if macro_text:
            self.port.reply(key, macro_text)
        policy = self.engine.library.get(self.frame().policy) if self.state.stack else None
        wants = (policy.description or policy.title) if policy else "help with their ticket"
        subject = str(self.base["ticket"].get("subject") or "").strip()
        if subject:
            wants = f'{wants} (ticket: "{subject[:80]}")'
        checked = "; ".join(self.state.checked[-8:]) or "nothing was looked up yet"
        self.port.hand_off(key, Handoff(wants=wants, checked=checked, reason=reason[:300]))
        self.state.status = "handed_off"
        self.state.outcome = reason[:300]
        self.state.waiting_for = None

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
        cases = step.value if isinstance(step.value, list) else []
        for case in cases:
            if not isinstance(case, Mapping):
                raise FlowError(f"branch {step.id!r} has a case that is not 'if/goto'")
            if "if" in case:
                if self.expression(case["if"]):
                    self.goto(str(case.get("goto") or case.get("then")))
                    return
            elif "else" in case:
                self.goto(str(case["else"]))
                return
        self.advance(step)

    def do_policy(self, step: Step) -> None:
        self.visit(step.id)
        target = self.engine.library.resolve_mention(str(step.value or ""))
        if target is None or not target.flow or not target.ok:
            raise FlowError(f"policy {step.value!r} cannot run (missing or without a flow)")
        if len(self.state.stack) >= MAX_POLICY_DEPTH:
            raise FlowError("policies call each other too deeply")
        self.advance(step)  # where to come back to
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
        )

    def arguments(self, raw_args: Any, step_id: str) -> dict[str, Any]:
        raw_args = raw_args or {}
        if not isinstance(raw_args, Mapping):
            raise FlowError(f"step {step_id!r}: args must be 'name: value' pairs")
        return {str(name): self.value(raw) for name, raw in raw_args.items()}

    def confirm(self, step: Step) -> None:
        """The customer said yes to a question that names a write: that exact call may run once.

        The arguments are evaluated now, from the same names the call step will read, so a call whose
        arguments changed in between (another order, a bigger discount) is not the one confirmed."""
        spec = step.data.get("confirms")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("tool"), str):
            raise FlowError(f"step {step.id!r}: confirms needs 'tool: <name>' and 'args: {{...}}'")
        tool = self.engine.registry.resolve(spec["tool"])
        if tool is None:
            raise FlowError(f"step {step.id!r}: confirms names an unknown tool @{spec['tool']}")
        self.tools().confirm(tool.name, self.arguments(spec.get("args"), step.id))
        self.note(f"customer confirmed @{tool.name}")

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
                self.note(f"{slot} already known: {describe_slot(kind, known)}")
                self.advance(step)
                return
        if kind == "choice" and not self.options(step):
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

    def ask(self, step: Step, *, first: bool) -> None:
        key = self.visit(step.id)
        counter = f"{self.frame().policy}/{step.id}"
        self.state.asks[counter] = self.state.asks.get(counter, 0) + 1
        macro = step.data.get("macro") if first else (step.data.get("reask_macro") or step.data.get("macro"))
        extra: dict[str, Any] = {}
        if slot_kind(step) == "choice":
            show = step.data.get("show")
            extra["choices"] = "\n".join(
                f"{i}. {option_label(o, show)}" for i, o in enumerate(self.options(step), start=1)
            )
        if macro:
            self.port.reply(key, self.macro(macro, **extra))
        if (step.data.get("again") or "confirms" in step.data) and first:
            self.state.slots.pop(str(step.value), None)
        self.state.status = "waiting"
        self.state.waiting_for = str(step.value)

    def answer(self, message: str) -> None:
        """Read the awaited slot from the customer's reply; re-ask once, then hand off."""
        step = self.current_step()
        if step is None or step.action != "ask":
            self.state.status = "active"
            return
        kind = slot_kind(step)
        options = self.options(step) if kind == "choice" else []
        result = extract_slot(kind, message, options=options, show=step.data.get("show"))
        self.state.status = "active"
        self.state.waiting_for = None
        if result.found:
            self.state.slots[str(step.value)] = result.value
            self.note(
                f"customer gave {str(step.value).replace('_', ' ')}: {describe_slot(kind, result.value)}"
            )
            if "confirms" in step.data and kind == "yes_no" and result.value is True:
                self.confirm(step)
            self.advance(step)
            return
        counter = f"{self.frame().policy}/{step.id}"
        if self.state.asks.get(counter, 0) < self.tries(step):
            self.ask(step, first=False)
        else:
            self.fail_ask(step, f"could not understand the customer's {str(step.value).replace('_', ' ')}")

    def fail_ask(self, step: Step, reason: str) -> None:
        target = step.data.get("on_fail")
        if target:
            self.visit(step.id)
            self.goto(str(target))
            return
        self.hand_off_now(reason, step.id, key=self.visit(step.id))

    def options(self, step: Step) -> list[Any]:
        source = step.data.get("from")
        if source is None:
            return []
        value = self.expression(source)
        return list(value) if isinstance(value, list | tuple) else []

    def prefilled(self, step: Step, kind: str) -> Any:
        """A slot value known before asking: the requester's email, an order number in the first message."""
        prefill = step.data.get("prefill")
        if prefill is False:
            return None
        ticket_text = str(self.base["ticket"].get("text") or "")
        candidate = self.expression(prefill) if prefill not in (None, True) else None
        if kind == "email":
            sources = (
                candidate,
                self.base["customer"].get("email"),
                self.base["facts"].get("email"),
                ticket_text,
            )
            for value in sources:
                email = extract_email(str(value)) if value else None
                if email:
                    return email
            return None
        if kind == "order_number":
            for value in (candidate, self.base["facts"].get("order_number")):
                if value:
                    return str(value).lstrip("#")
            return extract_order_number(ticket_text)
        if kind == "choice":
            options = self.options(step)
            if len(options) == 1:
                return options[0]
            for value in (
                candidate,
                self.base["facts"].get("order_number"),
                extract_order_number(ticket_text),
            ):
                if value:
                    index = extract_choice(f"#{str(value).lstrip('#')}", options, show=step.data.get("show"))
                    if index is not None:
                        return options[index]
            return None
        return candidate


def describe_slot(kind: str, value: Any) -> str:
    """A handoff-note line without personal data: emails are not repeated, orders by number."""
    if kind == "email":
        return "an email address"
    if kind == "yes_no":
        return "yes" if value else "no"
    if kind == "choice":
        return option_label(value)
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
