"""Measure the ticket classifier on labelled messages nobody on the team wrote.

Usage: .venv/bin/python bench/classify.py [FILES...]
Default: every *.jsonl in ../shared/data next to the repository. Each line: {"text", "label", ...};
labels compare case-insensitively. Prints per-file and overall precision/recall/F1 per label,
macro-F1 over the labels present in the data, a confusion matrix, load time, throughput and
per-message latency percentiles.

The measurement files are licensed for measuring only: this script reads them, nothing copies them.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from policies.classifier import LABELS, Classifier, default_classifier  # noqa: E402

DEFAULT_DIR = REPO.parent / "shared" / "data"


@dataclass
class Report:
    """Gold/predicted pairs for one file (or all files) and the figures derived from them."""

    name: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    low_confidence: int = 0

    def labels_present(self) -> list[str]:
        gold = {g for g, _ in self.pairs}
        return [label for label in LABELS if label in gold]

    def prf(self, label: str) -> tuple[float, float, float, int]:
        tp = sum(1 for g, p in self.pairs if g == label and p == label)
        fp = sum(1 for g, p in self.pairs if g != label and p == label)
        fn = sum(1 for g, p in self.pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1, tp + fn

    def macro_f1(self) -> float:
        present = self.labels_present()
        return sum(self.prf(label)[2] for label in present) / len(present) if present else 0.0

    def accuracy(self) -> float:
        return sum(1 for g, p in self.pairs if g == p) / len(self.pairs) if self.pairs else 0.0


def read_records(path: Path) -> Iterable[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                print(f"{path.name}:{number}: not JSON, skipped", file=sys.stderr)
                continue
            if isinstance(record, dict) and isinstance(record.get("text"), str) and record.get("label"):
                yield record


def measure(classifier: Classifier, path: Path, threshold: float = 0.6) -> Report:
    report = Report(path.name)
    for record in read_records(path):
        result = classifier.classify(record["text"], record.get("subject") or "")
        report.pairs.append((str(record["label"]).lower(), result.label))
        if result.confidence < threshold:
            report.low_confidence += 1
    return report


def format_report(report: Report) -> str:
    lines = [f"== {report.name}: {len(report.pairs)} messages, accuracy {report.accuracy():.3f}"]
    lines.append(f"{'label':<15}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label in report.labels_present():
        precision, recall, f1, support = report.prf(label)
        lines.append(f"{label:<15}{precision:>10.3f}{recall:>10.3f}{f1:>10.3f}{support:>10}")
    lines.append(f"macro-F1 over labels present: {report.macro_f1():.3f}")
    share = report.low_confidence / len(report.pairs) if report.pairs else 0.0
    lines.append(f"below confidence 0.6 (sent to humans): {report.low_confidence} ({share:.1%})")
    counts = Counter(report.pairs)
    lines.append("confusion (rows gold, columns predicted):")
    lines.append(" " * 15 + "".join(f"{label[:12]:>13}" for label in LABELS))
    for gold in report.labels_present():
        lines.append(f"{gold:<15}" + "".join(f"{counts[(gold, p)]:>13}" for p in LABELS))
    return "\n".join(lines)


def throughput(classifier: Classifier, texts: Sequence[str], rounds: int = 3) -> float:
    """Messages per second over the given texts (after loading), best of a few rounds."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            classifier.classify(text)
        elapsed = time.perf_counter() - start
        best = max(best, len(texts) / elapsed if elapsed > 0 else float("inf"))
    return best


def latency_ms(classifier: Classifier, texts: Sequence[str]) -> dict[str, float]:
    """Per-message latency as the worker sees it (one call per ticket, after loading).

    Percentiles, not just the mean: the worker's budget is per ticket, and a few long
    messages are what would break it.
    """
    samples = []
    for text in texts:
        start = time.perf_counter()
        classifier.classify(text)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()

    def pick(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))]

    return {"p50": pick(0.50), "p95": pick(0.95), "max": samples[-1]} if samples else {}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    files = [Path(a) for a in args] or sorted(DEFAULT_DIR.glob("*.jsonl"))
    if not files:
        print(f"no data files given and none found in {DEFAULT_DIR}", file=sys.stderr)
        return 2
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    classifier = default_classifier()
    load_seconds = time.perf_counter() - start
    overall = Report("overall")
    for path in files:
        report = measure(classifier, path)
        overall.pairs.extend(report.pairs)
        overall.low_confidence += report.low_confidence
        print(format_report(report), end="\n\n")
    if len(files) > 1:
        print(format_report(overall), end="\n\n")
    texts = [r["text"] for path in files for r in read_records(path)]
    rate = throughput(classifier, texts)
    print(
        f"load: {load_seconds * 1000:.0f} ms; throughput: {rate:,.0f} messages/s ({1e6 / rate:.0f} µs each)"
    )
    per_message = latency_ms(classifier, texts)
    if per_message:
        print("per message: " + ", ".join(f"{name} {value:.2f} ms" for name, value in per_message.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
