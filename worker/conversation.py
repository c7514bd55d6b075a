"""The Conversation: what policydesk knows and has done on one ticket, kept in Redis between events.

A conversation outlives deployments: a customer can answer a week after the question, on a newer
version of the code. So the stored JSON carries `schema_version`, and `load` brings an older one up
to date through `MIGRATIONS`, one version at a time, before building the dataclass. A change to the
stored shape (this dataclass, the engine's PolicyState in `policy`, the guards' facts inside it)
raises SCHEMA_VERSION and adds the step from the previous version, with a test that loads the old
shape (tests/test_conversation_store.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import redis

from policies.engines.runtime import PolicyState

Status = Literal["new", "active", "waiting", "resolved", "handed_off"]
CONVERSATION_TTL = 90 * 24 * 3600  # long after any ticket's last reply; refreshed on every save
SCHEMA_VERSION = 2


@dataclass
class Conversation:
    """State of one ticket. `seen_messages` holds ids of customer messages already acted on, which is
    how a re-delivered or out-of-order reply is recognised when the sender gives no event id."""

    helpdesk: str
    ticket_id: str
    status: Status = "new"
    ticket_type: str | None = None
    confidence: float | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # $customer, $ticket, $brand, $facts for policies
    policy: dict[str, Any] = field(default_factory=dict)  # the engine's PolicyState: stack, cursor, slots
    transcript: list[dict[str, Any]] = field(default_factory=list)
    seen_messages: list[str] = field(default_factory=list)
    # what a turn decided to tell the customer, saved with the state before it is sent (see pipeline)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    identity: dict[str, Any] = field(default_factory=dict)  # proof of an unidentified customer's email
    handoff_reason: str | None = None
    mode: str = "live"  # the policy's roll-out mode when the ticket was opened (policies.document.modes)
    clarifying: list[str] = field(default_factory=list)  # the two ticket types a question asked between
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> str:
        return conversation_key(self.helpdesk, self.ticket_id)

    def saw(self, message_id: str | None) -> bool:
        return bool(message_id) and message_id in self.seen_messages

    def mark_seen(self, message_id: str | None) -> None:
        if message_id and message_id not in self.seen_messages:
            self.seen_messages.append(message_id)

    @property
    def last_seen(self) -> str | None:
        return self.seen_messages[-1] if self.seen_messages else None

    def note_turn(self, role: str, text: str, messages: list[str] | None = None) -> None:
        """Transcript entries are capped in length: they are context, not an archive of PII.
        `messages` lists the ids of the customer messages a turn read, in order."""
        entry: dict[str, Any] = {"role": role, "text": text[:2000], "at": time.time()}
        if messages:
            entry["messages"] = list(messages)
        self.transcript.append(entry)


def conversation_key(helpdesk: str, ticket_id: str) -> str:
    return f"pd:conv:{helpdesk}:{ticket_id}"


class ConversationStore:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def load(self, helpdesk: str, ticket_id: str) -> Conversation | None:
        raw = self.redis.get(conversation_key(helpdesk, ticket_id))
        if raw is None:
            return None
        data = migrate(json.loads(raw))
        known = set(Conversation.__dataclass_fields__)
        return Conversation(**{k: v for k, v in data.items() if k in known})

    def save(self, conversation: Conversation) -> None:
        conversation.updated_at = time.time()
        conversation.schema_version = SCHEMA_VERSION
        self.redis.set(conversation.key, json.dumps(asdict(conversation)), ex=CONVERSATION_TTL)


class UnknownSchemaVersion(ValueError):
    """A conversation saved by a newer version than this code knows (after a rollback). Loading it
    would drop what the newer version added, so it is refused: the event fails, its retries and the
    failure hand-off fail the same way, and it ends in the dead letters, to be replayed
    (`policydesk deadletters replay`) once the newer version runs again. Nothing is overwritten."""


def _unversioned_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 is every conversation saved before versioning: any key may be missing, including
    ones added to the engine's state over time (understood, queue, agent). From version 2 on, the
    stored policy state is complete: it goes through PolicyState once and is written back whole."""
    migrated = dict(data)
    if migrated.get("policy"):
        migrated["policy"] = PolicyState.from_dict(migrated["policy"]).to_dict()
    return migrated


# version N -> the step that turns a version-N document into version N+1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _unversioned_to_v2}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A stored conversation brought up to SCHEMA_VERSION, one migration at a time."""
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UnknownSchemaVersion(
            f"conversation schema_version {version!r}; this code knows {SCHEMA_VERSION}"
        )
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    data["schema_version"] = version
    return data
