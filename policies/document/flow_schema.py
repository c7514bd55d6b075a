"""The JSON Schema of the `## Flow` language, for editors (completion, errors while typing) and tests.

Built from the step table the parser uses (policies.document.STEP_ACTIONS), so the schema and the
parser cannot disagree; `python -m policies.document.flow_schema` writes policies/document/flow.schema.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from policies.document.loader import COMMON_STEP_KEYS, STEP_ACTIONS
from policies.understanding import SLOT_TYPES

__all__ = ["SCHEMA_PATH", "flow_schema"]

SCHEMA_PATH = Path(__file__).with_name("flow.schema.json")
_TEXT = {"type": "string"}
_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
_ARGS = {"type": "object", "description": "argument: value, a $value or text with $placeholders"}
_LOGIC = {
    "description": "the numbered Logic step(s) this step implements; later steps without it belong to it too",
    "oneOf": [
        {"type": "integer", "minimum": 1},
        {"type": "array", "items": {"type": "integer", "minimum": 1}},
    ],
}
FIELDS: dict[str, dict[str, Any]] = {
    "id": {"description": "the step's name, used by goto/next", "oneOf": [_TEXT, {"type": "integer"}]},
    "next": {"description": "the step to go on at afterwards", "oneOf": [_TEXT, {"type": "integer"}]},
    "note": {"description": "a remark for people reading the flow; ignored when it runs", **_TEXT},
    "logic": _LOGIC,
    "ask": {"description": "the name the answer is kept under ($name)", **_NAME},
    "type": {"description": "the kind of answer", "enum": list(SLOT_TYPES)},
    "macro": {"description": "the reply sent (a ### name under ## Macros, or a shared one)", **_TEXT},
    "reask_macro": {"description": "the reply when the first answer was not clear", **_TEXT},
    "tries": {"description": "how many times it is asked (default 2)", "type": "integer", "minimum": 1},
    "prefill": {
        "description": "a value that answers it already, e.g. $said.received",
        "type": ["string", "boolean"],
    },
    "again": {"description": "ask even when the answer is known", "type": "boolean"},
    "from": {"description": "the list to choose from, e.g. $orders", **_TEXT},
    "show": {"description": "how each option is shown, with $item", **_TEXT},
    "on_fail": {"description": "where to go when it was not answered", **_TEXT},
    "on_change": {"description": "where a yes with a changed detail goes", **_TEXT},
    "several": {"description": "the customer may choose more than one", "type": "boolean"},
    "confirms": {
        "description": "the write a yes to this question allows",
        "type": "object",
        "properties": {"tool": _TEXT, "args": _ARGS},
        "required": ["tool", "args"],
        "additionalProperties": False,
    },
    "call": {"description": "the tool to use, e.g. get_bigcommerce_orders", **_TEXT},
    "args": _ARGS,
    "save_as": {"description": "the name its result is kept under ($name)", **_NAME},
    "branch": {
        "description": "conditions tried in order; the first true one wins",
        "type": "array",
        "items": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"if": _TEXT, "goto": _TEXT, "then": _TEXT},
                    "required": ["if"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"else": _TEXT},
                    "required": ["else"],
                    "additionalProperties": False,
                },
            ]
        },
    },
    "reply": {"description": "the reply to send, then carry on", **_TEXT},
    "handoff": {"description": "why a person takes over (for the note)", **_TEXT},
    "goto": {"description": "the step to go on at", **_TEXT},
    "policy": {"description": 'the policy to follow, quoted: "#Verify Customer"', **_TEXT},
    "with": {"description": "the followed policy's inputs", **_ARGS},
    "end": {"description": "the ticket is solved", "enum": ["resolved", True]},
}


def flow_schema() -> dict[str, Any]:
    """One step is exactly one action with the fields that action takes."""
    variants = []
    for action, extra in STEP_ACTIONS.items():
        keys = [*COMMON_STEP_KEYS, action, *extra]
        variants.append(
            {
                "title": f"{action} step",
                "type": "object",
                "properties": {key: FIELDS[key] for key in keys},
                "required": ["id", action],
                "additionalProperties": False,
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://policydesk.example/flow.schema.json",
        "title": "policydesk flow",
        "description": "The ## Flow block of a policy: a list of steps (see policies/library/README.md).",
        "type": "array",
        "minItems": 1,
        "items": {"oneOf": variants},
    }


if __name__ == "__main__":
    SCHEMA_PATH.write_text(json.dumps(flow_schema(), indent=2) + "\n")
    sys.stdout.write(f"wrote {SCHEMA_PATH}\n")
