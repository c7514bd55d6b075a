"""The guards' verdicts on a live ticket's writes, kept beside its ledger for the studio's timeline.

The ledger records what was done; this records why a write was allowed or refused: each guard's
verdict, with the step and tool, never the write's arguments (they hold addresses and emails). A turn
re-run after a crash records its verdicts again, which the timeline shows as they came.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from worker.ledger import LEDGER_TTL

__all__ = ["record_verdicts", "verdicts_of"]

MAX_VERDICTS = 200


def _key(conversation_key: str) -> str:
    return f"pd:verdicts:{conversation_key}"


def record_verdicts(
    client: redis.Redis, conversation_key: str, step: str, tool: str, verdicts: list[tuple[str, str | None]]
) -> None:
    refused = next((reason for _, reason in verdicts if reason), None)
    entry = {
        "step": step,
        "tool": tool,
        "verdicts": [{"guard": name, "holds": said is None, "reason": said} for name, said in verdicts],
        "refused": refused,
        "at": time.time(),
    }
    key = _key(conversation_key)
    pipe = client.pipeline()
    pipe.rpush(key, json.dumps(entry))
    pipe.ltrim(key, -MAX_VERDICTS, -1)
    pipe.expire(key, LEDGER_TTL)
    pipe.execute()


def verdicts_of(client: redis.Redis, conversation_key: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in client.lrange(_key(conversation_key), 0, -1)]
