"""Policies published from the studio: every version kept in Redis, the latest one live.

A published policy is one more layer over the built-in library: its live version replaces a built-in
policy of the same id, or adds a new one. Nothing is ever deleted: publishing appends a version
(author, time, message, content hash), and rolling back publishes an older version's text again as
a new version, so the history says who put what live and when. A draft is one text per policy,
saved by anyone editing it, and is never live.

Redis keys (durable in the embedded server, which runs with append-only persistence):
- `pd:studio:versions:<id>`: a list of JSON versions, oldest first (version n is index n-1);
- `pd:studio:drafts`: a hash policy id -> JSON draft;
- `pd:studio:generation`: a counter bumped on every publish, so a process can tell its copy is old;
- `pd:studio:pins:<helpdesk>:<ticket>`: the version of each published policy when the conversation
  began. A conversation runs on those versions to its end, whatever is published meanwhile, so no
  customer meets a flow whose steps changed under a half-finished conversation.

`PublishedLayer` is what the worker adds to policies.router's library (`install`): the live versions,
or inside `pinned(...)` the versions of that conversation.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass

import redis

from policies.document import PolicyDocument, parse_policy
from policies.engines import router
from worker.conversation import CONVERSATION_TTL

__all__ = [
    "Draft",
    "PublishedLayer",
    "PublishedStore",
    "Version",
    "content_hash",
    "install",
    "layer_path",
    "pinned",
]

VERSIONS_PREFIX = "pd:studio:versions:"
DRAFTS_KEY = "pd:studio:drafts"
GENERATION_KEY = "pd:studio:generation"
PINS_PREFIX = "pd:studio:pins:"
PINNED = "_pinned"  # a field every pin hash has, so "pinned to no published version" is recorded too
MAX_POLICY_CHARS = 200_000


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def layer_path(policy_id: str, version: int) -> str:
    """The `path` a published document carries, so lint messages and traces name the version."""
    return f"studio:{policy_id}@v{version}"


@dataclass(frozen=True)
class Version:
    policy_id: str
    number: int
    text: str
    author: str
    at: float
    message: str
    hash: str

    def document(self) -> PolicyDocument:
        return parse_policy(self.text, layer_path(self.policy_id, self.number))


@dataclass(frozen=True)
class Draft:
    policy_id: str
    text: str
    author: str
    at: float


class PublishedStore:
    def __init__(self, client: redis.Redis):
        self.redis = client

    # -- versions --------------------------------------------------------------------------------

    def versions(self, policy_id: str) -> list[Version]:
        raw = self.redis.lrange(VERSIONS_PREFIX + policy_id, 0, -1)
        return [Version(**json.loads(item)) for item in raw]

    def version(self, policy_id: str, number: int) -> Version | None:
        if number < 1:
            return None
        raw = self.redis.lindex(VERSIONS_PREFIX + policy_id, number - 1)
        return Version(**json.loads(raw)) if raw else None

    def live(self, policy_id: str) -> Version | None:
        raw = self.redis.lindex(VERSIONS_PREFIX + policy_id, -1)
        return Version(**json.loads(raw)) if raw else None

    def policy_ids(self) -> list[str]:
        names = (str(key)[len(VERSIONS_PREFIX) :] for key in self.redis.scan_iter(f"{VERSIONS_PREFIX}*"))
        return sorted(names)

    def live_versions(self) -> list[Version]:
        return [v for v in (self.live(pid) for pid in self.policy_ids()) if v is not None]

    def publish(self, policy_id: str, text: str, author: str, message: str) -> Version:
        """Append a version and make it live; the draft is done with. Numbered inside a WATCHed
        transaction, so two people publishing at once get two versions, never one number twice."""
        text = text.replace("\r\n", "\n")[:MAX_POLICY_CHARS]
        key = VERSIONS_PREFIX + policy_id
        made: list[Version] = []

        def append(pipe: redis.client.Pipeline) -> None:
            number = int(pipe.llen(key)) + 1
            version = Version(
                policy_id, number, text, author, time.time(), message.strip(), content_hash(text)
            )
            pipe.multi()
            pipe.rpush(key, json.dumps(asdict(version)))
            pipe.hdel(DRAFTS_KEY, policy_id)
            pipe.incr(GENERATION_KEY)
            made[:] = [version]

        self.redis.transaction(append, key)
        return made[0]

    def roll_back(self, policy_id: str, number: int, author: str) -> Version:
        older = self.version(policy_id, number)
        if older is None:
            raise KeyError(f"{policy_id} has no version {number}")
        return self.publish(policy_id, older.text, author, f"roll back to version {number}")

    def generation(self) -> int:
        return int(self.redis.get(GENERATION_KEY) or 0)

    # -- drafts ----------------------------------------------------------------------------------

    def draft(self, policy_id: str) -> Draft | None:
        raw = self.redis.hget(DRAFTS_KEY, policy_id)
        return Draft(**json.loads(raw)) if raw else None

    def save_draft(self, policy_id: str, text: str, author: str) -> Draft:
        draft = Draft(policy_id, text.replace("\r\n", "\n")[:MAX_POLICY_CHARS], author, time.time())
        self.redis.hset(DRAFTS_KEY, policy_id, json.dumps(asdict(draft)))
        return draft

    def discard_draft(self, policy_id: str) -> None:
        self.redis.hdel(DRAFTS_KEY, policy_id)


# -- the layer the worker runs on -----------------------------------------------------------------

_PINS: ContextVar[dict[str, int] | None] = ContextVar("policydesk_policy_pins", default=None)


class PublishedLayer:
    def __init__(self, client: Callable[[], redis.Redis]):
        self.client = client

    def key(self) -> Hashable:
        pins = _PINS.get()
        if pins is not None:
            return ("pinned", tuple(sorted(pins.items())))
        return ("live", PublishedStore(self.client()).generation())

    def documents(self) -> list[PolicyDocument]:
        store = PublishedStore(self.client())
        pins = _PINS.get()
        if pins is None:
            return [version.document() for version in store.live_versions()]
        versions = (store.version(policy_id, number) for policy_id, number in pins.items())
        return [version.document() for version in versions if version is not None]


def install(client: Callable[[], redis.Redis]) -> None:
    """Tickets in this process run on published versions (once per process)."""
    router.add_layer(_layer(client))


_LAYERS: dict[Callable[[], redis.Redis], PublishedLayer] = {}


def _layer(client: Callable[[], redis.Redis]) -> PublishedLayer:
    return _LAYERS.setdefault(client, PublishedLayer(client))


@contextmanager
def pinned(client: redis.Redis, helpdesk: str, ticket_id: str) -> Iterator[dict[str, int]]:
    """Run the block on this conversation's versions, pinning the live ones if it has none yet."""
    key = f"{PINS_PREFIX}{helpdesk}:{ticket_id}"
    raw = client.hgetall(key)
    if not raw:
        live = {v.policy_id: v.number for v in PublishedStore(client).live_versions()}
        client.hset(key, mapping={PINNED: "1", **{pid: str(n) for pid, n in live.items()}})
        client.expire(key, CONVERSATION_TTL)
        raw = client.hgetall(key)
    pins = {str(pid): int(n) for pid, n in raw.items() if pid != PINNED}
    token = _PINS.set(pins)
    try:
        yield pins
    finally:
        _PINS.reset(token)
