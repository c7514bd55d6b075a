"""Recent conversations and one ticket's timeline, read from what the worker keeps in Redis.

The timeline joins, in time order, the conversation's transcript (what the customer said, what the bot
answered), the action ledger (every tool call and helpdesk write, with its step and result), the
guards' verdicts (worker.verdicts) and, for shadow and draft tickets, the rehearsal traces. What the
conversation says about itself (classification, policy, mode, hand-off reason) heads the page.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.conversation import Conversation, ConversationStore
from worker.ledger import ActionLedger
from worker.published_policies import PINS_PREFIX
from worker.rehearsal import rehearsals
from worker.verdicts import verdicts_of

__all__ = ["Timeline", "all_conversations", "helpdesk_link", "policy_of", "recent", "timeline"]

CONVERSATION_PREFIX = "pd:conv:"
MAX_LISTED = 50
MAX_SCANNED = 5000


def all_conversations(client: redis.Redis) -> list[Conversation]:
    """Every conversation Redis still holds (they expire 90 days after their last event), up to a cap."""
    store = ConversationStore(client)
    found = []
    for number, key in enumerate(client.scan_iter(f"{CONVERSATION_PREFIX}*", count=500)):
        if number >= MAX_SCANNED:
            break
        _, _, helpdesk, ticket_id = str(key).split(":", 3)
        conversation = store.load(helpdesk, ticket_id)
        if conversation is not None:
            found.append(conversation)
    return found


def policy_of(conversation: Conversation) -> str | None:
    stack = (conversation.policy or {}).get("stack") or []
    if stack and isinstance(stack[0], Mapping):
        return str(stack[0].get("policy") or "") or None
    return (conversation.policy or {}).get("policy_id")


def recent(client: redis.Redis, query: str = "") -> list[Conversation]:
    """The newest conversations first; with a query, those whose ticket id contains it."""
    wanted = query.strip().lower()
    rows = [c for c in all_conversations(client) if not wanted or wanted in c.ticket_id.lower()]
    return sorted(rows, key=lambda c: c.updated_at, reverse=True)[:MAX_LISTED]


def helpdesk_link(helpdesk: str, ticket_id: str, env: Mapping[str, str] = os.environ) -> str | None:
    """The ticket in its helpdesk's agent screen, derived from the configured API address."""
    if helpdesk == "freshdesk":
        base = env.get("FRESHDESK_BASE_URL") or (
            f"https://{env['FRESHDESK_DOMAIN']}.freshdesk.com/api/v2" if env.get("FRESHDESK_DOMAIN") else ""
        )
        return f"{re.sub(r'/api/v2/?$', '', base)}/a/tickets/{ticket_id}" if base else None
    if helpdesk == "kustomer":
        base = env.get("KUSTOMER_BASE_URL") or (
            f"https://{env['KUSTOMER_ORG']}.api.kustomerapp.com/v1" if env.get("KUSTOMER_ORG") else ""
        )
        app = re.sub(r"/v1/?$", "", base).replace(".api.kustomerapp.com", ".kustomerapp.com")
        return f"{app}/app/conversations/{ticket_id}" if base else None
    if helpdesk == "salesforce":
        instance = env.get("SALESFORCE_INSTANCE_URL") or ""
        return f"{instance.rstrip('/')}/lightning/r/Case/{ticket_id}/view" if instance else None
    return None


@dataclass
class Timeline:
    conversation: Conversation
    policy: str | None
    version: str
    link: str | None
    events: list[dict[str, Any]] = field(default_factory=list)


def _version(client: redis.Redis, conversation: Conversation, policy: str | None) -> str:
    """The version the conversation runs on: pinned when it began (worker.published_policies)."""
    pins = client.hgetall(f"{PINS_PREFIX}{conversation.helpdesk}:{conversation.ticket_id}")
    pinned = pins.get(policy) if policy else None
    if pinned:
        return f"v{pinned!s}, published in the studio"
    started_on = (conversation.policy.get("versions") or {}).get(policy) if policy else None
    return f"version {started_on} of its file" if started_on else "the file as it is now"


HELPDESK_WRITES = frozenset({"set_tags", "add_note", "reply", "send_email", "assign_to_group", "set_status"})


def timeline(client: redis.Redis, helpdesk: str, ticket_id: str) -> Timeline | None:
    conversation = ConversationStore(client).load(helpdesk, ticket_id)
    if conversation is None:
        return None
    policy = policy_of(conversation)
    events: list[dict[str, Any]] = []
    for turn in conversation.transcript:
        events.append(
            {"at": turn.get("at", 0), "kind": turn.get("role", "customer"), "text": turn.get("text", "")}
        )
    for entry in ActionLedger(client, conversation.key).entries():
        events.append(
            {
                "at": entry.get("at", 0),
                "kind": "helpdesk" if entry.get("tool") in HELPDESK_WRITES else "tool",
                "tool": entry.get("tool"),
                "step": entry.get("step"),
                "status": entry.get("status"),
                "reconciled": entry.get("reconciled", False),
                "result": json.dumps(entry.get("result"), default=str)[:1500],
            }
        )
    for verdict in verdicts_of(client, conversation.key):
        events.append({**verdict, "kind": "guards"})
    # a rehearsed turn has no time of its own: it follows the customer message it answered
    customer_times = [float(t.get("at", 0)) for t in conversation.transcript if t.get("role") == "customer"]
    for rehearsal in rehearsals(client, helpdesk, ticket_id):
        answered = int(rehearsal.get("turn") or 1)
        at = customer_times[min(answered, len(customer_times)) - 1] + 0.001 if customer_times else 0.0
        events.append(
            {"at": at, "kind": "rehearsal", "mode": rehearsal.get("mode"), "trace": rehearsal.get("trace")}
        )
    events.sort(key=lambda e: float(e.get("at") or 0))
    return Timeline(
        conversation,
        policy,
        _version(client, conversation, policy),
        helpdesk_link(helpdesk, ticket_id),
        events,
    )
