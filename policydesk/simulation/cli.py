"""`policydesk simulate POLICY`: the test screen in the terminal.

Reads come from a sandbox started in this process (every platform's env is pointed at it for the
run), or with --live-reads from the store's configured platforms; either way every write is only
recorded and nothing is sent to a helpdesk. Exit status: 0 when the conversation ran, 2 when it
could not start (unknown policy, a bad context or script).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from connectors.helpdesk import HELPDESKS

if TYPE_CHECKING:
    from policydesk.simulation.session import Simulation

PROMPT = "customer> "
BACKTEST_LIMIT = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", help="a library policy's id or title, or a policy file (.md)")
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="ROOT.KEY=VALUE",
        help="context the helpdesk would give, e.g. customer.email=jane@example.com (repeatable)",
    )
    parser.add_argument(
        "--context-file", type=Path, help="a JSON file {customer, ticket, brand, facts, today}"
    )
    parser.add_argument("--helpdesk", choices=HELPDESKS)
    parser.add_argument("--script", type=Path, help="play these customer turns instead of prompting")
    parser.add_argument(
        "--live-reads",
        action="store_true",
        help="read from the store's configured platforms (read-only; the helpdesk is never called)",
    )
    parser.add_argument("--json", action="store_true", help="print the whole trace as JSON at the end")


def add_backtest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        type=Path,
        nargs="?",
        help='JSON lines {"id", "text", "subject", "email", "name", "helpdesk"}; without it, --from reads '
        "the helpdesk's API",
    )
    parser.add_argument("--helpdesk", choices=HELPDESKS, default="kustomer")
    parser.add_argument(
        "--from",
        dest="since",
        type=_day,
        metavar="YYYY-MM-DD",
        help="read the tickets created from this day on from the helpdesk's API (read-only)",
    )
    parser.add_argument(
        "--to", dest="until", type=_day, metavar="YYYY-MM-DD", help="up to this day, included (default today)"
    )
    parser.add_argument(
        "--limit", type=int, default=BACKTEST_LIMIT, help=f"at most this many (default {BACKTEST_LIMIT})"
    )
    parser.add_argument(
        "--live-reads", action="store_true", help="read from the store's configured platforms"
    )


def add_test_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policies", nargs="*", metavar="POLICY", help="library policies (default: every one)")
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="K", help="run each test K times; it passes only if all do"
    )
    parser.add_argument(
        "--coverage", action="store_true", help="also list the flow steps and branch cases no test reached"
    )
    parser.add_argument(
        "--tests-dir",
        type=Path,
        metavar="DIR",
        help="where the tests are: every .yaml in a `tests` folder under DIR (default: the library's)",
    )


def run_policy_tests(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """0 when every test passed each of its K runs, 1 when one did not, 2 when they could not run."""
    from policydesk.simulation.policy_tests import (
        PolicyTestRunner,
        coverage,
        coverage_text,
        load_tests,
        report_text,
    )
    from policydesk.simulation.session import SimulationError

    out = out or sys.stdout
    if args.repeat < 1:
        print("policydesk test: --repeat must be at least 1", file=sys.stderr)
        return 2
    try:
        tests = load_tests(args.policies, **({"root": args.tests_dir} if args.tests_dir else {}))
        with _reads(live=False):
            runner = PolicyTestRunner()
            results = runner.run(tests, repeat=args.repeat)
    except SimulationError as exc:
        print(f"policydesk test: {exc}", file=sys.stderr)
        return 2
    if not tests:
        print("no policy tests found", file=out)
    print(report_text(results, args.repeat), file=out)
    if args.coverage:
        policies = sorted({r.policy for r in results} if args.policies else {d.id for d in runner.library})
        print(coverage_text(coverage(results, runner.library, policies)), file=out)
    return 0 if all(r.passed for r in results) else 1


def backtest_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from policydesk.simulation.backtest import backtest, read_tickets, report_text
    from policydesk.simulation.session import SimulationError

    try:
        tickets = read_tickets(args.file) if args.file else _helpdesk_tickets(args)
        with _reads(live=args.live_reads):
            verdicts = backtest(tickets, helpdesk=args.helpdesk, live_reads=args.live_reads)
    except SimulationError as exc:
        print(f"policydesk backtest: {exc}", file=sys.stderr)
        return 2
    print(report_text(verdicts), file=out or sys.stdout)
    return 0


def _helpdesk_tickets(args: argparse.Namespace) -> list[Any]:
    """The range's tickets, read from the helpdesk the environment configures (before the sandbox
    for the policies' reads is pointed at: the tickets are the store's own)."""
    from connectors.errors import PlatformError
    from connectors.helpdesk import helpdesk_client
    from policydesk.simulation.backtest import read_helpdesk
    from policydesk.simulation.session import SimulationError

    if args.since is None:
        raise SimulationError("give a JSON-lines FILE, or --from YYYY-MM-DD to read the helpdesk's tickets")
    until = (args.until or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    until += timedelta(days=1)
    if until <= args.since or args.limit < 1:
        raise SimulationError("--to must not be before --from, and --limit must be at least 1")
    try:
        desk = helpdesk_client(args.helpdesk)
        return read_helpdesk(desk, args.since, until, args.limit)
    except PlatformError as exc:
        raise SimulationError(f"cannot read the tickets from {args.helpdesk}: {exc}") from exc


def _day(text: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from exc


def simulate_main(args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    # imported here: `policydesk --help` and the other commands need none of the engines
    from policydesk.simulation.script import load_script
    from policydesk.simulation.session import Simulation, SimulationError, parse_context

    stdin, out = stdin or sys.stdin, out or sys.stdout
    try:
        script = load_script(args.script) if args.script else None
        base = _context_file(args.context_file) if args.context_file else {}
        if script and script.context:
            base = {**script.context, **base}
        context = parse_context(args.context, base)
        helpdesk = args.helpdesk or (script.helpdesk if script else None)
        with _reads(live=args.live_reads):
            simulation = Simulation(
                args.policy, context=context, helpdesk=helpdesk, live_reads=args.live_reads
            )
            _play(simulation, script.turns if script else None, stdin, out)
    except SimulationError as exc:
        print(f"policydesk simulate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(simulation.trace.to_json(), file=out)
    return 0


def _play(simulation: Simulation, turns: list[str] | None, stdin: TextIO, out: TextIO) -> None:
    from policydesk.simulation.render import end_text, turn_text

    trace = simulation.trace
    print(
        f"simulating {trace.policy} on {simulation.helpdesk} with the {trace.engine} engine, reads from "
        f"{trace.reads_from}; every write is simulated and nothing is sent",
        file=out,
    )
    if turns is None:
        print("type as the customer; an empty line or Ctrl-D ends\n", file=out)
    for said in turns if turns is not None else _typed(stdin, out):
        if turns is not None:
            print(f"{PROMPT}{said}", file=out)
        print(turn_text(simulation.say(said), trace.policy), file=out)
        print(end_text(trace.end), file=out)
        if simulation.finished:
            break
        print(file=out)


def _typed(stdin: TextIO, out: TextIO) -> Iterator[str]:
    while True:
        out.write(PROMPT)
        out.flush()
        line = stdin.readline()
        if not line.strip():
            return
        yield line.strip()


def _context_file(path: Path) -> dict[str, Any]:
    from policydesk.simulation.session import SimulationError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SimulationError(f"cannot read the context file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SimulationError(f"the context file {path} must hold a JSON object")
    return data


@contextmanager
def _reads(*, live: bool) -> Iterator[None]:
    """The sandbox for the run's reads, unless live: every platform's env points at it meanwhile."""
    if live:
        yield
        return
    from connectors.config import overridden_environ
    from sandbox.server import SandboxServer
    from worker.embedded_redis import data_dir

    sandbox = SandboxServer(cert_dir=data_dir() / "tls").start()
    try:
        with overridden_environ(sandbox.env()):
            yield
    finally:
        sandbox.stop()
