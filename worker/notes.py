"""The internal notes agents read. Short, factual, the same shape on every helpdesk."""

from __future__ import annotations

from policies.engines.runtime import Handoff
from worker.conversation import Conversation

TYPE_NAMES = {
    "wismo": "Where is my order (WISMO)",
    "skip_shipment": "Skip next subscription shipment",
    "replacement": "Send a replacement",
    "cancellation": "Cancel an order",
    "other": "Other",
}


def triage_note(conversation: Conversation, reason: str) -> str:
    facts = conversation.facts
    found = [
        f"email {facts['email']}" if facts.get("email") else "no email",
        f"order {facts['order_number']}" if facts.get("order_number") else "no order number",
    ]
    type_name = TYPE_NAMES.get(conversation.ticket_type or "", conversation.ticket_type or "unknown")
    confidence = f"{conversation.confidence:.2f}" if conversation.confidence is not None else "n/a"
    return "\n".join(
        [
            "policydesk triage",
            f"Type: {type_name} (confidence {confidence})",
            f"Found: {', '.join(found)}",
            f"Routed to humans: {reason}",
        ]
    )


def failure_note(error: str) -> str:
    return "\n".join(
        [
            "policydesk could not process this ticket",
            f"What failed: {error}",
            "Nothing further will be done automatically; please handle it.",
        ]
    )


def handoff_note(conversation: Conversation, summary: Handoff, policy_id: str | None) -> str:
    """Three lines an agent can act on without re-reading the thread, then where it came from."""
    type_name = TYPE_NAMES.get(conversation.ticket_type or "", conversation.ticket_type or "unknown")
    stack = policy_id or "none"
    version = (conversation.policy.get("versions") or {}).get(policy_id or "")
    if version:
        stack = f"{stack}, version {version}"
    return "\n".join(
        [
            "policydesk handed this ticket to you",
            summary.as_text(),
            f"({type_name}; policy {stack})",
        ]
    )
