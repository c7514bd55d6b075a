"""`policydesk test`: a policy's tests, conversations written as data beside the library, run on the
simulation runtime (worker.simulation), so a store's CI can gate a policy change without any write.

A policy test is a conversation file in the conversation suite's format (tests/conversation_suite/,
its README and schema.json) with one more key, `policy:`, the library policy it runs (and optionally
`variant:`, the offer variant its ticket gets). It lives in a `tests` folder under the library:
`policies/library/tests/<policy id>/<test id>.yaml`. The customer is one of the sandbox's world, so
the reads meet the world's orders and subscriptions; every write is only recorded and compared with
`expect.writes` in the suite's vocabulary (conversation_suite.describe_would_write), and the scoring
is the suite's own (conversation_suite.score) on what the customer would have read.

The flow engine tells the simulation which step ran and which case of a branch held, so a run of
tests also says which steps and branch cases of each flow no test reached (`coverage`).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connectors.tools import ToolRegistry, load_all_tools
from policies.document.library import LIBRARY_DIR, PolicyLibrary
from policies.engines.flow import branch_arms
from policies.engines.router import default_library
from policies.understanding.classifier import Classifier, LocalClassifier
from policydesk.conversation_suite import (
    Conversation,
    Played,
    Score,
    check_conversation,
    describe_would_write,
    read_conversations,
    score,
)
from policydesk.simulation.session import Simulation, SimulationError
from sandbox import world
from worker.simulation.trace import Trace

TESTS_FOLDER = "tests"
PARALLEL_RUNS = 4
SET_NAME = "policy"


# ---- the files ------------------------------------------------------------------------------------


def conversation_files(root: Path = LIBRARY_DIR) -> list[Path]:
    """Every conversation file in a `tests` folder under the library root."""
    return sorted(p for p in root.rglob("*.yaml") if TESTS_FOLDER in p.relative_to(root).parts[:-1])


def load_tests(
    policies: Sequence[str] = (), *, root: Path = LIBRARY_DIR, library: PolicyLibrary | None = None
) -> list[Conversation]:
    """The tests of the named policies (ids or titles; all when none), each checked against the
    suite's schema and the world, and naming a policy the library has."""
    library = library or default_library()
    try:
        tests = read_conversations(conversation_files(root), SET_NAME)
    except ValueError as exc:
        raise SimulationError(f"a policy test is not valid: {exc}") from exc
    for test in tests:
        if library.find(str(test.spec.get("policy") or "")) is None:
            raise SimulationError(f"{test.path}: `policy:` must name a library policy")
    wanted = set()
    for name in policies:
        doc = library.find(name)
        if doc is None:
            raise SimulationError(f"unknown policy {name!r}")
        wanted.add(doc.id)
    return [t for t in tests if not wanted or policy_of(t, library) in wanted]


def policy_of(test: Conversation, library: PolicyLibrary | None = None) -> str:
    doc = (library or default_library()).find(str(test.spec["policy"]))
    return doc.id if doc else str(test.spec["policy"])


def file_path(spec: Mapping[str, Any], root: Path = LIBRARY_DIR) -> Path:
    return root / TESTS_FOLDER / str(spec["policy"]) / f"{spec['id']}.yaml"


