"""`policydesk validate` and `policydesk tools`: each mistake a CX manager can make, reported at file:line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from connectors.tools import ToolRegistry, load_all_tools
from policies.document.lint import validate_main
from policies.document.tool_menu import tools_main


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    """The real tool registry with every connector's tools."""
    return load_all_tools()


def write_policy(folder: Path, body: str, name: str = "policy.md", front: str | None = None) -> Path:
    front = front or (
        "id: test-policy\ntitle: Test Policy\nhandles: [wismo]\nplatforms: [aftership]\nengine: flow\n"
    )
    path = folder / name
    path.write_text(f"---\n{front}---\n{body}")
    return path


GOOD_FLOW = """
## Logic
1. Look up @get_aftership_orders(email) for $customer.email.

## Macros

### ask_email
What is your email, ${customer.first_name|there}?

### done
Order $orders.0.number is $orders.0.status.

## Flow

```yaml
- id: email
  ask: email
  macro: ask_email
  logic: 1
- id: orders
  call: get_aftership_orders
  args: {email: $email}
  save_as: orders
- id: check
  branch:
    - if: not $orders
      goto: nothing
- id: done
  end: resolved
  macro: done
- id: nothing
  handoff: "no orders"
```
"""
# File lines of GOOD_FLOW when written by write_policy (front matter takes lines 1-7).
LINE = {
    "logic_step": 10,
    "done_macro": 18,
    "email_step": 24,
    "orders_call": 28,
    "branch_if": 33,
    "end_macro": 37,
}

AWS_ENV = {"AFTERSHIP_API_KEY": "k", "AFTERSHIP_BASE_URL": "https://aftership.example/tracking/2025-01"}


def run_validate(
    paths: list[Path], registry: ToolRegistry, env: dict[str, str] | None = None
) -> tuple[int, str]:
    out = io.StringIO()
    code = validate_main(
        [str(p) for p in paths], out, registry=registry, env=env if env is not None else AWS_ENV
    )
    return code, out.getvalue()


def errors_of(output: str) -> list[str]:
    return [line for line in output.splitlines() if ": error: " in line]


def test_a_good_policy_passes(tmp_path: Path, registry: ToolRegistry) -> None:
    path = write_policy(tmp_path, GOOD_FLOW)
    code, output = run_validate([path], registry)
    assert code == 0, output
    assert errors_of(output) == []
    assert output.strip().endswith("1 policies checked: 0 error(s), 0 warning(s)")


def test_the_built_in_library_passes(registry: ToolRegistry) -> None:
    out = io.StringIO()
    code = validate_main([], out, registry=registry, env={})
    assert code == 0, out.getvalue()
    assert "0 error(s)" in out.getvalue()


@pytest.mark.parametrize(
    ("spelling"),
    ["@get_aftership_orders", "@GetAfterShipOrders", "@getaftershiporders", "@Get_AfterShip_Orders"],
)
def test_tool_references_resolve_in_any_spelling(
    tmp_path: Path, registry: ToolRegistry, spelling: str
) -> None:
    path = write_policy(tmp_path, GOOD_FLOW.replace("@get_aftership_orders", spelling))
    code, output = run_validate([path], registry)
    assert code == 0, output
    assert registry.resolve(spelling).name == "get_aftership_orders"


def test_unknown_tool_in_the_text(tmp_path: Path, registry: ToolRegistry) -> None:
    path = write_policy(
        tmp_path, GOOD_FLOW.replace("@get_aftership_orders(email)", "@get_afterhsip_orders(email)")
    )
    code, output = run_validate([path], registry)
    assert code == 1
    assert errors_of(output) == [
        f"{path}:{LINE['logic_step']}: error: unknown tool @get_afterhsip_orders "
        "(did you mean @get_aftership_orders?)"
    ]


def test_unknown_tool_in_the_flow(tmp_path: Path, registry: ToolRegistry) -> None:
    path = write_policy(
        tmp_path, GOOD_FLOW.replace("call: get_aftership_orders", "call: get_orders_from_mars")
    )
    code, output = run_validate([path], registry)
    assert code == 1
    assert errors_of(output) == [f"{path}:{LINE['orders_call']}: error: unknown tool @get_orders_from_mars"]


def test_unknown_policy_reference(tmp_path: Path, registry: ToolRegistry) -> None:
    body = GOOD_FLOW.replace("for $customer.email.", "for $customer.email, then #Loyalty Policy.")
    path = write_policy(tmp_path, body)
    code, output = run_validate([path], registry)
    assert code == 1
    assert errors_of(output) == [
        f"{path}:{LINE['logic_step']}: error: unknown policy reference #Loyalty Policy"
    ]


