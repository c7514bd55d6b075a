"""The hand-written view of a ticket: weighted intent patterns plus naive Bayes over a small example set.

This was the whole offline classifier before the learned model
(policies/understanding/classifier_model.py). It now
serves as a prior the learned model is combined with: its patterns (classifier_lexicon.json) encode
phrasings of real tickets, including negation ("I don't want to cancel") and intent priority (an
explicit cancel request beats a complaint about a late parcel). Measured alone it generalises worse
than the learned model to phrasings nobody tuned it on (see README, Classifier); combined with it, it
adds what the learned model's synthetic examples miss. It knows only the five built-in labels.

Both views read the same canonical tokens: chat/SMS spellings expanded
(policies.understanding.text.words), typos
mapped back to the words they mangle, negated intent verbs marked.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

from policies.understanding.text import words

__all__ = ["LABELS", "RuleModel"]

LABELS: tuple[str, ...] = ("wismo", "skip_shipment", "replacement", "cancellation", "other")
EXAMPLES_PATH = Path(__file__).with_name("classifier_rules_examples.json")


# ---------------------------------------------------------------------------------------------------
# Canonical tokens: typo tolerance and negation
# ---------------------------------------------------------------------------------------------------

LEXICON_PATH = Path(__file__).with_name("classifier_lexicon.json")
_LEXICON: dict[str, Any] = json.loads(LEXICON_PATH.read_text(encoding="utf-8"))

# Words a customer may misspell that carry intent. Tokens within a small edit distance of one of these
# are read as that word: "canceloing", "recieved", "dammaged".
KEYWORDS = frozenset(_LEXICON["keywords"].split())
# Real words that sit one edit away from a keyword and must not be "corrected" into it.
PROTECTED = frozenset(_LEXICON["protected"].split())
# Function words say nothing about intent on their own; as unigrams they only learn the phrasing
# habits of our example file. They still count inside word pairs ("my order", "not received").
FUNCTION_WORDS = frozenset(_LEXICON["function_words"].split())


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _osa_distance(a: str, b: str) -> int:
    """Edit distance counting an adjacent swap ("recieved") as one edit."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


_STRETCHED = re.compile(r"(.)\1{2,}")


class Speller:
    """Maps an unknown token to the nearest intent keyword (SymSpell-style delete index, edit distance
    1, or 2 for long words). Only keywords are targets: without a full English dictionary, correcting
    towards any word we know would turn real words ("side", "mine") into wrong ones. Same first letter
    required: customers rarely mistype it, and it keeps "border" from turning into "order"."""

    def __init__(self, vocabulary: Counter[str]) -> None:
        # Words of our own examples are not trusted as "known": they include deliberate typos.
        self.known = set(PROTECTED) | set(KEYWORDS) | set(FUNCTION_WORDS)
        self.frequency = vocabulary
        self.index: dict[str, set[str]] = {}
        for word in KEYWORDS - PROTECTED:
            if len(word) < 4:
                continue
            self.index.setdefault(word, set()).add(word)
            for variant in _deletes(word):
                self.index.setdefault(variant, set()).add(word)
        self.correct = lru_cache(maxsize=50_000)(self._correct)

    def _correct(self, token: str) -> str:
        if token in self.known or len(token) < 4 or not token.isalpha():
            return token
        token = _STRETCHED.sub(r"\1", token)  # "orderrr", "pleaseee": no English word has 3 in a row
        if token in self.known:
            return token
        glued = self.split_glued(token)
        if glued:
            return glued
        candidates = set(self.index.get(token, ()))
        for variant in _deletes(token):
            candidates |= self.index.get(variant, set())
        limit = 2 if len(token) >= 9 else 1
        best: tuple[int, int, str] | None = None
        for word in candidates:
            if word[0] != token[0]:
                continue
            limit_here = limit if word[:2] == token[:2] else 1
            distance = _osa_distance(token, word)
            if distance > limit_here:
                continue
            rank = (distance, -self.frequency.get(word, 0), word)
            if best is None or rank < best:
                best = rank
        return best[2] if best else token

    def split_glued(self, token: str) -> str | None:
        """ "tocancel" -> "to cancel", "cancelingpurchase" -> "canceling purchase": a missed space.
        Both halves must be words we know and one of them an intent keyword, so ordinary words
        we happen not to know are left alone."""
        for cut in range(2, len(token) - 1):
            head, tail = token[:cut], token[cut:]
            if head in self.known and tail in self.known and (head in KEYWORDS or tail in KEYWORDS):
                return f"{head} {tail}"
        return None


