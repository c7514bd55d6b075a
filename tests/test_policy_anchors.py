"""The numbered steps and the flow as one: validate checks both ways, explain reads the flow back,
and the flow language has a JSON Schema every library flow satisfies."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from connectors.tools import ToolRegistry, load_all_tools
from policies.document.flow_schema import SCHEMA_PATH, flow_schema
from policies.document.layers import active_library
from policies.document.library import LIBRARY_DIR
from policies.document.lint import validate_main
from policies.language.expressions import FUNCTIONS
from policydesk.cli import main as policydesk_main

POLICY = """---
id: gift-wrap
title: Gift Wrap
description: Customer asks whether their order can be gift wrapped
handles: [other]
engine: flow
---

## Logic

1. Verify the customer with #Verify Customer.
2. Find the order with #Find Order, in BigCommerce, and look at it with @get_bigcommerce_orders(email).
3. Tell them a colleague wraps it:
   a colleague adds it with @set_discount_to_order(order_id, percent) (left to a person).

## Macros

### wrapped
A colleague will wrap order $order.number.

## Flow

```yaml
- id: verify
  logic: 1
  policy: "#Verify Customer"
- id: find
  logic: 2
  policy: "#Find Order"
  with: {store: BigCommerce}
- id: tell
  logic: 3
  handoff: "gift wrap for order $order.number"
  macro: wrapped
```
"""


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return load_all_tools()


def lint(tmp_path: Path, text: str, registry: ToolRegistry) -> str:
    path = tmp_path / "gift-wrap.md"
    path.write_text(text)
    out = io.StringIO()
    validate_main([str(path)], out, registry=registry, env={})
    return out.getvalue()


def test_a_policy_whose_steps_and_flow_agree_passes(tmp_path: Path, registry: ToolRegistry) -> None:
    assert "0 error(s)" in lint(tmp_path, POLICY, registry)


def test_a_numbered_step_the_flow_does_not_do_is_an_error(tmp_path: Path, registry: ToolRegistry) -> None:
    text = POLICY.replace("## Macros", "4. Send them a photo of the wrapping.\n\n## Macros")
    assert "numbered step 4 is not implemented by the flow" in lint(tmp_path, text, registry)
    left = text.replace("photo of the wrapping.", "photo of the wrapping (left to a person).")
    assert "0 error(s)" in lint(tmp_path, left, registry)


def test_a_tool_only_the_flow_knows_and_one_only_the_prose_names_are_errors(
    tmp_path: Path, registry: ToolRegistry
) -> None:
    text = POLICY.replace(
        "  macro: wrapped\n```",
        "  macro: wrapped\n- id: late\n  call: get_tracking_info\n"
        "  args: {order_id_or_tracking_number: $order.id}\n```",
    )
    assert "the flow calls @get_tracking_info, which the prose does not name" in lint(
        tmp_path, text, registry
    )
    named = POLICY.replace("(left to a person).", "and @upgrade_shipping(order_id).")
    output = lint(tmp_path, named, registry)
    assert "@upgrade_shipping is named in the prose but the flow never calls it" in output
    assert "@set_discount_to_order is named in the prose but the flow never calls it" in output


def test_a_followed_policy_must_be_named_and_take_the_inputs_given(
    tmp_path: Path, registry: ToolRegistry
) -> None:
    text = POLICY.replace("1. Verify the customer with #Verify Customer.", "1. Verify the customer.")
    assert "the flow follows #Verify Customer, which the prose does not name" in lint(
        tmp_path, text, registry
    )
    wrong = POLICY.replace("with: {store: BigCommerce}", "with: {shop: BigCommerce}")
    assert "#Find Order has no input 'shop'" in lint(tmp_path, wrong, registry)


def test_explain_reads_the_flow_back_under_its_numbered_steps(capsys) -> None:
    assert policydesk_main(["explain", "#Send Replacement"]) == 0
    out = capsys.readouterr().out
    verify = out.index("1. Verify the customer with #Verify Customer")
    assert out.index("[verify] Follow #Verify Customer (store: BigCommerce)") > verify
    problem = out.index("3. Establish the problem")
    assert out.index("if said problem is 'lost': go on at \"not_received\"") > problem
    assert "> I'm sorry about order $order.number. What went wrong?" in out  # the reply itself
    shared = policydesk_main(["explain", "#Verify Customer"]) == 0 and capsys.readouterr().out
    assert "saying *handing_over* (shared reply):" in shared
    assert "> Thanks for your patience." in shared


def test_the_committed_schema_is_the_one_the_parser_implies() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == flow_schema()


def test_every_library_flow_satisfies_the_schema_and_a_broken_one_does_not() -> None:
    import yaml

    validator = jsonschema.Draft202012Validator(flow_schema())
    for doc in active_library({}):
        if doc.flow:
            raw = yaml.safe_load(doc.source.split("```yaml\n", 1)[1].split("\n```", 1)[0])
            assert not list(validator.iter_errors(raw)), doc.id
    broken = [{"id": "a", "ask": "email", "goto": "b"}, {"id": "b", "call": "x", "macro": "y"}]
    assert len(list(validator.iter_errors(broken))) == 2


def test_every_condition_function_is_in_the_authors_guide() -> None:
    guide = (LIBRARY_DIR / "README.md").read_text()
    for name in FUNCTIONS:
        assert f"`{name}(" in guide, name
