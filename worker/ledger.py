"""The action ledger: every external write happens at most once per conversation, step and arguments.

The intent is written before the call and the result after it. On a re-run (task retry, duplicate
delivery, a worker killed before the conversation was saved):
- a recorded result is returned and nothing is written again;
- an intent without a result means the worker died during the call, or the platform's answer was
  ambiguous. It is never blindly repeated: an idempotent write (tags, assignment, status) is simply
  done again; otherwise the caller's `reconcile` looks the effect up on the platform; with no way to
  look it up, ActionOutcomeUnknown is raised and the ticket goes to a human.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import redis

from connectors.errors import OutcomeUnknown
from worker import deadline

LEDGER_TTL = 90 * 24 * 3600
NOT_FOUND = object()  # what a reconcile callable returns when the effect is not on the platform


class ActionOutcomeUnknown(Exception):
    """A write may or may not have happened and nothing can tell which: a human must check."""

    def __init__(self, tool: str, step: str):
        self.tool = tool
        self.step = step
        super().__init__(f"the outcome of {tool} at step {step!r} is unknown")


def action_key(step: str, tool: str, args: dict[str, Any]) -> str:
    canonical = json.dumps({"step": step, "tool": tool, "args": args}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class ActionLedger:
    """One Redis hash per conversation: field = action key, value = JSON {status, tool, step, result}."""

    def __init__(self, client: redis.Redis, conversation_key: str):
        self.redis = client
        self.key = f"pd:ledger:{conversation_key}"

    def perform(
        self,
        step: str,
        tool: str,
        args: dict[str, Any],
        call: Callable[[], Any],
        *,
        idempotent: bool = False,
        reconcile: Callable[[], Any] | None = None,
    ) -> Any:
        field = action_key(step, tool, args)
        entry = self._get(field)
        if entry and entry["status"] == "done":
            return entry["result"]
        if entry and entry["status"] == "intent" and not idempotent:
            if reconcile is None:
                raise ActionOutcomeUnknown(tool, step)
            found = reconcile()
            if found is not NOT_FOUND:
                self._put(field, "done", tool, step, found, reconciled=True)
                return found
            # the platform shows no trace of it: the earlier attempt never took effect, so act now
        deadline.check()  # out of time: stop here, before starting another external action
        self._put(field, "intent", tool, step, None)
        try:
            result = call()
        except OutcomeUnknown:
            raise  # the intent stays: the next run reconciles or hands off
        except Exception:
            self.redis.hdel(self.key, field)  # a definite failure: nothing happened, a retry may act
            raise
        self._put(field, "done", tool, step, result)
        return result

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.redis.hgetall(self.key).values()]

    def _get(self, field: str) -> dict[str, Any] | None:
        raw = self.redis.hget(self.key, field)
        return json.loads(raw) if raw else None

    def _put(self, field: str, status: str, tool: str, step: str, result: Any, **extra: Any) -> None:
        value = {"status": status, "tool": tool, "step": step, "result": result, "at": time.time(), **extra}
        pipe = self.redis.pipeline()
        pipe.hset(self.key, field, json.dumps(value, default=str))
        pipe.expire(self.key, LEDGER_TTL)
        pipe.execute()
