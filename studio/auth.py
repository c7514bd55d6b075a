"""Who may open the studio and `/metrics`: off unless a password or a users file is configured.

- POLICYDESK_STUDIO_PASSWORD: one shared password; the name typed at login is recorded as the author
  of what that person publishes (it is not proof of who they are).
- POLICYDESK_STUDIO_USERS: a file of `name:hash` lines, the hash made by werkzeug's
  generate_password_hash (`policydesk studio-password` prints one); names are then accounts.

Failed logins are counted in Redis per client address and per name (so every web worker sees the same
count): after LOGIN_ATTEMPTS failures in LOGIN_WINDOW seconds, logins from there answer 429 until the
window passes. Passwords are compared in constant time. The session cookie is signed with
POLICYDESK_STUDIO_SECRET_KEY, or with a key derived from the configured credentials, so every web
worker accepts every other's cookie and changing the password logs everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import redis
from werkzeug.security import check_password_hash

__all__ = ["LOGIN_ATTEMPTS", "LOGIN_WINDOW", "LoginLimiter", "StudioAuth", "load_auth"]

LOGIN_ATTEMPTS = 5
LOGIN_WINDOW = 15 * 60
PASSWORD_VAR = "POLICYDESK_STUDIO_PASSWORD"  # noqa: S105 (the name of the variable)
USERS_VAR = "POLICYDESK_STUDIO_USERS"
SECRET_VAR = "POLICYDESK_STUDIO_SECRET_KEY"  # noqa: S105
# a real hash to compare against when the name is unknown, so an unknown name takes as long as a known one
_DUMMY_HASH = "scrypt:32768:8:1$policydesk$" + "0" * 128


@dataclass(frozen=True)
class StudioAuth:
    password: str | None
    users: dict[str, str]  # name -> werkzeug password hash
    secret_key: str

    def check(self, name: str, password: str) -> bool:
        if self.users:
            stored = self.users.get(name)
            matched = check_password_hash(stored or _DUMMY_HASH, password)
            return matched and stored is not None
        if self.password is None:
            return False
        return hmac.compare_digest(password.encode(), self.password.encode()) and bool(name.strip())


def _read_users(path: str) -> dict[str, str]:
    users: dict[str, str] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, _, hashed = line.partition(":")
        if name.strip() and hashed.strip():
            users[name.strip()] = hashed.strip()
    return users


def load_auth(env: Mapping[str, str] = os.environ) -> StudioAuth | None:
    """The studio's credentials, or None when the studio is off (nothing configured)."""
    password = env.get(PASSWORD_VAR) or None
    users_file = env.get(USERS_VAR) or None
    users = _read_users(users_file) if users_file else {}
    if not password and not users:
        return None
    material = env.get(SECRET_VAR) or ""
    if not material:
        seed = password or "\n".join(f"{k}:{v}" for k, v in sorted(users.items()))
        material = hmac.new(b"policydesk-studio-session", seed.encode(), hashlib.sha256).hexdigest()
    return StudioAuth(password=password, users=users, secret_key=material)


# the window starts at the first failure (EXPIRE ... NX needs Redis 7; the embedded server is 6.2)
_COUNT_FAILURE = """
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 1
"""


class LoginLimiter:
    """Failed logins per address and per name, in Redis with a fixed window."""

    def __init__(self, client: redis.Redis, attempts: int = LOGIN_ATTEMPTS, window: int = LOGIN_WINDOW):
        self.redis = client
        self.attempts = attempts
        self.window = window

    def _keys(self, address: str, name: str) -> list[str]:
        hashed = hashlib.sha256(name.strip().lower().encode()).hexdigest()[:16]
        return [f"pd:studio:login-fail:addr:{address}", f"pd:studio:login-fail:name:{hashed}"]

    def blocked_for(self, address: str, name: str) -> int:
        """Seconds until a login from here may be tried again; 0 when it may be tried now."""
        waits = [
            max(1, int(self.redis.ttl(key)))
            for key in self._keys(address, name)
            if int(self.redis.get(key) or 0) >= self.attempts
        ]
        return max(waits, default=0)

    def failed(self, address: str, name: str) -> None:
        self.redis.eval(_COUNT_FAILURE, 2, *self._keys(address, name), str(self.window))

    def succeeded(self, address: str, name: str) -> None:
        self.redis.delete(self._keys(address, name)[1])
