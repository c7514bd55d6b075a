"""The local classifier's model: a calibrated linear model over word and character n-grams.

Why this shape:
- Word n-grams carry the request ("cancel my", "send another", "my money back"); character n-grams
  inside words carry misspellings and inflections ("cancle", "dammaged", "recieved") without a
  spelling list.
- Multinomial logistic regression gives a probability for every label, and one temperature, fitted
  on predictions for phrasings each model never saw (grouped cross-validation), makes those
  probabilities mean what they say.
- Prediction needs only numpy and a dictionary lookup per feature, so a worker loads the shipped
  model in milliseconds; scikit-learn is imported only to train (at build time, or at load time when
  the examples differ from the shipped model's, e.g. a store's own ticket type).
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policies.understanding.classifier_rules import mark_negation
from policies.understanding.text import clean_text, words

__all__ = [
    "FEATURE_VERSION",
    "LinearModel",
    "featurize",
    "message_text",
    "softmax",
    "tokens",
    "train",
]

# Bump when featurize() changes: a shipped model built with other features must not be reused.
FEATURE_VERSION = 1
MAX_TEXT_CHARS = 4000  # the intent is in the first lines; long threads only add noise and cost

# ---------------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------------


def message_text(text: str, subject: str = "") -> str:
    """Subject and body as one cleaned text, the way the model reads a ticket."""
    body, heading = clean_text(text), clean_text(subject)
    return (f"{heading}\n{body}" if heading else body)[:MAX_TEXT_CHARS]


def tokens(cleaned: str) -> list[str]:
    """Words with negated intent verbs marked ("do not want to cancel" -> "not_cancel"), the rule
    model's reading, so "not_cancel" and "cancel" are different features."""
    return mark_negation(words(cleaned))


CHAR_SIZES = (2, 3, 4, 5)


def featurize(cleaned: str) -> tuple[list[str], list[str]]:
    """(word features, character features) of a cleaned message; presence only, no counts.

    Word features: every word and every adjacent pair within a sentence. Character features: 2- to
    5-letter pieces of each word padded with spaces, so " canc" and "cle " both count.
    """
    toks = tokens(cleaned)
    word_feats = {f"w:{t}" for t in toks if t != "."}
    word_feats.update(f"b:{a} {b}" for a, b in zip(toks, toks[1:], strict=False) if "." not in (a, b))
    char_feats: set[str] = set()
    for token in {t for t in toks if t != "." and not t.startswith("<")}:
        padded = f" {token.removeprefix('not_')} "
        for size in CHAR_SIZES:
            char_feats.update(f"c:{padded[i : i + size]}" for i in range(len(padded) - size + 1))
    return sorted(word_feats), sorted(char_feats)


# ---------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------

CHAR_SHARE = 0.4  # how much of a message's (unit) length the character features get


@dataclass
class LinearModel:
    """Weights per label and feature, idf per feature, and the calibration temperature."""

    labels: list[str]
    vocabulary: dict[str, int]
    idf: np.ndarray  # (features,)
    coef: np.ndarray  # (labels, features)
    intercept: np.ndarray  # (labels,)
    temperature: float
    fingerprint: str

    def vector(self, cleaned: str) -> tuple[np.ndarray, np.ndarray]:
        """Feature indices and values of a cleaned message."""
        indices, values = _weigh(featurize(cleaned), self.vocabulary, self.idf)
        return np.asarray(indices, dtype=np.int64), np.asarray(values, dtype=np.float64)

    def logits(self, cleaned: str) -> np.ndarray:
        indices, values = self.vector(cleaned)
        return self.coef[:, indices] @ values + self.intercept if len(indices) else self.intercept.copy()

    def probabilities(self, cleaned: str) -> dict[str, float]:
        return dict(zip(self.labels, softmax(self.logits(cleaned) / self.temperature).tolist(), strict=True))

    def known_features(self, cleaned: str) -> int:
        """How many of the message's word features the model knows: little evidence, little confidence."""
        word_feats, _ = featurize(cleaned)
        return sum(1 for f in word_feats if f in self.vocabulary)

    # -- storage: one .npz, no pickle, so any numpy reads it and nothing in it can run code -----------

    def save(self, path: Path) -> None:
        names = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        meta = {"labels": self.labels, "temperature": self.temperature, "fingerprint": self.fingerprint}
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            vocabulary=np.frombuffer("\n".join(names).encode(), dtype=np.uint8),
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
        )
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode())
            names = data["vocabulary"].tobytes().decode().split("\n")
            return cls(
                labels=list(meta["labels"]),
                vocabulary={name: index for index, name in enumerate(names)},
                idf=data["idf"].astype(np.float64),
                coef=data["coef"].astype(np.float64),
                intercept=data["intercept"].astype(np.float64),
                temperature=float(meta["temperature"]),
                fingerprint=str(meta["fingerprint"]),
            )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------------
# Training (scikit-learn, imported here only)
# ---------------------------------------------------------------------------------------------------

