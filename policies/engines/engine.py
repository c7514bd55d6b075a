"""Which engine runs a policy, and the one `start` / `resume` the worker calls whatever the answer.

The choice per policy (front matter `engine`):
- `flow`: always the deterministic flow.
- `agent`: Claude when ANTHROPIC_API_KEY is set; without a key, its flow if it has one.
- `auto`: Claude when a key is set and the policy has no flow; otherwise its flow.
A policy with neither a flow nor a key cannot run: the ticket goes to a person, and
`policydesk validate` warns about it before that happens (policies.document.lint).

Why the fallback lives here: when the Messages API is down or overloaded beyond connectors.claude's
retries, the agent raises `AgentUnavailable` before it has replied, and a policy that has a flow is
still served (from the state as it was saved, so nothing of the failed attempt is kept); one without
a flow hands off. A conversation the agent started stays the agent's on later messages, because the
agent's history is in the state and a flow cannot pick it up half-way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Literal

from connectors.claude import ClaudeSettings, claude_client
from connectors.tools import ToolRegistry
from policies.document.library import PolicyLibrary
from policies.document.loader import PolicyDocument
from policies.engines.agent import AgentEngine, AgentUnavailable, hand_off_without_agent, usage_line
from policies.engines.flow import FlowEngine
from policies.engines.runtime import FlowContext, PolicyPort, PolicyState
from policies.engines.translation import TranslatingPort
from policies.understanding import Question, Reader, Understanding, default_reader, language_name

__all__ = ["EngineName", "PolicyEngine", "choose_engine", "foreign_language"]

log = logging.getLogger(__name__)

EngineName = Literal["flow", "agent"]


def foreign_language(language: str | None) -> bool:
    """A language other than the one policies are written in (English)."""
    return bool(language) and language != "en"


def choose_engine(doc: PolicyDocument, env: Mapping[str, str] = os.environ) -> EngineName | None:
    """flow, agent, or None when the policy cannot run here (no flow, and no key for the agent)."""
    has_key = bool((env.get("ANTHROPIC_API_KEY") or "").strip())
    if doc.engine != "flow" and has_key and (doc.engine == "agent" or not doc.flow):
        return "agent"
    return "flow" if doc.flow else None


class PolicyEngine:
    """The worker's engine: the flow engine and the agent engine behind FlowEngine's interface."""

    def __init__(
        self,
        library: PolicyLibrary,
        registry: ToolRegistry,
        *,
        env: Mapping[str, str] = os.environ,
        client: Any = None,
        settings: ClaudeSettings | None = None,
        reader: Reader | None = None,
    ):
        self.library = library
        self.registry = registry
        self.env = env
        self.reader = reader or default_reader()
        self.flow = FlowEngine(library, registry, self.reader)
        self._client = client
        self._settings = settings
        self._agent: AgentEngine | None = None

    @property
    def agent(self) -> AgentEngine | None:
        """Built on first use, so a deployment without a key never creates an SDK client."""
        if self._agent is None:
            client = self._client or claude_client(self.env)
            if client is not None:
                self._agent = AgentEngine(
                    self.library,
                    self.registry,
                    client,
                    settings=self._settings,
                    env=self.env,
                    reader=self.reader,
                )
        return self._agent

    def choose(self, policy_id: str) -> EngineName | None:
        doc = self.library.find(policy_id)
        if doc is None:
            return "flow"  # the flow engine hands an unknown policy off with its reason
        choice = choose_engine(doc, self.env)
        if choice == "agent" and self.agent is None:
            return "flow" if doc.flow else None
        return choice

    def read_opener(self, text: str) -> Understanding:
        """The first message, read once: the engines and the pipeline share this reading."""
        memory = Understanding()
        memory.add(self.reader.read(text, Question.open()), text)
        return memory

    def language_barrier(self, language: str | None) -> str | None:
        """Why a ticket in this language must go to a person: no Claude to run the policy in it."""
        if not foreign_language(language) or self.agent is not None:
            return None
        return (
            f"the customer writes in {language_name(language)}; without Claude policydesk only answers in "
            "English, so a person who reads it should reply"
        )

    def speaking(self, port: PolicyPort, state: PolicyState) -> PolicyPort:
        """The port replies go through: translated into the customer's language when it is not English."""
        language = Understanding.from_dict(state.understood).language
        client = self._client or (claude_client(self.env) if self.agent is not None else None)
        if not foreign_language(language) or client is None:
            return port
        return TranslatingPort(port, str(language), client, self._settings or self.agent_settings())

    def agent_settings(self) -> ClaudeSettings | None:
        return self.agent.settings if self.agent is not None else None

    def start(
        self,
        state: PolicyState | None,
        policy_id: str,
        context: FlowContext | Mapping[str, Any] | None,
        port: PolicyPort,
    ) -> PolicyState:
        state = (state or PolicyState()).copy()
        if not state.understood:
            text = str(FlowContext.of(context).ticket.get("text") or "")
            state.understood = self.read_opener(text).to_dict()
        port = self.speaking(port, state)
        choice = self.choose(policy_id)
        if choice is None:
            reason = f"policy {policy_id!r} needs the Claude agent and ANTHROPIC_API_KEY is not set"
            return hand_off_without_agent(self.library, state, policy_id, context, port, reason)
        if choice == "agent" and self.agent is not None:
            try:
                return self.agent.start(state, policy_id, context, port)
            except AgentUnavailable as exc:
                return self.fallback(state, policy_id, context, port, exc.reason)
        return self.flow.start(state, policy_id, context, port)

    def resume(
        self,
        state: PolicyState,
        customer_message: str,
        context: FlowContext | Mapping[str, Any] | None,
        port: PolicyPort,
    ) -> PolicyState:
        port = self.speaking(port, state)
        if not AgentEngine.running(state):
            return self.flow.resume(state, customer_message, context, port)
        if state.finished:
            return state.copy()
        policy_id = state.policy_id or ""
        if self.agent is None:
            return self.fallback(state, policy_id, context, port, "ANTHROPIC_API_KEY is no longer set")
        try:
            return self.agent.resume(state, customer_message, context, port)
        except AgentUnavailable as exc:
            return self.fallback(state, policy_id, context, port, exc.reason)

    def fallback(
        self,
        state: PolicyState | None,
        policy_id: str,
        context: FlowContext | Mapping[str, Any] | None,
        port: PolicyPort,
        reason: str,
    ) -> PolicyState:
        """Claude cannot answer: the policy's flow (or the first policy's on the stack), else a person."""
        state = (state or PolicyState()).copy()
        candidates = [policy_id, *(frame.policy for frame in state.stack)]
        docs = [self.library.find(p) for p in candidates if p]
        runnable = next((d for d in docs if d is not None and d.flow and d.ok), None)
        log.warning(
            "agent unavailable policy=%s: %s", policy_id, "running its flow" if runnable else "hand-off"
        )
        if runnable is None:
            return hand_off_without_agent(self.library, state, policy_id, context, port, reason)
        memory = state.agent
        state.agent = {"fallback": reason[:300], "usage": dict(memory.get("usage") or {})}
        if memory.get("usage"):
            state.checked.append(f"{usage_line(memory)} before falling back to the flow")
        return self.flow.start(state, runnable.id, context, port)
