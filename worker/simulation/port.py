"""The engines' port for a try-out: reads are made, writes are recorded, nothing reaches a customer.

Why it cannot write: on construction it keeps, of the tool registry, only the read tools' functions.
Of a write tool it keeps the name and nothing else, so there is no object here through which a write
connector could be called; and it holds no helpdesk client at all (replies, notes and ticket updates
exist only as trace events). A write the guards allowed comes back with the result it would have
had (worker.simulation.would_be), so the policy goes on as it would after the real one.

The guards are not re-implemented: both engines call tools through policies.engines.guards.GuardedTools, as
they do in the worker, and GuardedTools shows this port every write's verdicts (`guards_checked`)
before refusing or calling. The arguments recorded for a write are the worker's own: a `reference`
is derived from the conversation and step exactly as worker.policy_port does.

Reads go to the sandbox or, with live reads, to the store's configured platforms. The helpdesk is
never called, for reads either: its account lookups (`@get_kustomer_account_details`, ...) are
answered from the context the person set, the customer the helpdesk would have named as the one
who wrote in (and only for that customer's email, as the guards' requester check also insists).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from connectors.helpdesk import HELPDESKS
from connectors.tools import Tool, ToolRegistry, normalize
from policies.engines.guards import ref
from policies.engines.runtime import Handoff
from worker.actions import LIFECYCLE_TAGS
from worker.conversation import Conversation
from worker.notes import handoff_note
from worker.policy_port import call_arguments
from worker.simulation.trace import Trace
from worker.simulation.would_be import would_be_result

MAX_WALK_DEPTH = 4

Reader = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class WriteTool:
    """What the port knows of a write tool: its name and arguments, never its function."""

    name: str
    arguments: tuple[str, ...]


def read_tools(registry: ToolRegistry, *, helpdesk: bool = True) -> ToolRegistry:
    """A registry holding only the read tools (and, with helpdesk=False, none of the helpdesk's)."""
    reads = ToolRegistry()
    for found in registry.all():
        if found.writes or (not helpdesk and found.platform in HELPDESKS):
            continue
        reads.add(found)
    return reads


def write_tools(registry: ToolRegistry) -> dict[str, WriteTool]:
    return {normalize(t.name): WriteTool(t.name, tuple(t.arguments)) for t in registry.all() if t.writes}


class SimulationPort:
    """PolicyPort that runs reads, records writes, and captures replies, notes and ticket updates."""

    def __init__(
        self,
        registry: ToolRegistry,
        conversation: Conversation,
        trace: Trace,
        today: date,
        *,
        policy_id: str | None = None,
    ):
        self.today = today
        self.conversation = conversation
        self.trace = trace
        self.policy_id = policy_id
        self._reads = read_tools(registry, helpdesk=False)
        self._writes = write_tools(registry)
        self._stand_ins: dict[str, Reader] = {normalize("get_helpdesk_account_details"): self._requester}
        self._seen: dict[str, dict[str, Any]] = {}

    # -- tools ------------------------------------------------------------------------------------

    def call_tool(self, step_key: str, tool: str, args: dict[str, Any]) -> Any:
        key = normalize(tool)
        if key in self._writes:
            return self._would_write(step_key, self._writes[key], dict(args))
        if key in self._stand_ins:
            result = self._stand_ins[key](args)
            self.trace.add("read", step_key, tool=tool, args=dict(args), result=result, source="context")
            return result
        found = self._reads.resolve(tool)
        if found is None:
            raise KeyError(f"unknown tool {tool!r}")
        return self._read(step_key, found, dict(args))

    def _read(self, step_key: str, tool: Tool, args: dict[str, Any]) -> Any:
        try:
            result = self._reads.invoke(tool.name, args)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.trace.add("read_failed", step_key, tool=tool.name, args=args, error=error)
            raise
        self.trace.add("read", step_key, tool=tool.name, args=args, result=result)
        self._remember(result, 0)
        return result

    def _would_write(self, step_key: str, tool: WriteTool, args: dict[str, Any]) -> Any:
        args = call_arguments(tool.arguments, args, self.conversation.key, step_key)
        result = would_be_result(tool.name, args, self._seen, self.today)
        self.trace.add("would_write", step_key, tool=tool.name, args=args, result=result)
        if tool.name == "send_async_message":
            self._replied(step_key, str(args.get("message") or ""), via=tool.name)
        return result

    def guards_checked(
        self, step_key: str, tool: str, args: Mapping[str, Any], verdicts: list[tuple[str, str | None]]
    ) -> None:
        """Called by GuardedTools with every guard's verdict before a write is refused or made."""
        refused = next((reason for _, reason in verdicts if reason), None)
        self.trace.add(
            "guards",
            step_key,
            tool=tool,
            args=dict(args),
            verdicts=[{"guard": name, "holds": said is None, "reason": said} for name, said in verdicts],
            refused=refused,
        )

    def step_taken(self, step_key: str, detail: Mapping[str, Any]) -> None:
        """Called by the flow engine after each step: the trace shows the path, and coverage counts it."""
        self.trace.add("step", step_key, **dict(detail))

    def _requester(self, args: Mapping[str, Any]) -> dict[str, Any] | None:
        """The helpdesk's customer record, as the context names it: found only for that email."""
        customer = self.conversation.context.get("customer") or {}
        email = str(customer.get("email") or "").strip().casefold()
        if not email or str(args.get("email") or "").strip().casefold() != email:
            return None
        name = customer.get("name") or ""
        return {"id": str(customer.get("id") or "context"), "email": email, "name": name}

    def _remember(self, value: Any, depth: int) -> None:
        """Orders and subscriptions read so far, for the would-be results of later writes."""
        if depth > MAX_WALK_DEPTH:
            return
        if isinstance(value, list):
            for item in value:
                self._remember(item, depth + 1)
        elif isinstance(value, Mapping):
            key = ref(value.get("id"))
            if key and ("number" in value or "next_delivery" in value):
                self._seen[key] = dict(value)
            for name in ("orders", "subscriptions", "data", "customer"):
                if isinstance(value.get(name), list | dict):
                    self._remember(value[name], depth + 1)

    # -- the ticket ---------------------------------------------------------------------------------

    def reply(self, step_key: str, text: str) -> None:
        self._replied(step_key, text)

    def _replied(self, step_key: str, text: str, via: str = "reply") -> None:
        self.trace.add("reply", step_key, text=text, via=via)
        self.conversation.note_turn("bot", text)

    def hand_off(self, step_key: str, summary: Handoff) -> None:
        self.conversation.handoff_reason = summary.reason
        self.handed_off(step_key, handoff_note(self.conversation, summary, self.policy_id))

    def handed_off(self, step_key: str, note: str) -> None:
        """What the worker's hand-off writes (worker.actions.TicketActions.hand_off), captured."""
        self.trace.add("note", step_key, text=note)
        tag = LIFECYCLE_TAGS["handed_off"]
        self.trace.add("ticket", step_key, status="open", assign="the hand-off group", lifecycle=tag)

    def resolve(self, step_key: str) -> None:
        self.trace.add("ticket", step_key, status="resolved", lifecycle=LIFECYCLE_TAGS["resolved"])

    def wait_for_customer(self, step_key: str) -> None:
        self.trace.add("ticket", step_key, status="pending", lifecycle=LIFECYCLE_TAGS["waiting"])
