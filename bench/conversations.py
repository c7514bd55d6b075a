"""The conversation suite through the whole stack: `python bench/conversations.py`.

Starts an embedded Redis, the sandbox, gunicorn and a Celery worker (as `policydesk demo` does), plays
every conversation of tests/conversation_suite/ (dev and held-out sets), and prints what the suite
measures: conversations fully correct (right end state, right store writes, no wrong or pointless bot
message), right end state, conversations with a write the customer did not ask for, clear requests sent
to a person because the first message was not understood, and requests for a person that were ignored;
overall, per set, per helpdesk and per type. Failing conversations of the dev set are listed with their
first difference; the held-out set's are only counted.

    --set dev|heldout   play one set only
    --only ID           play one conversation (repeatable)
    --json PATH         also write the figures and every conversation's result as JSON
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policydesk import conversation_suite as suite  # noqa: E402
from policydesk.stack import local_stack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=suite.SETS, action="append")
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workers", type=int, default=4, help="Celery worker processes")
    args = parser.parse_args()
    conversations = suite.load(sets=args.set or suite.SETS)
    if args.only:
        conversations = [c for c in conversations if c.id in args.only]

    folder = Path(".policydesk/bench-conversations").resolve()
    shutil.rmtree(folder, ignore_errors=True)
    offline = {
        "ANTHROPIC_API_KEY": "",
        "KUSTOMER_SEND_DELAY_SECONDS": "1",  # the scheduled-send window; short so turns follow quickly
    }
    with local_stack(folder, env=offline, workers=args.workers) as stack:
        started = time.monotonic()
        played = suite.play(stack.customers, stack.web.url, conversations)
        elapsed = time.monotonic() - started
        env = stack.env
    scores = [suite.score(p, env) for p in played]
    print(
        f"{len(played)} conversations played in {elapsed:.0f} s ({len(suite.waves(conversations))} waves)\n"
    )
    print(suite.report(scores))
    if args.json:
        args.json.write_text(json.dumps(_results(scores, played), indent=2))
    return 0


def _results(scores: list[suite.Score], played: list[suite.Played]) -> dict:
    by_id = {p.conversation.id: p for p in played}
    return {
        "figures": suite.figures(scores),
        "per": suite.breakdown(scores),
        "conversations": [
            {
                "id": s.conversation.id,
                "set": s.conversation.set,
                "fully_correct": s.fully_correct,
                "end_ok": s.end_ok,
                "differences": s.differences if s.conversation.set == "dev" else [],
                "replies": by_id[s.conversation.id].view.get("replies")
                if s.conversation.set == "dev"
                else None,
                "writes": by_id[s.conversation.id].writes,
            }
            for s in scores
        ],
    }


if __name__ == "__main__":
    raise SystemExit(main())
