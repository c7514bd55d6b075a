"""The conversation suite (tests/conversation_suite/) played once through the deployed stack, its figures
held to the floors in tests/conversation_suite/thresholds.json so the bot cannot get worse unnoticed.

The suite plays about 160 conversations in waves; a second Celery worker joins the stack's own for
it. It needs more than the usual 180 s deadline when the machine is busy, hence its own timeout.
"""

from __future__ import annotations

import json

import pytest

from policydesk import conversation_suite as suite
from policydesk.stack import WorkerProcess

pytestmark = pytest.mark.timeout(420)
THRESHOLDS = json.loads((suite.SUITE / "thresholds.json").read_text())
SHARES = ("fully_correct", "right_end_state")
COUNTS = ("unasked_writes", "clear_requests_sent_to_a_person", "requests_for_a_person_ignored")


def test_the_conversation_suite_holds_its_figures(stack, customers, stack_env, data_dir):
    conversations = suite.load()
    helper = WorkerProcess(stack_env, concurrency=3, log_dir=data_dir / "logs", name="suite-worker").start()
    try:
        played = suite.play(customers, stack.url, conversations)
    finally:
        helper.stop()
    scores = [suite.score(p, stack_env) for p in played]
    measured = {"all": suite.figures(scores), **suite.breakdown(scores)["set"]}
    report = suite.report(scores)
    for name, floors in THRESHOLDS.items():
        if name.startswith("_"):
            continue
        figures = measured[name]
        for key in SHARES:
            assert figures[key] >= floors[key], f"{name} {key} {figures[key]} < {floors[key]}\n{report}"
        for key in COUNTS:
            assert figures[key] <= floors[key], f"{name} {key} {figures[key]} > {floors[key]}\n{report}"
