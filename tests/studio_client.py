"""Logging in to the studio with Flask's test client, reading the CSRF token the way a browser would."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

PASSWORD = "studio-password-for-tests"
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/studio/login") -> str:
    page = client.get(path)
    found = _TOKEN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1) or found.group(2)


def log_in(client: FlaskClient, name: str = "Ana", password: str = PASSWORD):
    return client.post(
        "/studio/login", data={"name": name, "password": password, "csrf_token": csrf_token(client)}
    )