REGULARISATION = 8.0  # logistic regression's C: larger fits the examples more closely
MIN_DOCUMENTS = 2  # a feature seen in one example only says more about that example than the label
PRUNE_BELOW = 1e-3  # weights this small change no prediction; dropping them keeps the file small
CV_FOLDS = 4


Prior = Callable[[str, Sequence[str]], np.ndarray]


def train(
    examples: Sequence[tuple[str, str, str]],
    *,
    labels: Sequence[str] | None = None,
    prior: Prior | None = None,
    temperature: float | None = None,
    fingerprint: str = "",
) -> LinearModel:
    """Fit the model on (cleaned text, label, group) triples.

    The temperature, unless given, comes from grouped cross-validation: each fold's model predicts
    messages grown from written lines it never saw, which is the situation of a real ticket. `prior`
    gives log-probabilities the caller will add to the logits at prediction time (the rule model), so
    the temperature is fitted to what is really predicted.
    """
    labels = list(labels or sorted({label for _, label, _ in examples}))
    featurized = [featurize(text) for text, _, _ in examples]
    vocabulary, idf = _vocabulary(featurized)
    matrix = _matrix(featurized, vocabulary, idf)
    y = np.asarray([labels.index(label) for _, label, _ in examples])
    coef, intercept = _fit(matrix, y, len(labels))
    if temperature is None:
        groups = np.asarray([group for _, _, group in examples])
        logits = _out_of_fold_logits(featurized, y, groups, len(labels))
        if prior is not None:
            logits = logits + np.vstack([prior(text, labels) for text, _, _ in examples])
        temperature = _temperature(logits, y)
    keep = np.flatnonzero(np.abs(coef).max(axis=0) >= PRUNE_BELOW)
    names = sorted(vocabulary, key=vocabulary.__getitem__)
    return LinearModel(
        labels=labels,
        vocabulary={names[old]: new for new, old in enumerate(keep)},
        idf=idf[keep],
        coef=coef[:, keep],
        intercept=intercept,
        temperature=temperature,
        fingerprint=fingerprint,
    )


def _vocabulary(featurized: Iterable[tuple[list[str], list[str]]]) -> tuple[dict[str, int], np.ndarray]:
    documents: Counter[str] = Counter()
    total = 0
    for word_feats, char_feats in featurized:
        documents.update(word_feats)
        documents.update(char_feats)
        total += 1
    names = sorted(f for f, n in documents.items() if n >= MIN_DOCUMENTS)
    idf = np.asarray([math.log((1 + total) / (1 + documents[f])) + 1 for f in names])
    return {name: index for index, name in enumerate(names)}, idf


def _matrix(
    featurized: Sequence[tuple[list[str], list[str]]], vocabulary: dict[str, int], idf: np.ndarray
) -> Any:
    from scipy.sparse import csr_matrix

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for row, feats in enumerate(featurized):
        indices, values = _weigh(feats, vocabulary, idf)
        rows.extend([row] * len(indices))
        cols.extend(indices)
        vals.extend(values)
    return csr_matrix((vals, (rows, cols)), shape=(len(featurized), len(idf)))


def _weigh(
    feats: tuple[list[str], list[str]], vocabulary: dict[str, int], idf: np.ndarray
) -> tuple[list[int], list[float]]:
    """Known features, idf-weighted, each group (words, characters) scaled to its share of unit length:
    a long message is not more certain for being long, and neither group drowns the other."""
    indices: list[int] = []
    values: list[float] = []
    for group, share in zip(feats, (1 - CHAR_SHARE, CHAR_SHARE), strict=True):
        found = [vocabulary[f] for f in group if f in vocabulary]
        if not found:
            continue
        weights = idf[found]
        norm = float(np.sqrt(np.dot(weights, weights)))
        indices.extend(found)
        values.extend((weights * math.sqrt(share) / norm).tolist())
    return indices, values


def _fit(matrix: Any, y: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    # Balanced weights: how many examples we wrote per label says nothing about real ticket mixes.
    model = LogisticRegression(C=REGULARISATION, max_iter=2000, class_weight="balanced")
    model.fit(matrix, y)
    coef, intercept = model.coef_, model.intercept_
    if n_labels == 2:  # scikit-learn keeps one row for two classes; give each label its own
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.asarray([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept


def _out_of_fold_logits(
    featurized: Sequence[tuple[list[str], list[str]]], y: np.ndarray, groups: np.ndarray, n_labels: int
) -> np.ndarray:
    from sklearn.model_selection import GroupKFold

    logits = np.zeros((len(y), n_labels))
    for fit_rows, held_rows in GroupKFold(n_splits=CV_FOLDS).split(featurized, y, groups):
        part = [featurized[i] for i in fit_rows]
        vocabulary, idf = _vocabulary(part)
        coef, intercept = _fit(_matrix(part, vocabulary, idf), y[fit_rows], n_labels)
        held = _matrix([featurized[i] for i in held_rows], vocabulary, idf)
        logits[held_rows] = held @ coef.T + intercept
    return logits


def _temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the held-out predictions."""
    from scipy.optimize import minimize_scalar

    def nll(t: float) -> float:
        probs = softmax(logits / t)
        return float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)
