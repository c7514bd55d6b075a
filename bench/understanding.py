"""Measure the understanding layer's local reader and its language identifier.

Usage: .venv/bin/python bench/understanding.py

1. Answers to questions, on the team's own labelled replies (tests/data/replies.yaml: our examples,
   which the rules were written against, so this is not a figure on unseen data): how many replies the
   local reader reads as labelled (plain yes / no / not a plain yes), beside a keyword baseline measured
   in the same run (yes-words against no-words, the way replies were read before this layer), and how
   many non-plain replies each would have let authorise a write.
2. Languages: on our replies labelled with a language, how many the identifier gets; on the real
   customer messages in ../shared/data (English; measured only, never copied), how many it would wrongly
   call another language, which would send a readable ticket to a person.
3. Speed: the reader's time per message as a ratio to the ticket classifier's on the same messages.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from policies.understanding import Question  # noqa: E402
from policies.understanding.classifier import LocalClassifier  # noqa: E402
from policies.understanding.language import detect_language  # noqa: E402
from policies.understanding.local import read_locally  # noqa: E402

REPLIES = REPO / "tests" / "data" / "replies.yaml"
SHARED = Path(os.environ.get("POLICYDESK_SHARED", REPO.parent / "shared")) / "data"
_YES = {"yes", "yep", "yeah", "yup", "sure", "ok", "okay", "correct", "right", "absolutely", "y"}
_NO = {"no", "nope", "nah", "not", "never", "n"}


def keyword_answer(text: str) -> str:
    """The baseline: any yes-word without a no-word is a yes, and the other way round."""
    tokens = set(re.findall(r"[a-z]+", text.lower()))
    yes, no = bool(tokens & _YES), bool(tokens & _NO)
    return "yes" if yes and not no else "no" if no and not yes else "unclear"


def label_of(value: object) -> str:
    return {True: "yes", False: "no"}.get(value, str(value))  # type: ignore[call-overload]


def main() -> None:
    groups = yaml.safe_load(REPLIES.read_text(encoding="utf-8"))
    answered = [
        (group["question"], reply)
        for group in groups
        for reply in group["replies"]
        if "answer" in reply and group["question"]["kind"] == "yes_no"
    ]
    right = {"reader": 0, "keywords": 0}
    unsafe = {"reader": 0, "keywords": 0}
    for spec, reply in answered:
        expected = label_of(reply["answer"])
        question = Question(
            "yes_no", spec.get("text", ""), topic=spec.get("topic"), action=spec.get("action")
        )
        reading = read_locally(reply["text"], question)
        got = "yes" if reading.plain_yes else "no" if reading.answer == "no" else "not_yes"
        base = keyword_answer(reply["text"])
        base = "not_yes" if base == "unclear" else base
        right["reader"] += got == expected
        right["keywords"] += base == expected
        unsafe["reader"] += got == "yes" and expected != "yes"
        unsafe["keywords"] += base == "yes" and expected != "yes"
    total = len(answered)
    print(f"yes/no answers on our own {total} labelled replies (the rules' own examples)")
    for name in ("reader", "keywords"):
        print(
            f"  {name:9} read as labelled {right[name]:3}/{total} ({right[name] / total:.1%}); "
            f"would have authorised {unsafe[name]} write(s) on a reply that is not a plain yes"
        )

    languages = [
        (reply["text"], None if reply["language"] == "none" else reply["language"])
        for group in groups
        for reply in group["replies"]
        if "language" in reply
    ]
    hits = sum(detect_language(text) == expected for text, expected in languages)
    print(f"\nlanguage on our {len(languages)} labelled replies: {hits}/{len(languages)} as labelled")
    real = [
        json.loads(line)["text"]
        for path in sorted(SHARED.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if real:
        foreign = sum(detect_language(text) not in (None, "en") for text in real)
        print(f"real English customer messages ({len(real)}): {foreign} wrongly read as another language")

    texts = [reply["text"] for group in groups for reply in group["replies"]]
    classifier = LocalClassifier()
    for text in texts[:20]:  # warm both up: lazy models load on first use
        read_locally(text)
        classifier.classify(text)
    reader_times, classifier_times = [], []
    for text in texts:
        start = time.perf_counter()
        read_locally(text)
        reader_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        classifier.classify(text)
        classifier_times.append(time.perf_counter() - start)
    reader, base = statistics.median(reader_times), statistics.median(classifier_times)
    print(
        f"\nspeed (median per message): reader {reader * 1e6:.0f} µs, classifier {base * 1e6:.0f} µs "
        f"(reader / classifier = {reader / base:.1f}x)"
    )


if __name__ == "__main__":
    main()
