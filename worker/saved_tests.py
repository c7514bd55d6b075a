"""Policy tests saved from the studio's test screen: one YAML text per test, per policy, in Redis.

`policydesk policies export DIR` writes them as `DIR/tests/<policy>/<test>.yaml`.
"""

from __future__ import annotations

from typing import Any

import redis
import yaml

__all__ = ["TESTS_PREFIX", "SavedTests"]

TESTS_PREFIX = "pd:studio:tests:"


class SavedTests:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def save(self, spec: dict[str, Any]) -> str:
        self.redis.hset(TESTS_PREFIX + spec["policy"], spec["id"], yaml.safe_dump(spec, sort_keys=False))
        return spec["id"]

    def of(self, policy_id: str) -> dict[str, str]:
        saved = self.redis.hgetall(TESTS_PREFIX + policy_id)
        return {str(name): str(text) for name, text in sorted(saved.items())}

    def all(self) -> dict[str, dict[str, str]]:
        found = {}
        for key in self.redis.scan_iter(f"{TESTS_PREFIX}*"):
            policy = str(key)[len(TESTS_PREFIX) :]
            found[policy] = self.of(policy)
        return found
