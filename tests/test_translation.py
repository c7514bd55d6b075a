"""A customer writing in Spanish: with Claude the policy runs as usual and every reply goes out in
Spanish (translated through the real SDK against the sandbox's Messages API); the write still waits for
a plain yes to exactly that action. Without Claude the ticket goes to a person, and the customer never
gets an English reply."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from recording_port import RecordingPort
from sandbox_calls import script_claude

from connectors.claude import ClaudeSettings, claude_client
from connectors.tools import ToolRegistry, load_all_tools
from policies.document.library import PolicyLibrary
from policies.engines.engine import PolicyEngine
from policies.engines.runtime import PolicyState
from policies.understanding.claude import READING_TOOL, ClaudeReader
from policies.understanding.local import LocalReader

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

EMAIL = "awaiting.shipment@bigcommerce.example"  # owns 5012, not shipped yet
OPENER = "Hola, quiero cancelar mi pedido 5012, ya no lo necesito."


@pytest.fixture
def registry(configured: dict[str, str]) -> ToolRegistry:
    return load_all_tools()


def reading(**values: Any) -> dict[str, Any]:
    return {"tool_use": {"name": READING_TOOL, "input": {"intents": [], "answer": "unclear", **values}}}


def translation(text: str) -> dict[str, Any]:
    return {"tool_use": {"name": "write_reply", "input": {"text": text}}}


def cancels(api: requests.Session) -> list[dict[str, Any]]:
    rows = api.get(f"{api.base_url}/_sandbox/writes", params={"platform": "bigcommerce"}).json()
    return [w for w in rows if w["method"] == "PUT" and (w.get("body") or {}).get("status_id") == 5]


def context(ticket_id: str) -> dict[str, Any]:
    return {
        "customer": {"email": EMAIL, "name": "Lucía Pérez"},
        "ticket": {"id": ticket_id, "subject": "Pedido", "text": OPENER, "helpdesk": "kustomer"},
        "brand": {"name": "Acme"},
        "facts": {},
    }


def open_ticket(api: requests.Session) -> str:
    response = api.post(
        f"{api.base_url}/_sandbox/kustomer/tickets",
        json={"subject": "Pedido", "text": OPENER, "email": EMAIL, "name": "Lucía Pérez"},
    )
    response.raise_for_status()
    return str(response.json()["ticket_id"])


def test_with_claude_the_policy_runs_and_answers_in_spanish(sandbox, sandbox_api, registry):
    env = sandbox.env(claude=True)
    client = claude_client(env)
    assert client is not None
    reader = ClaudeReader(client, settings=ClaudeSettings(retries=1))
    engine = PolicyEngine(PolicyLibrary.load(), registry, env=env, client=client, reader=reader)
    script_claude(
        sandbox_api,
        "quiero cancelar",
        reading(language="es", intents=["cancel_order"], order_numbers=["5012"]),
    )
    script_claude(sandbox_api, "cancélalo", reading(language="es", answer="yes"))
    script_claude(
        sandbox_api,
        "Translate into Spanish",
        translation("El pedido 5012 aún no se ha enviado. ¿Lo cancelo ahora? Un sí o un no basta."),
        translation("Listo: el pedido 5012 está cancelado y no se enviará."),
    )
    port = RecordingPort(registry)
    ctx = context(open_ticket(sandbox_api))

    state = engine.start(PolicyState(), "single-order-cancellation", ctx, port)
    assert state.status == "waiting", (port.replies, port.handoffs)
    assert port.replies == ["El pedido 5012 aún no se ha enviado. ¿Lo cancelo ahora? Un sí o un no basta."]
    assert cancels(sandbox_api) == []

    state = engine.resume(state, "sí, cancélalo por favor", ctx, port)
    assert state.status == "resolved", (port.replies, port.handoffs)
    assert port.replies[-1] == "Listo: el pedido 5012 está cancelado y no se enviará."
    assert len(cancels(sandbox_api)) == 1


def test_without_claude_a_person_gets_it_with_the_language_named(configured, sandbox_api, registry):
    env = {k: v for k, v in configured.items() if k != "ANTHROPIC_API_KEY"}
    engine = PolicyEngine(PolicyLibrary.load(), registry, env=env, reader=LocalReader())
    assert engine.language_barrier("es") is not None and "Spanish" in str(engine.language_barrier("es"))
    port = RecordingPort(registry)

    state = engine.start(PolicyState(), "single-order-cancellation", context(open_ticket(sandbox_api)), port)

    assert state.status == "handed_off"
    assert "Spanish" in port.handoffs[0].reason
    assert port.replies == []
    assert cancels(sandbox_api) == []