def test_policy_references_resolve_against_given_files_and_the_library(
    tmp_path: Path, registry: ToolRegistry
) -> None:
    other = write_policy(
        tmp_path,
        "## Logic\nHand off.\n",
        "other.md",
        "id: reshipment\ntitle: Reshipment Policy\nhandles: [replacement]\nengine: agent\n",
    )
    body = GOOD_FLOW.replace("for $customer.email.", "then #Reshipment Policy or #wismo-kustomer-shipengine.")
    path = write_policy(tmp_path, body)
    code, output = run_validate([path, other], registry, {**AWS_ENV, "ANTHROPIC_API_KEY": "x"})
    assert code == 0, output


def test_unknown_variable_in_text_macro_and_condition(tmp_path: Path, registry: ToolRegistry) -> None:
    body = (
        GOOD_FLOW.replace("for $customer.email.", "for $custmer.email.")
        .replace("Order $orders.0.number", "Order $order.number")
        .replace("if: not $orders", "if: not $orderz")
    )
    path = write_policy(tmp_path, body)
    code, output = run_validate([path], registry)
    assert code == 1
    errors = errors_of(output)
    assert [e.split(": error: ")[0] for e in errors] == [
        f"{path}:{LINE['logic_step']}",
        f"{path}:{LINE['done_macro']}",
        f"{path}:{LINE['branch_if']}",
    ]
    assert "unknown variable $custmer.email" in errors[0]
    assert "unknown variable $order.number" in errors[1]
    assert "unknown variable $orderz" in errors[2]


@pytest.mark.parametrize(
    ("front", "line", "message"),
    [
        ("id: x\ntitle: [unclosed\nhandles: [wismo]\n", 3, "malformed front matter"),
        (
            "id: x\ntitle: X\nhandles: [wismo]\nplatfroms: [aftership]\n",
            5,
            "unknown front matter field 'platfroms'",
        ),
        ("title: X\nhandles: [wismo]\n", 1, "front matter needs 'id'"),
        ("id: x\ntitle: X\nhandles: [wismo]\nengine: robot\n", 5, "engine must be one of flow, agent, auto"),
        ("id: x\ntitle: X\nhandles: [where_is_it]\n", 4, "unknown ticket type 'where_is_it'"),
        ("id: x\ntitle: X\nhandles: [wismo]\nhelpdesks: [zendesk]\n", 5, "unknown helpdesk 'zendesk'"),
        ("id: x\ntitle: X\nhandles: wismo: yes\n", 4, "malformed front matter"),
    ],
)
def test_malformed_front_matter(
    tmp_path: Path, registry: ToolRegistry, front: str, line: int, message: str
) -> None:
    path = write_policy(tmp_path, GOOD_FLOW, front=front)
    code, output = run_validate([path], registry)
    assert code == 1
    errors = errors_of(output)
    assert errors, output
    assert errors[0].startswith(f"{path}:{line}: error: {message}"), errors


def test_unclosed_front_matter(tmp_path: Path, registry: ToolRegistry) -> None:
    path = tmp_path / "open.md"
    path.write_text("---\nid: x\ntitle: X\n\n## Logic\n")
    code, output = run_validate([path], registry)
    assert code == 1
    assert errors_of(output) == [f"{path}:1: error: front matter is not closed: add a line '---' after it"]


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("goto: nothing", "goto: nowhere", LINE["branch_if"], "goes to unknown step 'nowhere'"),
        ("  macro: done\n", "  macro: finished\n", LINE["end_macro"], "unknown macro 'finished'"),
        (
            "  macro: ask_email\n",
            "  macro: ask_email\n  confirms: {tool: get_aftership_orders, args: {email: $email}}\n",
            LINE["email_step"] + 2,
            "only a yes_no question can confirm a change",
        ),
        (
            "  macro: ask_email\n",
            "  macro: ask_email\n  confirms: {tool: get_aftership_orders, args: {email: $email}}\n",
            LINE["email_step"] + 2,
            "@get_aftership_orders changes nothing, so nothing to confirm",
        ),
        (
            "args: {email: $email}",
            "args: {mail: $email}",
            LINE["orders_call"] + 1,
            "@get_aftership_orders has no argument 'mail'",
        ),
        ("  ask: email\n", "  ask: mood\n", LINE["email_step"], "say which type of answer 'mood' is"),
        ("  end: resolved\n", "  end: resolved\n  reply: done\n", LINE["end_macro"] - 2, "several actions"),
        (
            "  save_as: orders\n",
            "  save_as: orders\n  retry: 3\n",
            LINE["orders_call"] + 3,
            "'retry' is not a field of a call step",
        ),
        ("- if: not $orders", "- if: $orders.__class__", LINE["branch_if"], "bad condition"),
        ("- id: done\n", "- id: email\n", LINE["end_macro"] - 2, "step id 'email' is used twice"),
    ],
)
def test_flow_steps_that_point_at_nothing(
    tmp_path: Path, registry: ToolRegistry, old: str, new: str, line: int, message: str
) -> None:
    assert old in GOOD_FLOW
    path = write_policy(tmp_path, GOOD_FLOW.replace(old, new, 1))
    code, output = run_validate([path], registry)
    assert code == 1
    errors = errors_of(output)
    assert any(e.startswith(f"{path}:{line}: error: ") and message in e for e in errors), output