# A negator before one of these verbs flips it: "don't want to cancel" must not read as a request.
NEGATABLE = re.compile(
    r"^(cancel\w*|skip\w*|replace\w*|replacement|refund\w*|return\w*|pause\w*|track\w*|send|ship|deliver)$"
)
# "no" is left out: "no refund yet" and "no replacement came" complain about a missing thing.
NEGATORS = frozenset({"not", "never", "without", "instead", "rather", "nor"})
# "can not cancel" / "unable to cancel" is a failed attempt, i.e. the intent, not its negation.
ABILITY = frozenset({"can", "could", "able", "unable", "cant", "cannot", "wo", "will", "let", "allow"})
NEGATION_WINDOW = 4
# Words that may stand between a negator and the verb it negates: "don't want to cancel",
# "not the replacement". Any other word ends the negation's reach.
NEGATION_FILLER = frozenset(_LEXICON["negation_filler"].split())


_DECLINE_FOLLOWERS = frozenset(
    {"please", "needed", "thanks", "thank", "required", "necessary", "wanted", "."}
)


def _declines(tokens: list[str], index: int) -> bool:
    """ "no replacement please" declines a replacement; "no replacement yet" complains about one."""
    following = tokens[index + 1 : index + 3]
    return (
        len(following) >= 1
        and bool(NEGATABLE.match(following[0]))
        and (len(following) == 1 or following[1] in _DECLINE_FOLLOWERS)
    )


def _prefers(tokens: list[str], index: int) -> bool:
    """Whether the "than" at `index` closes "rather ... than" within one sentence."""
    before = tokens[max(0, index - 6) : index]
    if "." in before:
        before = before[len(before) - before[::-1].index(".") :]
    return "rather" in before[:-1]


def mark_negation(tokens: list[str]) -> list[str]:
    out = list(tokens)
    for index, word in enumerate(tokens):
        if word == "no" and _declines(tokens, index):
            out[index + 1] = "not_" + tokens[index + 1]
            continue
        if word == "than" and _prefers(tokens, index):
            pass  # "I'd rather wait than cancel": what follows "than" is the thing declined
        elif word not in NEGATORS and not (word == "no" and tokens[index + 1 : index + 2] == ["need"]):
            continue
        elif word == "rather" and tokens[index + 1 : index + 2] != ["than"]:
            continue  # "I'd rather have a refund" prefers the refund; only "rather than X" declines X
        if index and tokens[index - 1] in ABILITY:
            continue
        window = tokens[index + 1 : index + 1 + NEGATION_WINDOW]
        if any(w in ABILITY for w in window[:2]) or "able" in window:
            continue  # "not able to cancel", "not let me cancel"
        for offset, verb in enumerate(window, start=index + 1):
            if NEGATABLE.match(verb):
                out[offset] = "not_" + verb
                break
            if verb not in NEGATION_FILLER:
                break  # "never received my replacement" negates the receiving, not the replacement
    return out


class Tokenizer:
    """Words as the classifier reads them: expanded, typo-corrected against a vocabulary, negation-marked."""

    def __init__(self, vocabulary: Counter[str]) -> None:
        self.speller = Speller(vocabulary)

    def __call__(self, text: str) -> list[str]:
        corrected = (self.speller.correct(token) for token in words(text))
        return mark_negation([part for token in corrected for part in token.split()])


