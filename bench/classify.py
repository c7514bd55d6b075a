"""Measure the ticket classifier: quality, calibration and speed, before (rules alone) and after.

Usage: .venv/bin/python bench/classify.py [--threshold T] [--details] [FILES...]

Measured on three kinds of messages, reported separately:
- held-out: messages grown from the fifth of our own written lines that training never sees
  (policies/understanding/classifier_corpus.py decides which, by a seeded hash). Figures only: no line is
  printed.
- real messages: every *.jsonl in ../shared/data (or the files named), per file and per source.
  Licensed for measuring only; this script reads them and copies nothing.
- skip set: bench/skip_shipment.jsonl, our own labelled subscription messages (skip, pause, delay,
  and the hard negatives: cancel, skip an ingredient, swap a recipe, delivery-day questions), since no
  public data has this type.

Each line gives macro-F1 over the labels present, the share below the confidence threshold (those go
to a person), and, of the messages at or above it, the share of each predicted type that is right
(routed precision; "other" is never routed but is shown). Calibration: expected calibration error
(ECE, 10 bins) and a reliability table. A threshold sweep shows how the hand-off share and the worst
routed precision move with the threshold. Load time is import + load + first prediction in a fresh
process; throughput and latency follow.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from policies.understanding.classifier import Classification, Classifier, LocalClassifier  # noqa: E402
from policies.understanding.classifier_corpus import HELDOUT, build_examples, load_corpus  # noqa: E402
from policies.understanding.classifier_model import message_text  # noqa: E402
from policies.understanding.classifier_rules import RuleModel  # noqa: E402

SHARED = Path(os.environ.get("POLICYDESK_SHARED", REPO.parent / "shared"))
DEFAULT_DIR = SHARED / "data"
SKIP_SET = REPO / "bench" / "skip_shipment.jsonl"
AUTOMATED = ("wismo", "skip_shipment", "replacement", "cancellation")
BINS = 10


@dataclass
class Record:
    text: str
    label: str
    subject: str = ""
    group: str = ""  # the source, or the register of a held-out message


@dataclass
class Report:
    """Gold label, predicted label and confidence per message, and the figures derived from them."""

    name: str
    rows: list[tuple[str, str, float]] = field(default_factory=list)

    def labels_present(self) -> list[str]:
        return sorted({gold for gold, _, _ in self.rows})

    def f1(self, label: str) -> float:
        tp = sum(1 for g, p, _ in self.rows if g == label and p == label)
        fp = sum(1 for g, p, _ in self.rows if g != label and p == label)
        fn = sum(1 for g, p, _ in self.rows if g == label and p != label)
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    def macro_f1(self) -> float:
        present = self.labels_present()
        return sum(self.f1(label) for label in present) / len(present) if present else 0.0

    def below(self, threshold: float) -> float:
        return sum(1 for *_, c in self.rows if c < threshold) / len(self.rows) if self.rows else 0.0

    def routed_precision(self, threshold: float) -> dict[str, tuple[float, int]]:
        """Per predicted label: the share right among messages at or above the threshold, and count."""
        out: dict[str, tuple[float, int]] = {}
        routed = [(g, p) for g, p, c in self.rows if c >= threshold]
        for label in sorted({p for _, p in routed}):
            picked = [g for g, p in routed if p == label]
            out[label] = (sum(1 for g in picked if g == label) / len(picked), len(picked))
        return out

    def worst_routed(self, threshold: float) -> float:
        figures = [
            share for label, (share, _) in self.routed_precision(threshold).items() if label in AUTOMATED
        ]
        return min(figures) if figures else 1.0

    def reliability(self) -> list[tuple[float, float, float, int]]:
        """(bin low, mean confidence, accuracy, count) per confidence bin that has messages."""
        bins: dict[int, list[tuple[float, bool]]] = defaultdict(list)
        for gold, predicted, confidence in self.rows:
            bins[min(int(confidence * BINS), BINS - 1)].append((confidence, gold == predicted))
        table = []
        for index in sorted(bins):
            items = bins[index]
            mean = sum(c for c, _ in items) / len(items)
            table.append((index / BINS, mean, sum(ok for _, ok in items) / len(items), len(items)))
        return table

    def ece(self) -> float:
        total = len(self.rows)
        return sum(n / total * abs(mean - acc) for _, mean, acc, n in self.reliability()) if total else 0.0


def measure(classifier: Classifier, name: str, records: Iterable[Record]) -> Report:
    report = Report(name)
    for record in records:
        result = classifier.classify(record.text, record.subject)
        report.rows.append((record.label, result.label, result.confidence))
    return report


class RulesOnly:
    """The rule model alone, i.e. the offline classifier as it was before the learned model."""

    def __init__(self) -> None:
        self.rules = RuleModel()

    def classify(self, text: str, subject: str = "") -> Classification:
        probabilities = self.rules.probabilities(message_text(text, subject))
        label = max(probabilities, key=probabilities.__getitem__)
        return Classification(label, round(probabilities[label], 4), scores=probabilities)


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[Record]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                print(f"{path.name}:{number}: not JSON, skipped", file=sys.stderr)
                continue
            if isinstance(item, dict) and isinstance(item.get("text"), str) and item.get("label"):
                source = str(item.get("source") or item.get("kind") or path.stem)
                records.append(
                    Record(item["text"], str(item["label"]).lower(), item.get("subject") or "", source)
                )
    return records


def heldout_records() -> list[Record]:
    return [Record(e.text, e.label, e.subject, e.register) for e in build_examples(load_corpus(), HELDOUT)]


# ---------------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------------


def summary_line(report: Report, threshold: float) -> str:
    routed = report.routed_precision(threshold)
    shown = " ".join(
        f"{label[:5]}={share:.3f}/{count}" for label, (share, count) in routed.items() if label in AUTOMATED
    )
    return (
        f"{report.name:<34}{len(report.rows):>6}{report.macro_f1():>9.3f}{report.below(threshold):>9.1%}"
        f"{report.worst_routed(threshold):>9.3f}{report.ece():>8.3f}  {shown}"
    )


HEADER = f"{'set':<34}{'n':>6}{'macroF1':>9}{'below':>9}{'worstRP':>9}{'ECE':>8}  routed precision/count"


def details(report: Report, labels: Sequence[str]) -> str:
    lines = [f"== {report.name}"]
    lines.append(f"{'label':<15}{'f1':>8}{'support':>9}")
    for label in report.labels_present():
        lines.append(
            f"{label:<15}{report.f1(label):>8.3f}{sum(1 for g, _, _ in report.rows if g == label):>9}"
        )
    counts = Counter((g, p) for g, p, _ in report.rows)
    lines.append("confusion (rows gold, columns predicted):")
    lines.append(" " * 15 + "".join(f"{label[:12]:>13}" for label in labels))
    for gold in report.labels_present():
        lines.append(f"{gold:<15}" + "".join(f"{counts[(gold, p)]:>13}" for p in labels))
    lines.append("reliability (confidence bin: mean confidence, accuracy, messages):")
    for low, mean, accuracy, count in report.reliability():
        lines.append(f"  {low:.1f}-{low + 1 / BINS:.1f}: {mean:.3f} {accuracy:.3f} {count:>6}")
    return "\n".join(lines)


def load_seconds(expression: str) -> float:
    """Import + load + first prediction in a fresh process, as a worker starts."""
    code = (
        "import time; t = time.perf_counter(); "
        f"{expression}; c.classify('where is my order'); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def speed(classifier: Classifier, texts: Sequence[str]) -> str:
    samples = []
    for text in texts:
        start = time.perf_counter()
        classifier.classify(text)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    rate = len(samples) / (sum(samples) / 1000) if samples else 0.0

    def pick(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))]

    spread = f"p50 {pick(0.5):.2f} ms, p95 {pick(0.95):.2f} ms, max {samples[-1]:.2f} ms"
    return f"{rate:,.0f} messages/s; per message {spread}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument(
        "--threshold", type=float, default=float(os.environ.get("CLASSIFIER_MIN_CONFIDENCE") or 0.7)
    )
    parser.add_argument("--details", action="store_true", help="confusion and reliability tables per set")
    args = parser.parse_args(argv)
    files = args.files or sorted(DEFAULT_DIR.glob("*.jsonl"))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"not found: {', '.join(missing)}", file=sys.stderr)
        return 2

    sets: list[tuple[str, list[Record]]] = []
    heldout = heldout_records()
    sets.append(("held-out (own, unseen lines)", heldout))
    sets += [
        (f"  held-out {reg}", [r for r in heldout if r.group == reg])
        for reg in sorted({r.group for r in heldout})
    ]
    real: list[Record] = []
    for path in files:
        records = read_jsonl(path)
        real += records
        sets.append((path.name, records))
        for source in sorted({r.group for r in records}):
            sets.append((f"  {source}", [r for r in records if r.group == source]))
    if real:
        sets.append(("real messages, all files", real))
        sets.append(("real, tweet-style (twcs-*)", [r for r in real if r.group.startswith("twcs")]))
        sets.append(("real, chat-style (other sources)", [r for r in real if not r.group.startswith("twcs")]))
    if SKIP_SET.is_file():
        sets.append(("skip set (own)", read_jsonl(SKIP_SET)))

    classifiers: list[tuple[str, Classifier]] = [
        ("before: rules alone", RulesOnly()),
        ("after", LocalClassifier()),
    ]
    threshold = args.threshold
    final: dict[str, Report] = {}
    for title, classifier in classifiers:
        print(f"### {title}; threshold {threshold:.2f}")
        print(HEADER)
        for name, records in sets:
            if not records:
                continue
            report = measure(classifier, name, records)
            final[name] = report
            print(summary_line(report, threshold))
        print()

    after = classifiers[-1][1]
    labels = list(getattr(after, "labels", ()))
    if args.details:
        for name, report in final.items():
            if not name.startswith("  "):
                print(details(report, labels), end="\n\n")

    print("threshold sweep (after): share below / worst routed precision")
    picked = [
        name
        for name in ("held-out (own, unseen lines)", "real messages, all files", "skip set (own)")
        if name in final
    ]
    print(f"{'threshold':<11}" + "".join(f"{name[:26]:>30}" for name in picked))
    for step in range(3, 10):
        t = step / 10
        print(
            f"{t:<11.2f}"
            + "".join(f"{final[n].below(t):>17.1%} / {final[n].worst_routed(t):.3f}" for n in picked)
        )
    print()

    before_load = load_seconds(
        "from policies.understanding.classifier_rules import RuleModel; "
        "c = RuleModel(); c.classify = c.probabilities"
    )
    after_load = load_seconds(
        "from policies.understanding.classifier import LocalClassifier; c = LocalClassifier()"
    )
    print(
        f"import + load + first prediction: before {before_load * 1000:.0f} ms, "
        f"after {after_load * 1000:.0f} ms ({after_load / before_load:.2f}x)"
    )
    texts = [r.text for r in real or heldout][:1500]
    for title, classifier in classifiers:
        print(f"speed, {title}: {speed(classifier, texts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