def test_a_write_that_waits_for_a_yes_needs_a_question_that_asks_it(tmp_path: Path) -> None:
    """The guard refuses the call at run time without the customer's yes; lint says so first."""
    registry = ToolRegistry()

    def issue_refund(order_id: str, percent: int) -> dict:
        """Refund part of an order."""
        return {"ok": True}

    registry.register(issue_refund, platform="testshop", writes=True, guards=("confirmed",))
    body = GOOD_FLOW.replace(
        "  call: get_aftership_orders\n  args: {email: $email}",
        "  call: issue_refund\n  args: {order_id: '1', percent: 5}",
    ).replace("@get_aftership_orders(email)", "@issue_refund(order_id)")
    path = write_policy(tmp_path, body)
    code, output = run_validate([path], registry)
    assert code == 1
    assert errors_of(output) == [
        f"{path}:{LINE['orders_call']}: error: step 'orders': @issue_refund runs only after the customer "
        "agrees; ask first with a yes_no step that carries 'confirms: {tool: issue_refund, args: {...}}'"
    ]

    asked = body.replace(
        "- id: orders\n",
        "- id: agree\n  ask: agree\n  type: yes_no\n  macro: ask_email\n"
        "  confirms: {tool: issue_refund, args: {order_id: '1', percent: 5}}\n- id: orders\n",
    )
    path.write_text(path.read_text(encoding="utf-8").replace(body, asked), encoding="utf-8")
    code, output = run_validate([path], registry)
    assert (code, errors_of(output)) == (0, []), output


def test_deployment_warnings_do_not_fail(tmp_path: Path, registry: ToolRegistry) -> None:
    path = write_policy(tmp_path, GOOD_FLOW)
    agent = write_policy(
        tmp_path,
        "## Logic\n1. Ask politely.\n",
        "agent.md",
        "id: agent-only\ntitle: Agent Only\nhandles: [other]\nhelpdesks: [kustomer]\nengine: agent\n",
    )
    code, output = run_validate([path, agent], registry, env={})
    assert code == 0, output
    assert (
        f"{path}:5: warning: platform 'aftership' is not configured (no credentials): policy disabled"
        in output
    )
    assert f"{agent}:6: warning: needs the Claude agent but ANTHROPIC_API_KEY is not set" in output
    assert f"{agent}:5: warning: helpdesk 'kustomer' is not configured" in output
    assert "2 policies checked: 0 error(s), 3 warning(s)" in output


def test_unreadable_and_binary_files_do_not_crash(tmp_path: Path, registry: ToolRegistry) -> None:
    binary = tmp_path / "garbage.md"
    binary.write_bytes(b"\x00\xff\xfe---\nid: [\n")
    code, output = run_validate([binary, tmp_path / "missing.md"], registry)
    assert code == 1
    assert f"{binary}:1: error: missing front matter" in output
    assert f"{tmp_path / 'missing.md'}:1: error: cannot read file" in output


def test_tools_menu_lists_every_tool(registry: ToolRegistry) -> None:
    out = io.StringIO()
    assert tools_main(out, registry, env=AWS_ENV) == 0
    rows = {line.split()[0]: line.split() for line in out.getvalue().splitlines()[1:] if line.startswith("@")}
    assert rows["@get_aftership_orders"][1:5] == ["email", "read", "aftership", "yes"]
    assert rows["@get_shipengine_orders"][1:6] == ["email,", "name?", "read", "shipengine", "no"]
    account = rows["@get_helpdesk_account_details"]
    assert account[1:5] == ["email,", "helpdesk=$ticket.helpdesk", "read", "helpdesk"]
    assert "@get_salesforce_account_details" in " ".join(account)  # the seed name, as an alias
