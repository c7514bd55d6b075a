"""Ticket classifier: which support policy a new ticket needs, and how sure we are.

The worker hands tickets below a confidence threshold to humans, so the confidence must mean what it
says: of tickets classified at 0.9, about nine in ten are right. `LocalClassifier` runs offline:
- a learned model (policies/understanding/classifier_model.py: logistic regression over word and
  character n-grams)
  trained on our own example messages (classifier_examples.md, grown into chat, email, tweet, SMS and
  letter forms by policies/understanding/classifier_corpus.py);
- combined with the older rule model (policies/understanding/classifier_rules.py: weighted patterns plus naive
  Bayes) as a prior, its log-probabilities added to the learned logits;
- calibrated by one temperature fitted on predictions for phrasings the model never saw.
`scores` holds the calibrated probability of every label, so a caller can ask the customer to choose
between the top two when the first is not clear enough.

The label set is the training data's: a store's own ticket type, given with at least 20 example
messages (`LocalClassifier(extra_examples=...)`), is learned at load time.

A Claude-backed classifier implements the same `Classifier` protocol; callers obtain one from
`policies.understanding.claude_classifier.default_classifier()` so the choice stays in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from policies.understanding.classifier_model import MAX_TEXT_CHARS, LinearModel, message_text, softmax
from policies.understanding.classifier_rules import LABELS, RuleModel
from policies.understanding.classifier_train import load_or_train, rule_prior
from policies.understanding.extract import extract_email, extract_order_number

__all__ = [
    "LABELS",
    "MAX_TEXT_CHARS",
    "Classification",
    "Classifier",
    "LocalClassifier",
]


@dataclass(frozen=True)
class Classification:
    """One ticket's type. `scores` holds a probability per label (they sum to 1).

    `facts` carries what the text already told us ("email", "order_number") so a policy need not
    ask the customer again.
    """

    label: str
    confidence: float
    facts: dict[str, str] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    def ranked(self) -> list[tuple[str, float]]:
        """Labels from most to least likely: the first two are what to ask about when unsure."""
        return sorted(self.scores.items(), key=lambda item: -item[1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": self.confidence,
            "facts": dict(self.facts),
            "scores": dict(self.scores),
        }


@runtime_checkable
class Classifier(Protocol):
    """Anything that can type a ticket: the local model, or Claude with the local model behind it."""

    def classify(self, text: str, subject: str = "") -> Classification: ...


# Fewer known word features than this: the message says too little for any label to be likely.
MIN_EVIDENCE = 2


class LocalClassifier:
    """Offline classifier: the learned model with the rule model as its prior, calibrated."""

    def __init__(self, extra_examples: Mapping[str, Sequence[str]] | None = None) -> None:
        self.rules = RuleModel()
        self.model: LinearModel = load_or_train(self.rules, extra_examples)
        self.labels: tuple[str, ...] = tuple(self.model.labels)

    def probabilities(self, cleaned: str) -> dict[str, float]:
        """Calibrated probability of every label for text already cleaned by `message_text`."""
        logits = self.model.logits(cleaned) + rule_prior(self.rules, cleaned, self.labels)
        scaled = logits / self.model.temperature
        evidence = self.model.known_features(cleaned)
        if evidence < MIN_EVIDENCE:
            scaled = scaled * evidence / MIN_EVIDENCE  # gibberish, a bare "hello": flatten towards uniform
        return dict(zip(self.labels, softmax(scaled).tolist(), strict=True))

    def classify(self, text: str, subject: str = "") -> Classification:
        combined = message_text(text, subject)
        probabilities = self.probabilities(combined)
        label = max(probabilities, key=probabilities.__getitem__)
        facts: dict[str, str] = {}
        email = extract_email(combined)
        if email:
            facts["email"] = email
        order = extract_order_number(combined)
        if order:
            facts["order_number"] = order
        scores = {name: round(value, 4) for name, value in probabilities.items()}
        return Classification(label=label, confidence=scores[label], facts=facts, scores=scores)
