"""The agent engine: Claude follows a policy's natural-language text with the policy's tools.

Same interface and the same safety as the flow engine (policies.engines.flow):
- `start(state, policy_id, context, port)` / `resume(state, message, context, port)` work on a copy of
  the saved `PolicyState` and return the new one; the conversation's message history, turn number,
  usage and refusals live in `PolicyState.agent` (JSON), so the next customer message resumes it.
- Every registry tool call goes through `policies.engines.guards.GuardedTools`, whoever asked for it. A
  refused
  call is given back to the model as an error tool_result; the second refusal in a conversation hands
  off. The model cannot authorise a write: it can only ask the customer a question that names the exact
  call (`reply_to_customer.confirms`); the customer's next message is read by the understanding layer
  (policies.understanding) against that question, and only its verdict, a plain yes to that very tool,
  reaches `GuardedTools.confirm`. A request for a person in any message hands off at once.
- Step keys come from the saved turn number and the step's index in the turn
  (`agent/<policy>/<turn>/<n>`), never from model output ids, so a re-run of a turn after a crash asks
  the worker's ledger for the same actions. A port that offers `remember(step_key, compute)` also
  records each model response under `agent/<policy>/<turn>/model-<n>`: a re-run then replays the same
  answers instead of asking the model again, and a reply cannot come out worded differently (which the
  ledger, keyed by the reply's text, would send a second time).
- Budgets end in a hand-off, never a loop: model calls per turn (POLICYDESK_AGENT_MAX_STEPS) and tokens
  per conversation (POLICYDESK_AGENT_MAX_TOKENS). Usage is kept in the state, logged per turn, and put
  in the hand-off note.
- The Messages API failing after connectors.claude's bounded retries raises `AgentUnavailable`; the
  caller (policies.engines.engine) then runs the policy's flow, or hands off when it has none.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import anthropic

from connectors.claude import ClaudeSettings, call_messages, claude_settings
from connectors.errors import NotFound, PlatformError
from connectors.tools import ToolRegistry
from policies.document.library import PolicyLibrary
from policies.document.loader import PolicyDocument
from policies.engines.agent_prompt import (
    HAND_OFF_TOOL,
    REPLY_TOOL,
    RESOLVE_TOOL,
    SWITCH_TOOL,
    Brand,
    Prompt,
    build_prompt,
    customer_message,
    leaks_instructions,
)
from policies.engines.flow import summarize
from policies.engines.guards import GuardedTools, ToolRefused
from policies.engines.runtime import FlowContext, Frame, Handoff, PolicyPort, PolicyState
from policies.language.expressions import render_template
from policies.understanding import Confirmation, Question, Reader, Reading, Understanding, default_reader

__all__ = [
    "AgentEngine",
    "AgentUnavailable",
    "agent_key",
    "hand_off_without_agent",
    "tokens_used",
    "usage_line",
]

log = logging.getLogger(__name__)

MAX_POLICY_DEPTH = 5
MAX_OUTPUT_TOKENS = 1024  # per model call: a reply or a few tool calls, never an essay
MAX_REFUSALS = 2  # the first is the model's to handle; the second means it keeps trying
MAX_RESULT_CHARS = 8000
HOLDING_MACRO = "handing_over"
HOLDING_TEXT = "Thanks for your patience. A colleague will pick up your request and get back to you shortly."
NUDGE = (
    "[policydesk] Nothing you wrote was sent. Talk to the customer only with reply_to_customer, or end "
    "with hand_off or resolve."
)
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PLACEHOLDER = re.compile(r"\$\{?[A-Za-z_][\w.]*")
LEAK = "the reply repeats the assistant's instructions"


class AgentUnavailable(Exception):
    """The Messages API could not answer (after connectors.claude's retries): run the flow or hand off."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def agent_key(policy: str, turn: int, step: int | str) -> str:
    """The ledger's handle on one agent action: stable for (policy, turn, step index) across re-runs."""
    return f"agent/{policy}/{turn}/{step}"


def tokens_used(memory: Mapping[str, Any]) -> int:
    usage = memory.get("usage") or {}
    return sum(int(usage.get(name) or 0) for name in USAGE_FIELDS)


def usage_line(memory: Mapping[str, Any]) -> str:
    usage = memory.get("usage") or {}
    calls = int(usage.get("calls") or 0)
    cached = int(usage.get("cache_read_input_tokens") or 0)
    return f"Claude: {calls} call(s), {tokens_used(memory):,} tokens ({cached:,} read from cache)"


def _scrub(text: Any, limit: int) -> str:
    """Model-written note text: bounded, and no email addresses in what humans and logs read."""
    return _EMAIL.sub("[email]", str(text or "")).strip()[:limit]


def _holding_text(doc: PolicyDocument | None, context: FlowContext, today: date) -> str:
    macro = doc.macros.get(HOLDING_MACRO) if doc else None
    if macro is None:
        return HOLDING_TEXT
    try:
        text = render_template(macro.text, context.as_namespace(today)).strip()
    except Exception:  # a macro that cannot be filled must not stop the hand-off
        return HOLDING_TEXT
    return text if text and "$" not in text else HOLDING_TEXT


def hand_off_without_agent(
    library: PolicyLibrary,
    state: PolicyState | None,
    policy_id: str,
    context: FlowContext | Mapping[str, Any] | None,
    port: PolicyPort,
    reason: str,
) -> PolicyState:
    """The policy needs Claude and Claude is not there (no key, API down) and it has no flow."""
    state = (state or PolicyState()).copy()
    context = FlowContext.of(context)
    today = context.today or getattr(port, "today", None) or date.today()
    doc = library.find(policy_id)
    policy = doc.id if doc else policy_id
    if not state.stack:
        state.stack = [Frame(policy, None)]
    turn = int(state.agent.get("turn") or 0) + 1
    key = agent_key(policy, turn, "unavailable")
    port.reply(key, _holding_text(doc, context, today))
    wants = (doc.description or doc.title) if doc else "help with their ticket"
    checked = "; ".join(state.checked[-8:]) or "nothing was looked up yet"
    port.hand_off(key, Handoff(wants=wants, checked=checked, reason=reason[:300]))
    state.status, state.outcome, state.waiting_for = "handed_off", reason[:300], None
    log.warning("agent unavailable policy=%s: handed off", policy)
    return state


class AgentEngine:
    def __init__(
        self,
        library: PolicyLibrary,
        registry: ToolRegistry,
        client: anthropic.Anthropic,
        *,
        settings: ClaudeSettings | None = None,
        env: Mapping[str, str] = os.environ,
        reader: Reader | None = None,
    ):
        self.library = library
        self.registry = registry
        self.client = client
        self.settings = settings or claude_settings(env)
        self.env = env
        self.reader = reader or default_reader()

    @staticmethod
    def running(state: PolicyState | None) -> bool:
        """True when this conversation is the agent's (its history is in the state)."""
        return bool(state and state.agent.get("messages"))

    def start(
        self,
        state: PolicyState | None,
        policy_id: str,
        context: FlowContext | Mapping[str, Any] | None,
        port: PolicyPort,
    ) -> PolicyState:
        """Begin `policy_id` on the ticket's first message; run until a reply, a hand-off or the end."""
        state = (state or PolicyState()).copy()
        context = FlowContext.of(context)
        doc = self.library.find(policy_id)
        state.stack = [Frame(doc.id if doc else policy_id, None)]
        state.status, state.waiting_for, state.outcome = "active", None, None
        state.agent = {"engine": "agent", "turn": 0, "messages": [], "usage": {}, "refusals": 0}
        turn = _Turn(self, state, context, port)
        if doc is None or not doc.ok:
            turn.hand_off(
                f"policy {policy_id!r} cannot run: {'no such policy' if doc is None else 'it has errors'}"
            )
            return state
        text = str(context.ticket.get("text") or "")
        if turn.understand(text, None).wants_person:
            turn.hand_off("the customer asked to talk to a person")
            return state
        turn.run([{"type": "text", "text": customer_message(text, str(context.ticket.get("subject") or ""))}])
        return state

    def question(self, state: PolicyState) -> Question:
        """What the agent asked, as far as it matters for reading the reply: the write it named."""
        pending = state.agent.get("pending_confirmation")
        if isinstance(pending, Mapping) and pending.get("tool"):
            return Question("yes_no", str(pending.get("question") or ""), action=str(pending["tool"]))
        return Question.open()

    def resume(
        self,
        state: PolicyState,
        customer_message_text: str,
        context: FlowContext | Mapping[str, Any] | None,
        port: PolicyPort,
        reading: Reading | None = None,
    ) -> PolicyState:
        """Continue the conversation with the customer's answer. A finished one is returned unchanged."""
        state = state.copy()
        if state.finished or not self.running(state) or not state.stack:
            return state
        state.status, state.waiting_for = "active", None
        turn = _Turn(self, state, FlowContext.of(context), port)
        text = customer_message_text or ""
        reading = turn.understand(
            text, reading if reading is not None else self.reader.read(text, self.question(state))
        )
        if reading.wants_person:
            turn.hand_off("the customer asked to talk to a person")
            return state
        blocks = [{"type": "text", "text": customer_message(text)}]
        confirmation = turn.read_confirmation(reading)
        if confirmation:
            blocks.append({"type": "text", "text": confirmation})
        turn.run(blocks)
        return state


class _Turn:
    """One engine run over one state: one customer message in, one reply / hand-off / end out."""

    def __init__(self, engine: AgentEngine, state: PolicyState, context: FlowContext, port: PolicyPort):
        self.engine = engine
        self.state = state
        self.memory = state.agent
        self.context = context
        self.port = port
        self.today = context.today or getattr(port, "today", None) or date.today()
        self.memory["turn"] = int(self.memory.get("turn") or 0) + 1
        self.number = self.memory["turn"]
        self.steps = 0  # tool calls this turn: the step index in the keys
        self.calls = 0  # model calls this turn: the step budget

    # -- where we are ----------------------------------------------------------------------------

    @property
    def policy(self) -> str:
        return self.state.stack[-1].policy if self.state.stack else "unknown"

    def doc(self) -> PolicyDocument | None:
        return self.engine.library.get(self.policy)

    def key(self, step: int | str) -> str:
        return agent_key(self.policy, self.number, step)

    def note(self, line: str) -> None:
        self.state.checked.append(line[:300])

    def guarded(self, doc: PolicyDocument) -> GuardedTools:
        return GuardedTools(
            self.port,
            self.state.guard,
            doc.guards,
            self.engine.registry,
            requester_email=self.context.customer.get("email"),
            context=self.context.as_namespace(self.today),
        )

    def tools_of(self, doc: PolicyDocument) -> list[Any]:
        """Exactly the tools the policy names (`@tool`), once each, as the registry defines them."""
        found: dict[str, Any] = {}
        for ref in doc.references:
            if ref.kind == "tool":
                tool = self.engine.registry.resolve(ref.name)
                if tool is not None:
                    found.setdefault(tool.name, tool)
        return list(found.values())

    def prompt(self, doc: PolicyDocument) -> Prompt:
        brand = Brand.from_env(self.engine.env, str(self.context.brand.get("name") or ""))
        return build_prompt(doc, self.context, self.today, brand, self.tools_of(doc))

    # -- the loop --------------------------------------------------------------------------------

    def add_user(self, blocks: list[dict[str, Any]]) -> None:
        """New user content joins a pending user message (last turn's tool results): roles must alternate."""
        messages = self.memory.setdefault("messages", [])
        if messages and messages[-1]["role"] == "user":
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": "user", "content": list(blocks)})

    def run(self, blocks: list[dict[str, Any]]) -> None:
        self.add_user(blocks)
        settings = self.engine.settings
        while self.state.status == "active":
            doc = self.doc()
            if doc is None:
                self.hand_off(f"policy {self.policy!r} is not in the library")
                break
            if self.calls >= settings.max_steps:
                self.hand_off(
                    f"the agent used its {settings.max_steps} steps for this turn without finishing"
                )
                break
            if tokens_used(self.memory) >= settings.max_tokens:
                self.hand_off(f"the conversation used its budget of {settings.max_tokens:,} Claude tokens")
                break
            prompt = self.prompt(doc)
            response = self.ask_model(prompt)
            self.memory["messages"].append({"role": "assistant", "content": response["content"]})
            uses = [b for b in response["content"] if b.get("type") == "tool_use"]
            if response.get("stop_reason") == "max_tokens":
                self.hand_off("Claude's answer was cut off (max_tokens)", answer_uses=uses)
                break
            if not uses:
                if response.get("stop_reason") == "refusal":
                    self.hand_off("Claude declined to answer")
                    break
                self.add_user([{"type": "text", "text": NUDGE}])
                continue
            self.run_tools(uses, prompt, doc)
        log.info(
            "agent turn policy=%s turn=%d calls=%d tokens=%d status=%s",
            self.policy,
            self.number,
            int((self.memory.get("usage") or {}).get("calls") or 0),
            tokens_used(self.memory),
            self.state.status,
        )

    def ask_model(self, prompt: Prompt) -> dict[str, Any]:
        settings = self.engine.settings
        request = {
            "model": settings.model,
            "max_tokens": MAX_OUTPUT_TOKENS,
            "system": prompt.system,
            "tools": prompt.tools,
            "messages": json.loads(json.dumps(self.memory["messages"])),
        }

        def call() -> dict[str, Any]:
            try:
                message = call_messages(self.engine.client, settings=settings, **request)
            except PlatformError as exc:
                raise AgentUnavailable(f"the Claude API failed: {exc}") from exc
            except anthropic.APIError as exc:
                raise AgentUnavailable(f"the Claude API failed: {type(exc).__name__}") from exc
            return _response_dict(message)

        key = self.key(f"model-{self.calls}")
        self.calls += 1
        remember: Callable[[str, Callable[[], Any]], Any] | None = getattr(self.port, "remember", None)
        response = remember(key, call) if callable(remember) else call()
        self.record_usage(response.get("usage") or {})
        return response

    def record_usage(self, usage: Mapping[str, Any]) -> None:
        totals = self.memory.setdefault("usage", {})
        totals["calls"] = int(totals.get("calls") or 0) + 1
        for name in USAGE_FIELDS:
            totals[name] = int(totals.get(name) or 0) + int(usage.get(name) or 0)

    def run_tools(self, uses: list[dict[str, Any]], prompt: Prompt, doc: PolicyDocument) -> None:
        results: list[dict[str, Any]] = []
        for block in uses:
            if self.state.status != "active":
                results.append(_result(block["id"], "not run: the turn had already ended", error=True))
                continue
            self.steps += 1
            results.append(self.run_tool(block, prompt, doc))
        self.add_user(results)

    def run_tool(self, block: Mapping[str, Any], prompt: Prompt, doc: PolicyDocument) -> dict[str, Any]:
        use_id, name = str(block.get("id")), str(block.get("name") or "")
        given = block.get("input")
        args: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        builtin = {
            REPLY_TOOL: self.reply,
            HAND_OFF_TOOL: self.model_hand_off,
            RESOLVE_TOOL: self.resolve,
            SWITCH_TOOL: self.switch,
        }.get(name)
        if builtin is not None:
            return builtin(use_id, dict(args), prompt)
        tool = self.engine.registry.resolve(name) if name in prompt.tool_names else None
        if tool is None:
            return self.refused(use_id, f"@{name[:60]} is not one of this policy's tools", name[:60])
        key = self.key(self.steps)
        try:
            result = self.guarded(doc).call(key, tool.name, dict(args))
        except ToolRefused as exc:
            return self.refused(use_id, exc.reason, tool.name)
        except NotFound:
            result = None
        except PlatformError as exc:
            if exc.retryable:
                raise  # the worker retries the whole turn later; the ledger keeps it exactly-once
            self.note(f"@{tool.name}: failed")
            return _result(use_id, f"failed: {exc}", error=True)
        except (KeyError, TypeError, ValueError) as exc:
            return _result(use_id, f"bad arguments for @{tool.name}: {str(exc)[:300]}", error=True)
        self.note(f"@{tool.name}: {summarize(result)}")
        text = "not found" if result is None else json.dumps(result, default=str)
        return _result(use_id, text[:MAX_RESULT_CHARS])

    # -- refusals --------------------------------------------------------------------------------

    def refused(self, use_id: str, reason: str, tool: str) -> dict[str, Any]:
        self.memory["refusals"] = int(self.memory.get("refusals") or 0) + 1
        self.note(f"@{tool}: refused")
        log.warning(
            "agent refusal policy=%s turn=%d tool=%s count=%d",
            self.policy,
            self.number,
            tool,
            self.memory["refusals"],
        )
        if self.memory["refusals"] >= MAX_REFUSALS:
            self.hand_off(f"refused twice: {reason}")
            return _result(use_id, f"refused: {reason}. The ticket was handed to a person.", error=True)
        return _result(
            use_id,
            f"refused: {reason}. This is final: do not retry it or work around it; call hand_off.",
            error=True,
        )

    # -- built-in tools --------------------------------------------------------------------------

    def checked_reply(self, use_id: str, text: Any, prompt: Prompt) -> dict[str, Any] | None:
        """Why a reply cannot be sent (as a tool_result; a leak counts as a refusal), or None."""
        problem = _reply_problem(text, prompt)
        if problem == LEAK:
            return self.refused(use_id, LEAK, REPLY_TOOL)
        return _result(use_id, f"not sent: {problem}", error=True) if problem else None

    def reply(self, use_id: str, args: dict[str, Any], prompt: Prompt) -> dict[str, Any]:
        text = args.get("message")
        problem = self.checked_reply(use_id, text, prompt)
        if problem is not None:
            return problem
        pending, why = self.confirmation_request(args.get("confirms"), prompt)
        self.port.reply(self.key(self.steps), str(text).strip())
        if pending is not None:
            pending["question"] = str(text).strip()[:1500]  # what the customer's yes or no answers
        self.memory["pending_confirmation"] = pending
        self.state.status, self.state.waiting_for = "waiting", "customer"
        answer = "sent; the customer's answer follows"
        return _result(use_id, f"{answer} ({why})" if why else answer)

    def confirmation_request(self, confirms: Any, prompt: Prompt) -> tuple[dict[str, Any] | None, str]:
        """The exact call a reply asks the customer to agree to, if it names one this policy may make."""
        if confirms is None:
            return None, ""
        if not isinstance(confirms, Mapping) or not isinstance(confirms.get("args"), Mapping):
            return None, "confirms ignored: it needs a tool and its args"
        name = str(confirms.get("tool") or "").lstrip("@")
        tool = self.engine.registry.resolve(name) if name else None
        if tool is None or tool.name not in prompt.tool_names or not tool.writes:
            return None, f"confirms ignored: @{name[:60]} is not a tool of this policy that changes data"
        args = {str(k): v for k, v in confirms["args"].items()}
        unknown = set(args) - set(tool.arguments)
        if unknown:
            return None, f"confirms ignored: @{tool.name} takes no argument(s) {sorted(unknown)}"
        return {"tool": tool.name, "args": json.loads(json.dumps(args, default=str))}, ""

    def understand(self, text: str, reading: Reading | None) -> Reading:
        """Fold one customer message into what the conversation knows (the flow engine's `$said`)."""
        reading = reading if reading is not None else self.engine.reader.read(text, Question.open())
        memory = Understanding.from_dict(self.state.understood)
        memory.add(reading, text)
        self.state.understood = memory.to_dict()
        return reading

    def read_confirmation(self, reading: Reading) -> str:
        """The customer's answer to a question that named a call, as the understanding layer read it:
        the model never decides it, and only a plain yes to that very tool is recorded."""
        pending = self.memory.pop("pending_confirmation", None)
        doc = self.doc()
        if not isinstance(pending, Mapping) or doc is None:
            return ""
        tool, args = str(pending.get("tool")), dict(pending.get("args") or {})
        shown = f"@{tool} {json.dumps(args, sort_keys=True, default=str)}"
        verdict = Confirmation.of(reading, tool)
        if verdict.authorises(tool):
            try:
                recorded = self.guarded(doc).confirm(tool, args, verdict)
            except KeyError:
                return ""
            if recorded:
                self.note(f"customer confirmed @{tool}")
                yes = f"[policydesk] The customer's answer reads as YES to {shown}."
                return f"{yes} That exact call may run once."
        if verdict.answer == "no":
            return f"[policydesk] The customer's answer reads as NO to {shown}: do not make that call."
        return (
            f"[policydesk] The customer's answer is not a plain yes to {shown} ({verdict.describe()}): it is "
            "not allowed; ask again if it still makes sense."
        )

    def model_hand_off(self, use_id: str, args: dict[str, Any], prompt: Prompt) -> dict[str, Any]:
        message = args.get("message_to_customer")
        customer_text = None
        if _reply_problem(message, prompt) is None:  # else the standard holding reply goes out
            customer_text = str(message).strip()
        self.hand_off(
            _scrub(args.get("reason"), 300) or "the agent handed off",
            wants=_scrub(args.get("wants"), 300),
            checked=_scrub(args.get("checked"), 600),
            customer_text=customer_text,
            key=self.key(self.steps),
        )
        return _result(use_id, "handed off")

    def resolve(self, use_id: str, args: dict[str, Any], prompt: Prompt) -> dict[str, Any]:
        """Close the ticket, unless a call was refused in this conversation: then a person checks it,
        because a model that was refused may still tell the customer it did what it could not."""
        message = args.get("message")
        key = self.key(self.steps)
        if int(self.memory.get("refusals") or 0):
            self.hand_off("the agent tried to close the ticket after a refused call", key=key)
            return _result(use_id, "not resolved: handed to a person because a call was refused", error=True)
        if isinstance(message, str) and message.strip():
            problem = self.checked_reply(use_id, message, prompt)
            if problem is not None:
                return problem
            self.port.reply(key, message.strip())
        self.port.resolve(key)
        self.state.status, self.state.outcome, self.state.waiting_for = "resolved", "resolved", None
        self.memory["pending_confirmation"] = None
        return _result(use_id, "resolved")

    def switch(self, use_id: str, args: dict[str, Any], prompt: Prompt) -> dict[str, Any]:
        """Follow a policy the current one names; it is pushed on the stack the flow engine also keeps."""
        mention = str(args.get("policy") or "").strip().lstrip("#").strip()
        doc = self.doc()
        target = self.engine.library.resolve_mention(mention) if mention else None
        named = doc is not None and any(
            ref.kind == "policy" and self.engine.library.resolve_mention(ref.name) is target
            for ref in doc.references
        )
        if target is None or not named:
            return self.refused(use_id, f"#{mention[:60]} is not a policy this one refers to", SWITCH_TOOL)
        if not target.ok or target.id == self.policy:
            return _result(use_id, f"cannot switch to #{target.id}", error=True)
        if target.building_block:
            why = f"#{target.title} is a step of this policy: do it with this policy's tools"
            return _result(use_id, why, error=True)
        if len(self.state.stack) >= MAX_POLICY_DEPTH:
            return _result(use_id, "cannot switch: too many policies in a row; call hand_off", error=True)
        self.state.stack.append(Frame(target.id, None))
        self.note(f"switched to #{target.id}")
        return _result(
            use_id, f"now following #{target.id} ({target.title}); its instructions and tools apply"
        )

    # -- ending ----------------------------------------------------------------------------------

    def hand_off(
        self,
        reason: str,
        *,
        wants: str = "",
        checked: str = "",
        customer_text: str | None = None,
        key: str | None = None,
        answer_uses: list[dict[str, Any]] | None = None,
    ) -> None:
        doc = self.doc()
        key = key or self.key("handoff")
        if not wants:
            wants = (doc.description or doc.title) if doc else "help with their ticket"
            subject = str(self.context.ticket.get("subject") or "").strip()
            if subject:
                wants = f'{wants} (ticket: "{_scrub(subject, 80)}")'
        lines = checked or "; ".join(self.state.checked[-8:]) or "nothing was looked up yet"
        summary = Handoff(wants=wants, checked=f"{lines}; {usage_line(self.memory)}", reason=reason[:300])
        self.port.reply(key, customer_text or _holding_text(doc, self.context, self.today))
        self.port.hand_off(key, summary)
        self.state.status, self.state.outcome, self.state.waiting_for = "handed_off", reason[:300], None
        self.memory["pending_confirmation"] = None
        if answer_uses:  # keep the stored history a valid conversation
            self.add_user(
                [
                    _result(str(b.get("id")), "not run: the answer was cut off", error=True)
                    for b in answer_uses
                ]
            )
        log.info(
            "agent hand-off policy=%s turn=%d: %s; %s",
            self.policy,
            self.number,
            reason[:120],
            usage_line(self.memory),
        )


def _reply_problem(text: Any, prompt: Prompt) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "the message is empty"
    if leaks_instructions(text, prompt.protected):
        return LEAK
    if _PLACEHOLDER.search(text):
        return "fill in every $placeholder with its value first"
    return None


def _result(use_id: str, content: str, *, error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": use_id, "content": content}
    if error:
        block["is_error"] = True
    return block


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def _response_dict(message: Any) -> dict[str, Any]:
    """The parts of a Message the engine keeps, as JSON: what history and the ledger can store."""
    content: list[dict[str, Any]] = []
    for block in _field(message, "content") or []:
        kind = _field(block, "type")
        if kind == "text" and str(_field(block, "text") or "").strip():
            content.append({"type": "text", "text": str(_field(block, "text"))})
        elif kind == "tool_use":
            raw = _field(block, "input")
            content.append(
                {
                    "type": "tool_use",
                    "id": str(_field(block, "id")),
                    "name": str(_field(block, "name")),
                    "input": dict(raw) if isinstance(raw, Mapping) else {},
                }
            )
    if not content:
        content.append({"type": "text", "text": "(no answer)"})
    usage = _field(message, "usage")
    return {
        "content": content,
        "stop_reason": _field(message, "stop_reason"),
        "usage": {name: int(_field(usage, name) or 0) for name in USAGE_FIELDS},
    }
