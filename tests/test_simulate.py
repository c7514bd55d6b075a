"""The simulation runtime: policies run for real against the sandbox's reads, and nothing is written.

Each test plays a write policy to (and past) its write on the flow or the agent engine, then reads
the sandbox's own write log: it must hold no store write and no helpdesk reply or note, while the
trace holds the would-be write with the exact arguments the worker would have sent and every guard's
verdict. One test runs the same conversation on a port that really writes, to show the write log
does record such a write when one is made.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from recording_port import RecordingPort
from test_agent_engine import CANCEL_POLICY, api_requests, say, script, use

from connectors.tools import ToolRegistry, load_all_tools
from policies.engines.engine import PolicyEngine
from policies.engines.router import default_library
from policies.engines.runtime import PolicyPort, PolicyState
from policydesk.cli import main as policydesk_main
from policydesk.simulation.cli import add_arguments, simulate_main
from policydesk.simulation.render import turn_text
from policydesk.simulation.session import Simulation, SimulationError
from worker.conversation import Conversation
from worker.policy_port import derived_reference
from worker.simulation.port import SimulationPort
from worker.simulation.trace import Trace

DE = "delivered.eligible@bigcommerce.example"  # owns 5001, delivered, eligible for a replacement
AF = "awaiting.fulfillment@bigcommerce.example"  # owns 5007, not shipped yet
SUB = "one.active@smartrr.example"  # one active subscription


def sandbox_writes(api: requests.Session) -> list[dict[str, Any]]:
    """Every write any emulated platform received: stores and helpdesks alike."""
    response = api.get(f"{api.base_url}/_sandbox/writes")
    response.raise_for_status()
    return response.json()


def play(simulation: Simulation, *turns: str) -> Trace:
    for said in turns:
        simulation.say(said)
    return simulation.trace


def verdicts(trace: Trace, tool: str) -> list[dict[str, Any]]:
    (checked,) = [e.data for e in trace.of("guards") if e.data["tool"] == tool]
    return checked["verdicts"]


@pytest.fixture
def registry(configured: dict[str, str]) -> ToolRegistry:
    return load_all_tools()


# ---- the flow engine ------------------------------------------------------------------------------


def test_a_replacement_is_simulated_to_the_end_and_nothing_is_written(
    registry: ToolRegistry, sandbox_api: requests.Session
) -> None:
    simulation = Simulation(
        "send-replacement-bigcommerce-kustomer",
        context={"customer": {"email": DE, "name": "Sam Rivera"}},
        registry=registry,
    )
    trace = play(
        simulation,
        "Order #5001 arrived damaged, both mugs are broken. Can you send a replacement?",
        "Yes, same address",
        "yes go ahead",
    )

    assert sandbox_writes(sandbox_api) == []
    assert trace.engine == "flow" and trace.end["status"] == "resolved"
    create, paid = trace.would_writes
    assert create["tool"] == "create_bigcommerce_order"
    step = next(e.step for e in trace.of("would_write") if e.data["tool"] == "create_bigcommerce_order")
    assert create["args"]["original_order_id"] == "5001" and create["args"]["user_email"] == DE
    # both mugs broke, the plate did not: only the mugs are sent again
    assert [(item["sku"], item["quantity"]) for item in create["args"]["items"]] == [("MUG-BLU", 2)]
    # the reference is the one the worker's port would send, derived from the ticket and the step
    assert create["args"]["reference"] == derived_reference(simulation.conversation.key, step)
    assert paid == {"tool": "set_order_to_paid", "args": {"order_id": "SIMULATED"}}
    assert {v["guard"]: v["holds"] for v in verdicts(trace, "create_bigcommerce_order")} == {
        "verified_customer": True,
        "owns_order": True,
        "confirmed": True,
        "eligible_for_reshipment": True,
        "one_replacement_per_order": True,
    }
    assert trace.replies[-1].startswith("All set! Replacement order SIMULATED is on its way")
    assert [e.data["lifecycle"] for e in trace.of("ticket")][-1] == "pd-resolved"


def test_a_cancellation_is_simulated_and_a_real_port_would_have_written_it(
    registry: ToolRegistry, sandbox_api: requests.Session
) -> None:
    turns = ("Please cancel my order #5007, I changed my mind.", "Yes")
    simulation = Simulation(
        "single-order-cancellation", context={"customer": {"email": AF}}, registry=registry
    )
    trace = play(simulation, *turns)

    assert sandbox_writes(sandbox_api) == []
    assert trace.would_writes == [{"tool": "cancel_bigcommerce_order", "args": {"order_id": "5007"}}]
    assert all(v["holds"] for v in verdicts(trace, "cancel_bigcommerce_order"))
    assert trace.replies[-1].startswith("Done: order 5007 is cancelled")
    assert trace.end["status"] == "resolved"

    # the same conversation on a port that really calls the tools (the helpdesk knowing the customer
    # from a ticket they opened): the write log shows the cancel
    ticket = {"subject": "Cancel", "text": turns[0], "email": AF, "name": "Fay"}
    sandbox_api.post(f"{sandbox_api.base_url}/_sandbox/kustomer/tickets", json=ticket).raise_for_status()
    engine = PolicyEngine(default_library(), registry, env={})
    port = RecordingPort(registry)
    context = simulation.conversation.context
    state = engine.start(PolicyState(), "single-order-cancellation", context, port)
    engine.resume(state, turns[1], context, port)
    (cancel,) = [w for w in sandbox_writes(sandbox_api) if w["platform"] == "bigcommerce"]
    assert cancel["path"].endswith("/v2/orders/5007") and cancel["method"] == "PUT"


def test_the_trace_shows_each_step_and_which_case_of_a_branch_held_on_what_values(
    registry: ToolRegistry, sandbox_api: requests.Session
) -> None:
    simulation = Simulation(
        "single-order-cancellation", context={"customer": {"email": AF}}, registry=registry
    )
    trace = play(simulation, "Please cancel my order #5007, I changed my mind.")

    steps = {e.data["step_id"]: e for e in trace.of("step")}
    by_status = steps["by_status"].data
    # 5007 is processing: none of the four cases held, so the flow went on to ask for the go-ahead
    assert (by_status["arm"], by_status["condition"], by_status["to"]) == (4, "no case held", "confirm")
    assert by_status["values"]["order.status"] == "processing"
    check = steps["check_order"].data  # in #Find Order, which the policy follows
    assert (check["condition"], check["to"]) == ("else", "found")
    assert steps["email"].data["outcome"] == "already known"  # in #Verify Customer
    assert steps["confirm"].data["outcome"] == "asked"
    assert [e.step for e in trace.of("step")][:3] == [
        "single-order-cancellation/already_verified/1",
        "single-order-cancellation/verify/1",
        "verify-customer/email/1",
    ]
    lines = turn_text(trace.events, "single-order-cancellation").splitlines()
    assert (
        "      [by_status/1] branch: no case held -> confirm (order.status=processing, said.received=not set)"
        in lines
    )
    assert sandbox_writes(sandbox_api) == []


def test_a_skip_is_simulated_with_the_next_delivery_it_would_move_to(
    registry: ToolRegistry, sandbox_api: requests.Session
) -> None:
    simulation = Simulation(
        "skip-next-shipment-smartrr", context={"customer": {"email": SUB}}, registry=registry
    )
    trace = play(simulation, "Hi, please skip my next box, thanks!", "Yes please")

    assert sandbox_writes(sandbox_api) == []
    ((write, result),) = [(e.data, e.data["result"]) for e in trace.of("would_write")]
    assert write["tool"] == "skip_smartrr_next_delivery"
    read = next(e.data["result"] for e in trace.of("read") if e.data["tool"] == "get_smartrr_account_details")
    subscription = next(s for s in read["subscriptions"] if s["id"] == write["args"]["subscription_id"])
    assert result["simulated"] is True and result["skipped_dates"][-1] == subscription["next_delivery"]
    assert result["next_delivery"] > subscription["next_delivery"]
    assert trace.end["status"] == "resolved"


def test_a_message_after_the_end_goes_to_a_person_and_is_only_captured(
    registry: ToolRegistry, sandbox_api: requests.Session
) -> None:
    simulation = Simulation(
        "single-order-cancellation", context={"customer": {"email": AF}}, registry=registry
    )
    play(simulation, "Please cancel my order #5007, I changed my mind.", "Yes", "one more thing")
    assert sandbox_writes(sandbox_api) == []
    note = simulation.trace.of("note")[-1].data["text"]
    assert "the customer wrote again after the policy had finished" in note


# ---- the agent engine -------------------------------------------------------------------------------


@pytest.fixture
def agent_policy(tmp_path: Path) -> Path:
    path = tmp_path / "agent-cancel.md"
    path.write_text(CANCEL_POLICY)
    return path


@pytest.fixture
def agent_env(configured: dict[str, str], sandbox) -> dict[str, str]:
    return {**configured, **sandbox.env(claude=True), "POLICYDESK_CLAUDE_MAX_WAIT": "0.2"}


def test_the_agent_engine_is_simulated_and_its_confirmed_cancel_recorded(
    registry: ToolRegistry, sandbox_api: requests.Session, agent_policy: Path, agent_env: dict[str, str]
) -> None:
    script(
        sandbox_api,
        "sim-agent-cancel",
        use("get_bigcommerce_account_details", email=AF),
        use("bigcommerce_order_details", order_id="5007"),
        say(
            "Order #5007 hasn't shipped yet. Shall I cancel it?",
            confirms={"tool": "cancel_bigcommerce_order", "args": {"order_id": "5007"}},
        ),
        use("cancel_bigcommerce_order", order_id="5007"),
        say("Done: order #5007 is cancelled and won't ship."),
        {"tool_use": {"name": "resolve", "input": {}}},
    )
    simulation = Simulation(
        str(agent_policy), context={"customer": {"email": AF}}, env=agent_env, registry=registry
    )
    trace = play(simulation, "Please cancel order 5007 [sim-agent-cancel]", "Yes please, cancel it.")

    assert trace.engine == "agent"
    assert sandbox_writes(sandbox_api) == []
    assert trace.would_writes == [{"tool": "cancel_bigcommerce_order", "args": {"order_id": "5007"}}]
    assert all(v["holds"] for v in verdicts(trace, "cancel_bigcommerce_order"))
    assert trace.replies == [
        "Order #5007 hasn't shipped yet. Shall I cancel it?",
        "Done: order #5007 is cancelled and won't ship.",
    ]
    # the model was told the cancel succeeded, with the simulated result
    told = json.dumps(api_requests(sandbox_api)[-1]["messages"])
    assert '\\"canceled\\": true' in told and "simulated" in told


def test_a_write_the_guards_refuse_shows_as_refused(
    registry: ToolRegistry, sandbox_api: requests.Session, agent_policy: Path, agent_env: dict[str, str]
) -> None:
    script(
        sandbox_api,
        "sim-agent-refusal",
        use("get_bigcommerce_account_details", email=AF),
        use("cancel_bigcommerce_order", order_id="5007"),
        use("cancel_bigcommerce_order", order_id="5007"),
        say("All done!"),
    )
    simulation = Simulation(
        str(agent_policy), context={"customer": {"email": AF}}, env=agent_env, registry=registry
    )
    trace = play(simulation, "cancel 5007 now [sim-agent-refusal]")

    assert sandbox_writes(sandbox_api) == []
    assert trace.would_writes == []
    first = trace.refused[0]
    assert first["tool"] == "cancel_bigcommerce_order" and first["args"] == {"order_id": "5007"}
    assert first["reason"].startswith("order 5007 is not one of the verified customer's orders")
    held = {v["guard"]: v["holds"] for v in verdicts_of_first(trace)}
    assert held == {
        "verified_customer": True,
        "owns_order": False,
        "confirmed": False,
        "cancellable_status": False,
    }
    assert trace.end["status"] == "handed_off" and trace.end["refused_writes"] == 2


def verdicts_of_first(trace: Trace) -> list[dict[str, Any]]:
    return trace.of("guards")[0].data["verdicts"]


# ---- the port itself -------------------------------------------------------------------------------


def test_the_port_holds_no_write_function_and_a_direct_write_is_only_recorded(
    registry: ToolRegistry, sandbox_api: requests.Session
) -> None:
    trace = Trace("p", "flow", "the sandbox")
    port = SimulationPort(
        registry, Conversation("kustomer", "T-1"), trace, today=__import__("datetime").date.today()
    )
    assert isinstance(port, PolicyPort)
    write_functions = {id(t.func) for t in registry.all() if t.writes}
    reachable = {id(t.func) for t in port._reads.all()}
    assert write_functions and not write_functions & reachable
    assert not any(isinstance(value, ToolRegistry) and value is registry for value in vars(port).values())

    # even without the guards in front, a write is recorded, never made
    result = port.call_tool("k/1/1", "cancel_bigcommerce_order", {"order_id": "5007"})
    assert result["simulated"] is True and sandbox_writes(sandbox_api) == []
    assert trace.would_writes == [{"tool": "cancel_bigcommerce_order", "args": {"order_id": "5007"}}]


# ---- the command -------------------------------------------------------------------------------------


def run_command(argv: list[str], stdin: str = "") -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = io.StringIO()
    code = simulate_main(parser.parse_args(argv), stdin=io.StringIO(stdin), out=out)
    return code, out.getvalue()


def test_the_command_plays_a_script_and_prints_replies_then_the_trace(
    configured: dict[str, str], tmp_path: Path, sandbox_api: requests.Session
) -> None:
    turns = tmp_path / "cancel.yaml"
    turns.write_text(
        "context:\n  customer: {email: awaiting.fulfillment@bigcommerce.example}\n"
        "turns:\n  - Please cancel my order #5007, I changed my mind.\n  - 'Yes'\n"
    )
    code, out = run_command(["single-order-cancellation", "--script", str(turns), "--json"])
    assert code == 0
    assert "policydesk: Done: order 5007 is cancelled" in out
    assert 'WOULD @cancel_bigcommerce_order(order_id="5007")  (simulated, not sent)' in out
    assert "guards on @cancel_bigcommerce_order: verified_customer holds" in out
    assert "end: resolved; 1 write(s) simulated, 0 refused" in out
    dumped = json.loads(out[out.index("\n{") :])
    assert dumped["end"]["status"] == "resolved"
    assert sandbox_writes(sandbox_api) == []  # the command's own sandbox, and the shared one, untouched


def test_the_command_reads_typed_turns_until_an_empty_line(configured: dict[str, str]) -> None:
    code, out = run_command(
        ["single-order-cancellation", "--context", f"customer.email={AF}", "--helpdesk", "freshdesk"],
        stdin="Please cancel my order #5007\n\nYes\n",
    )
    assert code == 0 and "on freshdesk" in out
    assert out.count("customer> ") == 2  # the second prompt got the empty line and ended it
    assert "end: waiting, waiting for confirm_cancel" in out


def test_bad_input_is_a_message_and_exit_status_2(
    configured: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert policydesk_main(["simulate", "no-such-policy", "--script", "/dev/null"]) == 2
    assert policydesk_main(["simulate", "no-such-policy", "--context", "customer.email=a@b.example"]) == 2
    assert "unknown policy 'no-such-policy'; the library has:" in capsys.readouterr().err
    assert policydesk_main(["simulate", "single-order-cancellation", "--context", "email=x"]) == 2
    assert "expected ROOT.KEY=VALUE" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing to say\n")
    assert policydesk_main(["simulate", "single-order-cancellation", "--script", str(empty)]) == 2
    assert "has no customer turns" in capsys.readouterr().err
    with pytest.raises(SimulationError, match="unknown helpdesk"):
        Simulation("single-order-cancellation", helpdesk="zendesk")


def test_live_reads_use_the_configured_platforms_and_still_write_nothing(
    configured: dict[str, str], tmp_path: Path, sandbox_api: requests.Session
) -> None:
    """With --live-reads no sandbox is started: the configured platforms (here the test sandbox,
    standing in for a store) answer the reads, and their write log stays empty."""
    turns = tmp_path / "cancel.txt"
    turns.write_text("Please cancel my order #5007, I changed my mind.\nYes\n")
    code, out = run_command(
        [
            "single-order-cancellation",
            "--live-reads",
            "--context",
            f"customer.email={AF}",
            "--script",
            str(turns),
        ]
    )
    assert code == 0 and "reads from the store's platforms, read-only" in out
    assert 'WOULD @cancel_bigcommerce_order(order_id="5007")' in out
    assert sandbox_writes(sandbox_api) == []