# ---------------------------------------------------------------------------------------------------
# Weighted intent patterns
# ---------------------------------------------------------------------------------------------------
# Each pattern runs over the canonical tokens joined by spaces, so it sees "do not" for "don't" and
# "order" for "ordr". Weights are logits added to labels; a negative weight expresses priority
# ("why was my order cancelled" is about a cancellation but is not a request to cancel). The table
# lives in classifier_lexicon.json beside the examples, each entry with the reason it exists.


def _compile_patterns(lexicon: dict[str, Any]) -> list[tuple[re.Pattern[str], dict[str, float]]]:
    fragments: dict[str, str] = lexicon["fragments"]
    compiled = []
    for entry in lexicon["patterns"]:
        pattern = entry["pattern"]
        # Fragments may use other fragments; expand until none is left.
        while any(f"<{name}>" in pattern for name in fragments):
            for name, alternation in fragments.items():
                pattern = pattern.replace(f"<{name}>", alternation)
        weights = {label: float(weight) for label, weight in entry["weights"].items()}
        unknown = set(weights) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown label {sorted(unknown)} in {LEXICON_PATH.name}")
        compiled.append((re.compile(pattern), weights))
    return compiled


INTENT_PATTERNS = _compile_patterns(_LEXICON)
PATTERN_CAP = 6.0


def pattern_scores(tokens: list[str]) -> dict[str, float]:
    """Sum of matched pattern weights per label, each label capped so no one phrase list runs away."""
    text = " ".join(tokens)
    scores = dict.fromkeys(LABELS, 0.0)
    for pattern, weights in INTENT_PATTERNS:
        if pattern.search(text):
            for label, weight in weights.items():
                scores[label] += weight
    return {label: max(-PATTERN_CAP, min(PATTERN_CAP, value)) for label, value in scores.items()}


_ALTERNATIVES = re.compile(r"\{([^{}]*)\}")
VARIANTS_PER_TEMPLATE = 12


def expand_template(template: str, limit: int = VARIANTS_PER_TEMPLATE, seed: int = 0) -> list[str]:
    """`{a|b} c` -> ["a c", "b c"]; large products are sampled (deterministically) down to `limit`."""
    parts = _ALTERNATIVES.split(template)
    literals, choices = parts[0::2], [p.split("|") for p in parts[1::2]]
    total = math.prod(len(c) for c in choices) if choices else 1
    if total <= limit:
        combos = list(product(*choices))
    else:
        rng = random.Random(f"{seed}:{template}")
        seen: set[tuple[str, ...]] = set()
        # Make every alternative appear at least once before sampling freely.
        widest = max(len(c) for c in choices)
        for index in range(widest):
            seen.add(
                tuple(
                    c[(index + rng.randrange(len(c))) % len(c)] if len(c) < widest else c[index]
                    for c in choices
                )
            )
        while len(seen) < limit:
            seen.add(tuple(rng.choice(c) for c in choices))
        combos = sorted(seen)
    texts = []
    for combo in combos:
        pieces = [literals[0]]
        for choice, literal in zip(combo, literals[1:], strict=True):
            pieces.append(choice)
            pieces.append(literal)
        texts.append(" ".join("".join(pieces).split()))
    return texts


