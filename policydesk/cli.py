"""The `policydesk` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="policydesk", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole stack on sandbox data and show what it does")
    demo.add_argument("--keep", action="store_true", help="leave the demo's data folder for inspection")

    sandbox = commands.add_parser("sandbox", help="serve the emulated platform APIs (HTTPS)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8443)

    commands.add_parser("classify", help='classify JSON lines {"id","text"} from stdin')

    validate = commands.add_parser("validate", help="lint policy documents (default: the built-in library)")
    validate.add_argument("paths", nargs="*", help="policy files or folders")

    from policydesk.simulation.cli import add_arguments as simulate_arguments

    simulate = commands.add_parser("simulate", help="try a policy on a conversation, every write simulated")
    simulate_arguments(simulate)

    from policydesk.simulation.cli import add_backtest_arguments, add_test_arguments

    test = commands.add_parser(
        "test", help="run policies' tests (conversation files) on the simulation runtime"
    )
    add_test_arguments(test)

    backtest = commands.add_parser("backtest", help="what policydesk would have done with past tickets")
    add_backtest_arguments(backtest)

    from policydesk.policies_cli import add_arguments as policies_arguments

    policies = commands.add_parser(
        "policies",
        help="active policies and where each came from; init DIR; diff ID [V1 V2]; export DIR (studio)",
    )
    policies_arguments(policies)

    explain = commands.add_parser(
        "explain", help="a policy's flow read back as its numbered steps, with replies"
    )
    explain.add_argument("policy", help="policy id, title or #reference")

    commands.add_parser("tools", help="list every tool a policy can call, like the @ menu of an editor")

    shadow = commands.add_parser("shadow", help="what policies in shadow or draft mode would have done")
    shadow.add_argument("action", choices=["report"])

    commands.add_parser("offers", help="retention offers: tickets kept and cancelled per policy variant")

    redis_cmd = commands.add_parser("redis", help="the embedded Redis used when REDIS_URL is unset")
    redis_cmd.add_argument("action", choices=["start", "stop", "url"])

    letters = commands.add_parser("deadletters", help="events that failed and could not be handed off")
    letters.add_argument("action", choices=["list", "replay", "drop"])
    letters.add_argument("ids", nargs="*", help="dead letter ids (replay/drop); --all for every one")
    letters.add_argument("--all", action="store_true", help="replay or drop every dead letter")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handler = {
        "demo": _demo,
        "sandbox": _sandbox,
        "classify": _classify,
        "validate": _validate,
        "simulate": _simulate,
        "backtest": _backtest,
        "test": _test,
        "tools": _tools,
        "explain": _explain,
        "offers": _offers,
        "policies": _policies,
        "shadow": _shadow,
        "redis": _redis,
        "deadletters": _deadletters,
    }[args.command]
    return handler(args)


def _demo(args: argparse.Namespace) -> int:
    from policydesk.demo import run_demo

    return run_demo(keep=args.keep)


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox.server import SandboxServer
    from worker.embedded_redis import data_dir

    server = SandboxServer(args.host, args.port, cert_dir=data_dir() / "tls", access_log=True)
    print(f"sandbox listening on {server.url}  (control API: {server.url}/_sandbox/health)")
    print("point policydesk at it with:")
    for key, value in sorted(server.env().items()):
        print(f"  export {key}={value}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _classify(args: argparse.Namespace) -> int:
    from policies.understanding.classify_cli import main as classify_main

    return classify_main(sys.stdin, sys.stdout)


def _validate(args: argparse.Namespace) -> int:
    from policies.document.lint import validate_main

    return validate_main(args.paths, sys.stdout)


def _simulate(args: argparse.Namespace) -> int:
    from policydesk.simulation.cli import simulate_main

    return simulate_main(args)


def _backtest(args: argparse.Namespace) -> int:
    from policydesk.simulation.cli import backtest_main

    return backtest_main(args)


def _test(args: argparse.Namespace) -> int:
    from policydesk.simulation.cli import run_policy_tests

    return run_policy_tests(args)


def _tools(args: argparse.Namespace) -> int:
    from policies.document.tool_menu import tools_main

    return tools_main(sys.stdout)


def _policies(args: argparse.Namespace) -> int:
    from policydesk.policies_cli import policies_main

    return policies_main(args, sys.stdout)


def _explain(args: argparse.Namespace) -> int:
    from policies.document.explain import explain
    from policies.document.layers import active_library

    library = active_library()
    doc = library.find(args.policy)
    if doc is None:
        print(f"no active policy {args.policy!r} (see policydesk policies)", file=sys.stderr)
        return 1
    sys.stdout.write(explain(doc, library))
    return 0


def _offers(args: argparse.Namespace) -> int:
    from worker.offers import offer_report
    from worker.redis_conn import get_redis

    rows = offer_report(get_redis())
    if not rows:
        print("no offer outcomes recorded yet")
        return 0
    print(f"{'POLICY':<48} {'VARIANT':<10} {'KEPT':>6} {'CANCELLED':>10} {'KEEP RATE':>10}")
    for row in rows:
        rate = f"{row.keep_rate:.0%}" if row.keep_rate is not None else "-"
        print(f"{row.policy:<48} {row.variant:<10} {row.kept:>6} {row.cancelled:>10} {rate:>10}")
    return 0


def _shadow(args: argparse.Namespace) -> int:
    from worker.redis_conn import get_redis
    from worker.rehearsal import rehearsal_report, report_text

    print(report_text(rehearsal_report(get_redis())))
    return 0


def _redis(args: argparse.Namespace) -> int:
    from worker import embedded_redis
    from worker.redis_conn import resolve_redis_url

    folder: Path = embedded_redis.data_dir()
    if args.action == "stop":
        print("stopped" if embedded_redis.stop(folder) else "not running")
        return 0
    url = resolve_redis_url()
    print(url if args.action == "url" else f"running: {url.split('@')[-1]}")
    return 0


def _deadletters(args: argparse.Namespace) -> int:
    """list: one line per dead letter; replay: re-enqueue (the worker reads everything from the
    helpdesk again, so a replay after the cause is fixed simply processes the ticket); drop: delete."""
    from worker import deadletters
    from worker.redis_conn import get_redis

    client = get_redis()
    letters = deadletters.listing(client)
    if args.action == "list":
        if not letters:
            print("no dead letters")
        for letter in letters:
            event = letter["event"]
            print(
                f"{letter['id']}  {event['helpdesk']}:{event['ticket_id']}  {event['kind']}  "
                f"error: {letter['error']}  hand-off: {letter['handoff_error']}"
            )
        return 0
    chosen = [letter for letter in letters if args.all or letter["id"] in args.ids]
    missing = set(args.ids) - {letter["id"] for letter in letters}
    if not chosen and not missing:
        print("name dead letter ids, or --all")
        return 2
    for letter in chosen:
        if args.action == "replay":
            from worker.events import TicketEvent
            from worker.intake import accept

            accept(TicketEvent.from_dict({**letter["event"], "event_id": None}))
        deadletters.drop(client, letter["id"])
        print(f"{'replayed' if args.action == 'replay' else 'dropped'} {letter['id']}")
    for letter_id in sorted(missing):
        print(f"no dead letter {letter_id}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
