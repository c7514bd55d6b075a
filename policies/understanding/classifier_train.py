"""Building the shipped model, and training at load time when the examples differ from it.

`python -m policies.understanding.classifier_train` grows the training messages from classifier_examples.md
(its training part only), fits the learned model with the rule model as a prior, calibrates it and
writes classifier_model.npz. The file records a fingerprint of everything it was built from; a worker
whose sources match loads it in milliseconds, and one whose sources differ (an edited example file,
or a store's own ticket type with its example messages) trains at load time instead, so a model is
never used with data it was not built from.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from policies.understanding import classifier_corpus
from policies.understanding.classifier_corpus import TRAIN, build_examples, load_corpus
from policies.understanding.classifier_model import FEATURE_VERSION, LinearModel, message_text, train
from policies.understanding.classifier_rules import EXAMPLES_PATH as RULES_EXAMPLES_PATH
from policies.understanding.classifier_rules import LEXICON_PATH, RuleModel

__all__ = [
    "MIN_EXAMPLES_PER_LABEL",
    "MODEL_PATH",
    "build",
    "load_or_train",
    "rule_prior",
    "sources_fingerprint",
]

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).with_name("classifier_model.npz")
MIN_EXAMPLES_PER_LABEL = 20  # fewer messages than this cannot show a label's variety
RULE_WEIGHT = 1.0  # how much the rule model's log-probabilities add to the learned logits
_FLOOR = 1e-4  # no rule probability is taken as impossibility


def rule_prior(rules: RuleModel, cleaned: str, labels: Sequence[str]) -> np.ndarray:
    """The rule model's log-probabilities in `labels` order. A label it does not know (a store's own
    type) gets the rules' "other": to the rules it is just not one of theirs, so they stay neutral
    between it and "other" and the learned model decides."""
    probabilities = rules.probabilities(cleaned)
    return RULE_WEIGHT * np.log(
        [max(probabilities.get(label, probabilities["other"]), _FLOOR) for label in labels]
    )


def sources_fingerprint(extra: Mapping[str, Sequence[str]] | None = None) -> str:
    """Everything a model is built from: the example file, the code growing it into messages, the
    feature version, the rule model's files, and any extra labelled messages."""
    digest = hashlib.sha256(f"features-{FEATURE_VERSION}".encode())
    for path in (
        classifier_corpus.EXAMPLES_PATH,
        Path(classifier_corpus.__file__),
        LEXICON_PATH,
        RULES_EXAMPLES_PATH,
    ):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for label in sorted(extra or {}):
        digest.update(b"\x00" + label.encode())
        for text in (extra or {})[label]:
            digest.update(b"\x01" + text.encode())
    return digest.hexdigest()


def training_triples(extra: Mapping[str, Sequence[str]] | None = None) -> list[tuple[str, str, str]]:
    """(cleaned text, label, group) for every training message: the example file's training part,
    plus extra labelled messages grown the same ways (greetings, tweets, typos)."""
    corpus = load_corpus()
    for label, texts in (extra or {}).items():
        if len(texts) < MIN_EXAMPLES_PER_LABEL:
            raise ValueError(
                f"ticket type {label!r} has {len(texts)} example messages; at least "
                f"{MIN_EXAMPLES_PER_LABEL} are needed to learn it"
            )
        corpus.add_messages(label, texts)
    return [(message_text(e.text, e.subject), e.label, e.group) for e in build_examples(corpus, TRAIN)]


def ordered_labels(found: Collection[str]) -> list[str]:
    """Built-in labels first in their usual order, then any others alphabetically."""
    builtin = [label for label in RuleModel.labels if label in found]
    return builtin + sorted(set(found) - set(builtin))


def build(
    rules: RuleModel,
    extra: Mapping[str, Sequence[str]] | None = None,
    temperature: float | None = None,
) -> LinearModel:
    examples = training_triples(extra)
    return train(
        examples,
        labels=ordered_labels({label for _, label, _ in examples}),
        prior=lambda text, labels: rule_prior(rules, text, labels),
        temperature=temperature,
        fingerprint=sources_fingerprint(extra),
    )


def load_or_train(rules: RuleModel, extra: Mapping[str, Sequence[str]] | None = None) -> LinearModel:
    """The shipped model when it was built from exactly these sources; else one trained now.

    Training at load time keeps the shipped temperature (refitting it would cost four more fits) and
    takes a few seconds; the shipped file is rebuilt with `python -m policies.understanding.classifier_train`.
    """
    shipped = LinearModel.load(MODEL_PATH) if MODEL_PATH.is_file() else None
    if shipped is not None and shipped.fingerprint == sources_fingerprint(extra):
        return shipped
    if not extra:
        log.warning("the shipped classifier model is out of date; training one now")
    start = time.perf_counter()
    model = build(rules, extra, temperature=shipped.temperature if shipped else None)
    log.info(
        "classifier trained at load time in %.1f s (%d labels)",
        time.perf_counter() - start,
        len(model.labels),
    )
    return model


def main() -> int:
    start = time.perf_counter()
    model = build(RuleModel())
    model.save(MODEL_PATH)
    print(
        f"wrote {MODEL_PATH.name}: {len(model.labels)} labels, {len(model.vocabulary):,} features, "
        f"temperature {model.temperature:.3f}, {MODEL_PATH.stat().st_size / 1e6:.2f} MB, "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