def load_examples(path: Path = EXAMPLES_PATH) -> list[tuple[str, str]]:
    """(text, label) pairs from the team's own example file, templates expanded.

    Every example is also repeated once inside a greeting/courtesy frame drawn from the file's
    "frames": customers wrap any request in the same "hi team, can you help me ... thanks", and
    seeing those words under every label teaches the model that they carry no intent.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    prefixes = data.get("frames", {}).get("prefix", [])
    suffixes = data.get("frames", {}).get("suffix", [])
    rng = random.Random(7)
    pairs: list[tuple[str, str]] = []
    for label, templates in data["examples"].items():
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r} in {path.name}")
        for template in templates:
            for text in expand_template(template):
                pairs.append((text, label))
                if prefixes and suffixes:
                    pairs.append((f"{rng.choice(prefixes)} {text} {rng.choice(suffixes)}".strip(), label))
    return pairs


def features(tokens: list[str]) -> set[str]:
    """Content words and adjacent word pairs; presence only, so repeating a word does not shout louder."""
    feats = {word for word in tokens if word not in FUNCTION_WORDS and word != "."}
    feats.update(f"{a}_{b}" for a, b in zip(tokens, tokens[1:], strict=False) if a != "." and b != ".")
    return feats


class NaiveBayes:
    """Multinomial naive Bayes over binary features with uniform class priors.

    Priors are uniform on purpose: the mix of our example file says nothing about the mix of real
    tickets. Features seen in only one example are dropped, so a single odd example cannot dominate.
    """

    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self.log_prob: dict[str, dict[str, float]] = {}
        self.default: dict[str, float] = {}

    def fit(self, docs: list[tuple[set[str], str]]) -> NaiveBayes:
        doc_freq: Counter[str] = Counter()
        per_label: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
        for feats, label in docs:
            per_label[label].update(feats)
            doc_freq.update(feats)
        vocab = {f for f, n in doc_freq.items() if n >= 2}
        for label in LABELS:
            counts = per_label[label]
            total = sum(counts[f] for f in vocab) + self.alpha * len(vocab)
            self.default[label] = math.log(self.alpha / total)
            for feat in vocab:
                self.log_prob.setdefault(feat, {})[label] = math.log((counts[feat] + self.alpha) / total)
        return self

    def scores(self, feats: set[str]) -> tuple[dict[str, float], int]:
        """Per-label log-likelihood (max shifted to 0) and how many known features voted."""
        totals = dict.fromkeys(LABELS, 0.0)
        known = 0
        for feat in feats:
            row = self.log_prob.get(feat)
            if row is None:
                continue
            known += 1
            for label in LABELS:
                totals[label] += row[label]
        top = max(totals.values())
        return {label: value - top for label, value in totals.items()}, known


# How the two views are combined (tuned on our own examples, checked on held-out measurement data).
NB_WEIGHT = 0.45  # per sqrt(feature): long texts should not get more certain just by being long
PATTERN_WEIGHT = 1.0
TEMPERATURE = 1.0
NB_ONLY_DAMP = 0.7
OTHER_BIAS = 0.3  # when in doubt, "other": it goes to a human, which is the safe mistake


def _softmax(logits: dict[str, float]) -> dict[str, float]:
    top = max(logits.values())
    exps = {label: math.exp((value - top) / TEMPERATURE) for label, value in logits.items()}
    total = sum(exps.values())
    return {label: value / total for label, value in exps.items()}


class RuleModel:
    """Weighted intent patterns plus naive Bayes on the rule set's own examples."""

    labels = LABELS

    def __init__(self, examples: list[tuple[str, str]] | None = None) -> None:
        pairs = examples if examples is not None else load_examples()
        vocabulary: Counter[str] = Counter(word for text, _ in pairs for word in words(text))
        self.tokenize = Tokenizer(vocabulary)
        docs = [(features(self.tokenize(text)), label) for text, label in pairs]
        self.model = NaiveBayes().fit(docs)

    def probabilities(self, cleaned: str) -> dict[str, float]:
        """A probability per built-in label for already cleaned text
        (policies.understanding.text.clean_text)."""
        return _softmax(self._logits(self.tokenize(cleaned)))

    def _logits(self, tokens: list[str]) -> dict[str, float]:
        nb, known = self.model.scores(features(tokens))
        patterns = pattern_scores(tokens)
        scale = NB_WEIGHT / math.sqrt(max(known, 1))
        logits = {label: scale * nb[label] + PATTERN_WEIGHT * patterns.get(label, 0.0) for label in LABELS}
        # Nothing recognisable: no label deserves confidence, so flatten towards uniform.
        evidence = known + 3 * sum(1 for v in patterns.values() if v > 0)
        if evidence < 3:
            damp = evidence / 3
            logits = {label: value * damp for label, value in logits.items()}
        if not any(value > 0 for value in patterns.values()):
            # No known phrasing matched: the word model alone is guessing from loose associations.
            logits = {label: value * NB_ONLY_DAMP for label, value in logits.items()}
        logits["other"] += OTHER_BIAS
        return logits
