"""The sandbox's own control API (`/_sandbox/...`), as the connector and helpdesk tests use it:
inject faults, read what a platform was sent, look at a ticket as the sandbox holds it.

`api` is the `sandbox_api` fixture: a requests session with the sandbox's `base_url`.
"""

from __future__ import annotations

import time
from typing import Any

import requests


def inject(api: requests.Session, platform: str, **spec: Any) -> None:
    """Make the platform answer with a fault (status, retry_after, count, path_contains...)."""
    api.post(f"{api.base_url}/_sandbox/faults", json={"platform": platform, **spec}).raise_for_status()


def log(api: requests.Session, platform: str) -> list[dict[str, Any]]:
    """Every write the platform received, in order, with the faults it served marked `fault`."""
    response = api.get(f"{api.base_url}/_sandbox/writes", params={"platform": platform})
    response.raise_for_status()
    return response.json()


def served_faults(api: requests.Session, platform: str) -> list[int]:
    return [row["fault"] for row in log(api, platform) if "fault" in row]


def ticket(api: requests.Session, platform: str, ticket_id: str, timeout: float = 10) -> dict[str, Any]:
    """A helpdesk ticket as the sandbox holds it (messages, notes, tags, group, status), once the
    helpdesk has sent every reply it was given: Kustomer sends a scheduled draft at its time."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"{api.base_url}/_sandbox/{platform}/tickets/{ticket_id}")
        response.raise_for_status()
        view = response.json()
        if not view.get("drafts") or time.monotonic() > deadline:
            return view
        time.sleep(0.2)


def backfill(api: requests.Session, platform: str, **spec: Any) -> dict[str, Any]:
    """Fill the platform with other customers' records (ShipStation: `count` orders over `days`)."""
    response = api.post(f"{api.base_url}/_sandbox/{platform}/backfill", json=spec)
    response.raise_for_status()
    return response.json()


def choose_reading(api: requests.Session, platform: str, name: str, value: str) -> None:
    """Make the sandbox play one reading of a vendor behaviour no source establishes."""
    response = api.post(
        f"{api.base_url}/_sandbox/readings", json={"platform": platform, "name": name, "value": value}
    )
    response.raise_for_status()


def script_claude(api: requests.Session, match: str, *steps: dict[str, Any]) -> None:
    """Script the sandbox's Messages API: requests containing `match` get these answers in turn."""
    response = api.post(
        f"{api.base_url}/_sandbox/anthropic/scripts", json={"match": match, "steps": list(steps)}
    )
    response.raise_for_status()


def claude_requests(api: requests.Session) -> list[dict[str, Any]]:
    """Every Messages API request the sandbox received, with status and request id."""
    return api.get(f"{api.base_url}/_sandbox/anthropic/requests", params={"meta": 1}).json()