def write_test(spec: Mapping[str, Any], root: Path = LIBRARY_DIR) -> Path:
    """Save one conversation as a policy test, where `policydesk test` finds it, and return its path.

    `spec` is a conversation in the suite's format with `policy:` set (what a test screen's "Save
    as test" gives: the helpdesk, the customer, the opener and turns, and the expected end, writes
    and wording). It is checked first: a spec the schema or the world refuses raises ValueError and
    nothing is written."""
    spec = dict(spec)
    if not spec.get("policy"):
        raise ValueError("a policy test needs `policy:`, the library policy it runs")
    check_conversation(spec, str(spec.get("id")))
    path = file_path(spec, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
    return path


# ---- running ----------------------------------------------------------------------------------------


@dataclass
class PolicyTestRun:
    """One run of one test: what was played, how it scored, and the trace."""

    played: Played
    score: Score
    trace: Trace | None


@dataclass
class PolicyTestResult:
    """Every run of one test (K with --repeat K): it passes only when each one does."""

    test: Conversation
    policy: str
    runs: list[PolicyTestRun] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(run.score.fully_correct for run in self.runs)

    @property
    def first_difference(self) -> str:
        failing = [run for run in self.runs if not run.score.fully_correct]
        if not failing:
            return ""
        differences = failing[0].score.differences
        return differences[0] if differences else "a wording check failed"


class PolicyTestRunner:
    """Plays policy tests on the simulation runtime; one classifier and tool registry for all."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] = os.environ,
        registry: ToolRegistry | None = None,
        classifier: Classifier | None = None,
        library: PolicyLibrary | None = None,
    ):
        self.env = env
        self.registry = registry or load_all_tools()
        self.classifier = classifier or LocalClassifier()
        self.library = library or default_library()

    def run(self, tests: Iterable[Conversation], repeat: int = 1) -> list[PolicyTestResult]:
        """Every test `repeat` times. The runs share nothing and write nothing, so they run side by
        side: most of a run is spent waiting on the platforms' reads."""
        results = [PolicyTestResult(test, policy_of(test, self.library)) for test in tests]
        jobs = [result for result in results for _ in range(max(1, repeat))]
        with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
            for result, run in zip(jobs, pool.map(lambda r: self.run_once(r.test), jobs), strict=True):
                result.runs.append(run)
        return results

    def run_once(self, test: Conversation) -> PolicyTestRun:
        played = Played(test)
        simulation = None
        try:
            simulation = self.simulation(test)
            simulation.say(test.spec["opener"]["text"])
            played.states_after.append(simulation.state_name)
            for turn in test.turns:
                if simulation.state_name != "waiting":
                    break
                replies = simulation.trace.replies
                played.answered.append(replies[-1] if replies else None)
                simulation.say(turn["text"])
                played.sent += 1
                played.states_after.append(simulation.state_name)
        except Exception as exc:  # a broken test is reported as failed, never stops the others
            played.error = f"{type(exc).__name__}: {exc}"
        if simulation is not None:
            played.view = view_of(simulation.trace)
            records = (describe_would_write(w["tool"], w["args"]) for w in simulation.trace.would_writes)
            played.writes = [record for record in records if record is not None]
        return PolicyTestRun(played, score(played, None), simulation.trace if simulation else None)

    def simulation(self, test: Conversation) -> Simulation:
        spec = test.spec
        customer: dict[str, Any] = {}
        if test.email:
            person = world.load().customer(test.email)
            customer = {"email": test.email, "name": spec.get("name") or (person.name if person else "")}
        elif spec.get("name"):
            customer = {"name": spec["name"]}
        ticket = {"id": f"test-{test.id}", "subject": spec["opener"].get("subject", "")}
        return Simulation(
            str(spec["policy"]),
            context={"customer": customer, "ticket": ticket},
            helpdesk=test.helpdesk,
            env=self.env,
            library=self.library,
            registry=self.registry,
            classifier=self.classifier,
            variant=spec.get("variant"),
        )


def view_of(trace: Trace) -> dict[str, Any]:
    """What the helpdesk would show once the conversation ran, as the suite reads a ticket back."""
    tickets = trace.of("ticket")
    return {
        "tags": [tickets[-1].data["lifecycle"]] if tickets else [],
        "replies": trace.replies,
        "notes": [str(e.data["text"]) for e in trace.of("note")],
        "group": "the hand-off group" if any(e.data.get("assign") for e in tickets) else None,
    }


# ---- coverage ---------------------------------------------------------------------------------------


def flow_paths(library: PolicyLibrary, policy: str) -> list[tuple[str, int | None, str]]:
    """Every step of a policy's flow and every case of each branch: (step id, case or None, label)."""
    doc = library.get(policy)
    paths: list[tuple[str, int | None, str]] = []
    for step in (doc.flow or []) if doc else []:
        paths.append((step.id, None, f"step {step.id}"))
        if step.action == "branch":
            for arm, (condition, target) in enumerate(branch_arms(step)):
                where = f" -> {target}" if target else ""
                paths.append((step.id, arm, f"branch {step.id}: {condition}{where}"))
    return paths


def taken(traces: Iterable[Trace | None]) -> dict[str, set[tuple[str, int | None]]]:
    """Per policy, the steps that ran and the branch cases that held, from the traces' step events."""
    seen: dict[str, set[tuple[str, int | None]]] = defaultdict(set)
    for trace in traces:
        for event in trace.of("step") if trace else ():
            policy, step = str(event.data["policy"]), str(event.data["step_id"])
            seen[policy].add((step, None))
            if event.data.get("action") == "branch":
                seen[policy].add((step, int(event.data["arm"])))
    return seen


@dataclass(frozen=True)
class Coverage:
    policy: str
    paths: int
    uncovered: list[str]

    @property
    def covered(self) -> int:
        return self.paths - len(self.uncovered)


def coverage(
    results: Sequence[PolicyTestResult], library: PolicyLibrary, policies: Iterable[str]
) -> list[Coverage]:
    """For each policy, which of its steps and branch cases no run reached (runs of other policies'
    tests count: a step of #Reshipment Policy reached from the replacement policy is reached)."""
    seen = taken(run.trace for result in results for run in result.runs)
    report = []
    for policy in policies:
        paths = flow_paths(library, policy)
        missing = [label for step, arm, label in paths if (step, arm) not in seen.get(policy, set())]
        report.append(Coverage(policy, len(paths), missing))
    return report


# ---- the report -------------------------------------------------------------------------------------


def report_text(results: Sequence[PolicyTestResult], repeat: int) -> str:
    lines = []
    for result in results:
        if result.passed:
            lines.append(f"PASS {result.test.id}")
            continue
        failed = sum(not run.score.fully_correct for run in result.runs)
        runs = f" ({failed} of {len(result.runs)} runs)" if len(result.runs) > 1 else ""
        lines.append(f"FAIL {result.test.id}{runs}: {result.first_difference}")
    per_policy: dict[str, list[PolicyTestResult]] = defaultdict(list)
    for result in results:
        per_policy[result.policy].append(result)
    lines.append(f"-- pass^{repeat} per policy (a test passes when each of its {repeat} run(s) does)")
    for policy, mine in sorted(per_policy.items()):
        passed = sum(r.passed for r in mine)
        lines.append(f"{policy:<46} {passed}/{len(mine)}  pass^{repeat} {passed / len(mine):.2f}")
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)


def coverage_text(report: Sequence[Coverage]) -> str:
    lines = ["-- flow coverage: steps and branch cases reached by the tests"]
    for item in report:
        lines.append(f"{item.policy:<46} {item.covered}/{item.paths}")
        lines.extend(f"    not reached: {label}" for label in item.uncovered)
    return "\n".join(lines)
