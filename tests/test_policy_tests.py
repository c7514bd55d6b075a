"""Policy tests: conversation files beside the library, run on the simulation runtime.

Every library policy's tests are played against the sandbox's world (reads over real HTTPS); they must
pass, reach every step and branch case of every flow but those listed with a reason in
policies/library/unreached.yaml, and leave the sandbox's write log empty: no store write, no
helpdesk reply or note. The command's own behaviour (a failure's first difference and exit status,
pass^K, a test saved by `write_test`) is checked on tests written in a temporary folder.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from policies.document.library import LIBRARY_DIR
from policies.engines.router import default_library
from policydesk.simulation.cli import add_test_arguments, run_policy_tests
from policydesk.simulation.policy_tests import (
    PolicyTestRunner,
    conversation_files,
    coverage,
    coverage_text,
    load_tests,
    report_text,
    write_test,
)

UNREACHED = LIBRARY_DIR / "unreached.yaml"
CANCEL = {
    "id": "cancel-5007",
    "policy": "single-order-cancellation",
    "helpdesk": "freshdesk",
    "type": "cancellation",
    "customer": "awaiting.fulfillment@bigcommerce.example",
    "opener": {"subject": "Cancel", "text": "Please cancel my order #5007, I changed my mind."},
    "turns": ["Yes"],
    "expect": {"state": "resolved", "writes": [{"cancel": "5007"}]},
}


def sandbox_writes(api: requests.Session) -> list[dict[str, Any]]:
    response = api.get(f"{api.base_url}/_sandbox/writes")
    response.raise_for_status()
    return response.json()


def run_command(argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_test_arguments(parser)
    out = io.StringIO()
    code = run_policy_tests(parser.parse_args(argv), out=out)
    return code, out.getvalue()


def test_every_library_policy_passes_its_tests_reaches_its_branches_and_writes_nothing(
    configured: dict[str, str], sandbox_api: requests.Session
) -> None:
    library = default_library()
    tests = load_tests()
    tested = {test.spec["policy"] for test in tests}
    assert tested == {doc.id for doc in library}, "every library policy ships with tests"

    results = PolicyTestRunner().run(tests)

    assert all(r.passed for r in results), report_text(results, 1)
    assert sandbox_writes(sandbox_api) == []
    report = coverage(results, library, sorted(tested))
    unreached = {item.policy: item.uncovered for item in report if item.uncovered}
    allowed = {
        policy: sorted(reasons) for policy, reasons in (yaml.safe_load(UNREACHED.read_text()) or {}).items()
    }
    assert {p: sorted(u) for p, u in unreached.items()} == allowed, coverage_text(report)


def test_a_failing_test_shows_its_first_difference_and_exits_1(
    configured: dict[str, str], tmp_path: Path, sandbox_api: requests.Session
) -> None:
    wrong = {**CANCEL, "id": "cancel-wrong", "expect": {"state": "resolved", "writes": [{"cancel": "5001"}]}}
    write_test(CANCEL, root=tmp_path)
    write_test(wrong, root=tmp_path)

    code, out = run_command(["--tests-dir", str(tmp_path)])

    assert code == 1
    lines = out.splitlines()
    assert "PASS cancel-5007" in lines
    assert "FAIL cancel-wrong: expected write not made: {'cancel': '5001'}" in lines
    assert "single-order-cancellation                      1/2  pass^1 0.50" in lines
    assert sandbox_writes(sandbox_api) == []


def test_repeat_runs_each_test_k_times_and_coverage_lists_what_was_not_reached(
    configured: dict[str, str], tmp_path: Path
) -> None:
    write_test(CANCEL, root=tmp_path)
    code, out = run_command(
        ["single-order-cancellation", "--repeat", "3", "--coverage", "--tests-dir", str(tmp_path)]
    )

    assert code == 0
    assert "-- pass^3 per policy (a test passes when each of its 3 run(s) does)" in out
    assert "single-order-cancellation                      1/1  pass^3 1.00" in out
    # one conversation that cancels an unshipped order never meets an order already shipped
    assert "    not reached: step already_shipped" in out
    assert "    not reached: step cancel\n" not in out


def test_write_test_saves_a_file_the_runner_finds_and_refuses_an_invalid_one(tmp_path: Path) -> None:
    path = write_test(CANCEL, root=tmp_path)

    assert path == tmp_path / "tests" / "single-order-cancellation" / "cancel-5007.yaml"
    assert conversation_files(tmp_path) == [path]
    (loaded,) = load_tests(root=tmp_path)
    assert loaded.spec == CANCEL
    with pytest.raises(ValueError, match="policy"):
        write_test({k: v for k, v in CANCEL.items() if k != "policy"}, root=tmp_path)
    with pytest.raises(ValueError):
        write_test({**CANCEL, "id": "bad", "expect": {"state": "gone", "writes": []}}, root=tmp_path)
    assert conversation_files(tmp_path) == [path]


def test_bad_arguments_exit_2(configured: dict[str, str], tmp_path: Path, capsys) -> None:
    assert run_command(["no-such-policy", "--tests-dir", str(tmp_path)])[0] == 2
    assert "unknown policy 'no-such-policy'" in capsys.readouterr().err
    assert run_command(["--repeat", "0"])[0] == 2
