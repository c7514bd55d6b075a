"""The local reader: a customer message read as a whole, offline, deterministic and free.

It reads canonical text (policies.understanding.text.words: contractions expanded, chat spellings and
typos of intent
words mapped back), sentence by sentence, so a negation stays in its own sentence and "yes but ..."
keeps its "but". What it finds is listed in policies.understanding.reading; how it decides:

- Requests (INTENT_PATTERNS) count unless negated right before the verb ("don't cancel").
- Facts (FACT_PATTERNS) are stated true or false: "it never came" says `received` is false.
- The answer to a yes/no question comes from yes and no words, from the fact the question is about
  ("found it, my neighbour had it" answers "did you find it?"), and from the action it names ("just send
  it please" is a yes to sending; "ok just cancel it then" is not a yes to a discount). Conditions, a
  changed detail, a request for another action, both yes and no, a question back, or doubt make it not
  plain, and only a plain yes authorises a write.
- Choices and items are matched against what the options say (policies.understanding.choices).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from functools import lru_cache

from policies.language.expressions import as_date
from policies.understanding import lexicon as lx
from policies.understanding.choices import match_items, pick_options
from policies.understanding.extract import extract_email, extract_order_numbers
from policies.understanding.language import detect_language
from policies.understanding.reading import ItemMention, Question, Reading
from policies.understanding.text import clean_text, words

__all__ = ["LocalReader", "action_of", "only_thanks", "read_locally"]

_NEGATORS = frozenset({"not", "never", "no", "without", "nor"})
_NEGATION_FILLER = frozenset(
    [
        "want",
        "wanna",
        "need",
        "like",
        "wish",
        "plan",
        "going",
        "to",
        "a",
        "an",
        "the",
        "my",
        "any",
        "this",
        "that",
        "it",
        "me",
        "i",
        "we",
        "please",
        "for",
        "ever",
        "even",
        "really",
        "actually",
        "be",
        "of",
        "do",
        "does",
        "did",
        "will",
        "would",
    ]
)
_PRONOUNS = frozenset(["i", "we", "you", "it", "they", "my", "our", "me", "he", "she"])
_SENTENCE = re.compile(r"\s*\.\s*")
_LEADING_NO = re.compile(
    r"^(?:(?:oh|ah|ahh|ooh|hmm+|um+|uh|well|ok|okay|right|i see|got it|ah i see|oh i see)\s+)*"
    r"(?:no|nope|nah)\b(?! (?:problem|problems|worries|worry|rush|hurry|doubt|biggie)\b)"
)
"""A no after an acknowledgement ("oh right, no", "ah ok no thanks"): the "ok" heard the bot."""
_ADDRESS = re.compile(
    r"\b\d{1,6}[a-z]?\s+(?:[A-Za-z0-9.'-]+\s+){0,4}?(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|"
    r"boulevard|blvd|court|ct|way|place|pl|terrace|close|crescent|highway|hwy|parkway|pkwy|square|sq|"
    r"circle|cir|row|walk|calle|rue|strasse|straße)\b\.?(?:[^\n.!?;]{0,80})",
    re.I,
)
_PERCENT = re.compile(r"\b\d{1,3}\s*(?:%|percent)", re.I)
_COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "couple": 2, "both": 2, "few": 3}
_COUNT = re.compile(
    r"\b(?:next|skip|the|for|following|upcoming) (?:(?P<num>\d{1,2})|(?P<word>two|three|four|five|"
    r"six|couple|few))"
    r"(?: of)? (?:\w+ )?(?:deliveries|delivery|boxes|box|months|month|shipments|shipment|orders|"
    r"weeks|ones|times)\b"
)


@lru_cache(maxsize=1)
def _speller():
    """The classifier's typo corrector (intent words only): "recieved", "cancle", "dammaged"."""
    from policies.understanding.classifier_rules import Speller

    return Speller(Counter())


def canonical(text: str) -> str:
    """Lower-case words with contractions expanded and typos of intent words corrected; "." between
    sentences. Numbers stay as <num>."""
    speller = _speller()
    tokens = [part for token in words(text) for part in speller.correct(token).split()]
    return " ".join(tokens)


def action_of(tool: str | None) -> str | None:
    """The kind of write a tool is ("cancel", "send", "discount", ...), or None."""
    if not tool:
        return None
    return next((kind for pattern, kind in lx.TOOL_ACTIONS if pattern.search(tool)), None)


_THANKS = re.compile(
    r"^(?:(?:ok|okay|great|perfect|awesome|cool|brilliant|lovely|wonderful|amazing|super|nice|good|got it|"
    r"all good|that is great|appreciate it|much appreciated|cheers|have a (?:good|nice|great) (?:day|one)|"
    r"you are (?:the best|a star|great)|thanks?|thank you|thankyou|thanks so much|thank you so much|"
    r"many thanks|thx|ty|a lot|again|very much|so much|for (?:the|your) help|for everything)\b[ .]*)+$"
)


def only_thanks(message: str) -> bool:
    """A thank-you or an "ok" and nothing else: no request, no order, no question."""
    text = clean_text(message)
    canon = canonical(text).replace("<num>", "")
    if "?" in text or not canon.strip():
        return False
    reading = read_locally(text)
    said = reading.intents or reading.order_numbers or reading.facts or reading.problem or reading.email
    sentences = [" ".join(s.split()) for s in _SENTENCE.split(canon) if s.strip()]
    # a thank-you, perhaps signed ("Thanks! Ana"): a short line after it says nothing new
    return not said and bool(_THANKS.match(sentences[0])) and all(len(s.split()) <= 3 for s in sentences[1:])


class LocalReader:
    """`read(message, question)` -> Reading, with no network and no model."""

    name = "local"

    def read(self, message: str, question: Question | None = None) -> Reading:
        return read_locally(message, question)


def read_locally(message: str, question: Question | None = None) -> Reading:
    question = question or Question.open()
    text = clean_text(message)
    canon = canonical(text)
    sentences = [s for s in _SENTENCE.split(canon) if s]
    reading = Reading(language=detect_language(text))
    reading.email = extract_email(text)
    bare = question.kind in ("order_number", "choice")
    reading.order_numbers = extract_order_numbers(text, bare=bare)
    reading.intents = _intents(sentences, canon)
    reading.facts = _facts(sentences)
    reading.problem = _problem(canon, reading)
    reading.address = _address(text)
    reading.count = _count(" ".join(re.findall(r"[a-z0-9]+", text.lower())))
    reading.everything = bool(
        re.search(r"\b(?:both|all of (?:them|it)|everything|the whole|all items)\b", canon)
    )
    if _PERCENT.search(text) and "more_discount" not in reading.intents:
        reading.intents.append("more_discount")
    if reading.address and "change_address" not in reading.intents:
        reading.intents.append("change_address")
    if lx.INSIST.search(canon) and (set(reading.intents) - {"human"}):
        reading.facts["insists"] = True
    _answer(reading, text, canon, sentences, question)
    return reading


# ---- requests and facts -------------------------------------------------------------------------


def _negated(sentence: str, start: int) -> bool:
    """A negator within a few filler words before the match: "do not want to cancel"."""
    before = sentence[:start].split()[-5:]
    following = sentence[start:].split()[:1]
    for position, word in enumerate(reversed(before)):
        if word == "no" and (position or following[:1] and following[0] in _PRONOUNS):
            return False  # "no, I moved": an interjection; "no refund" negates only what follows it
        if word in _NEGATORS:
            return True
        if word not in _NEGATION_FILLER:
            return False
    return False


def _intents(sentences: list[str], canon: str) -> list[str]:
    found: list[str] = []
    for intent, pattern in lx.INTENT_PATTERNS.items():
        for sentence in sentences:
            match = pattern.search(sentence)
            if match and (intent in ("human", "where_is_order") or not _negated(sentence, match.start())):
                found.append(intent)
                break
    if "cancel_subscription" in found and "cancel_order" in found:
        found.remove("cancel_order")
    if "human" in found and re.search(
        r"\b(?:do not|dont|no) need (?:a |to talk to a )?(?:human|person|agent)\b", canon
    ):
        found.remove("human")
    received_false = any(lx.FACT_PATTERNS["received"][1].search(s) for s in sentences)
    if received_false and "not_received" not in found:
        found.insert(0, "not_received")
    return found


def _facts(sentences: list[str]) -> dict[str, bool]:
    """Each fact as the message last states it; "never got it" is a negated "got it", so false."""
    facts: dict[str, bool] = {}
    for name, (says_true, says_false) in lx.FACT_PATTERNS.items():
        for sentence in sentences:
            statements = [(m.start(), False) for m in says_false.finditer(sentence)]
            statements += [
                (m.start(), not _negated(sentence, m.start())) for m in says_true.finditer(sentence)
            ]
            if statements:
                facts[name] = max(statements, key=lambda s: (s[0], not s[1]))[1]
                if any(value is False for _, value in statements) and name == "received":
                    facts[name] = False  # "it says delivered but I never got it": not received
    if facts.get("found") is True:
        facts["received"] = True
    if facts.get("wants_refund") and "wants_replacement" not in facts:
        facts["wants_replacement"] = False
    return facts


_PARCEL_MISSING = re.compile(
    r"\b(?:package|parcel|order|delivery|shipment|box|it) (?:is |was |has |have |gone |went |been )*missing\b"
)


def _problem(canon: str, reading: Reading) -> str | None:
    if _PARCEL_MISSING.search(canon):
        return "damaged" if lx.PROBLEM_PATTERNS["damaged"].search(canon) else "lost"
    for problem in ("damaged", "wrong_item", "missing_item"):
        if lx.PROBLEM_PATTERNS[problem].search(canon):
            if problem == "wrong_item" and re.search(r"\bwrong address\b", canon):
                continue
            return problem
    if lx.PROBLEM_PATTERNS["lost"].search(canon) or reading.facts.get("received") is False:
        return "lost"
    return None


def _address(text: str) -> str | None:
    match = _ADDRESS.search(text)
    if not match:
        return None
    return " ".join(match.group(0).split()).rstrip(" ,.")[:200]


def _count(plain: str) -> int | None:
    match = _COUNT.search(plain)
    if not match:
        return None
    if match.group("num"):
        return int(match.group("num"))
    return _COUNT_WORDS.get(match.group("word") or "")


# ---- the answer to the pending question ---------------------------------------------------------


def _answer(reading: Reading, text: str, canon: str, sentences: list[str], question: Question) -> None:
    if question.kind == "yes_no":
        _yes_no(reading, text, canon, sentences, question)
    elif question.kind == "choice":
        today = as_date(question.today) if question.today else None
        reading.picks = pick_options(text, question.options, today=today or date.today())
        if not reading.picks:
            reading.picks = _pick_by_meaning(reading, question)
        reading.answer = "yes" if reading.picks else "unclear"
    elif question.kind == "items":
        matched = match_items(text, question.options)
        reading.picks = sorted(matched)
        reading.quantities = {i: q for i, q in matched.items() if q is not None}
        reading.items = [ItemMention(str(_name(question.options[i])), matched[i]) for i in sorted(matched)]
        reading.answer = "yes" if matched else "unclear"
    elif question.kind == "email":
        reading.answer = "yes" if reading.email else "unclear"
    elif question.kind == "order_number":
        reading.answer = "yes" if reading.order_numbers else "unclear"
    elif question.kind == "text":
        reading.answer = "yes" if text else "unclear"


def _name(option: object) -> object:
    return option.get("name") if isinstance(option, dict) else option


_PROBLEM_WORDS = {
    "lost": re.compile(r"\b(?:lost|never|arrive|arrived|missing parcel|stolen|not received)\b"),
    "damaged": re.compile(rf"\b{lx.DAMAGE}\b"),
    "wrong_item": re.compile(r"\bwrong\b"),
    "missing_item": re.compile(r"\bmissing\b|\bincomplete\b"),
}


def _pick_by_meaning(reading: Reading, question: Question) -> list[int]:
    """Options written as plain words ("arrived damaged", "wrong item") picked by what the reply means."""
    if not reading.problem:
        return []
    pattern = _PROBLEM_WORDS[reading.problem]
    matched = [i for i, o in enumerate(question.options) if isinstance(o, str) and pattern.search(o.lower())]
    return matched if len(matched) == 1 else []


def _yes_no(reading: Reading, text: str, canon: str, sentences: list[str], question: Question) -> None:
    first = sentences[0] if sentences else ""
    short = text.strip().lower().strip(".!")
    yes = (
        short == "y"
        or bool(lx.AFFIRM.search(first))
        or any(lx.AFFIRM.search(s) and len(s.split()) <= 4 for s in sentences)
    )
    no = short == "n" or bool(lx.DECLINE.search(canon)) or bool(lx.NEGATED_AFFIRM.search(canon))
    if yes and lx.NEGATED_AFFIRM.search(first):
        yes = False
    if yes and _LEADING_NO.search(first) and not lx.MIXED.search(canon):
        yes = False  # "(oh right,) no, that's fine": the "fine" is the no's politeness, not a yes
    qualifiers: list[str] = []
    if lx.MIXED.search(canon):
        qualifiers.append("mixed")
    topic = question.topic
    if topic:
        stated = reading.facts.get(topic)
        opposite = {"wants_replacement": "wants_refund", "wants_refund": "wants_replacement"}.get(topic)
        if stated is None and opposite and reading.facts.get(opposite) is True:
            stated = False
        if stated is not None:  # what the reply says happened outweighs a stray "yes" or "no"
            yes, no = stated, not stated
    if lx.UNCERTAIN.search(canon):
        qualifiers.append("uncertain")
    if lx.QUESTION.search(text.strip().lower()) and not (yes and len(canon.split()) <= 3):
        qualifiers.append("question")
    conditional = _conditional(canon)
    action = action_of(question.action)
    if action:
        named, negated = _names_action(canon, action)
        if named and not negated:
            yes = True
        keep = lx.KEEP_INSTEAD.get(action, _NEVER).search(canon)
        if negated or (keep and not yes):
            no, yes = True, False
        elif keep:  # "yes but keep the mugs, only cancel the kettle": part of it, not the question
            no = True
        others = [
            i
            for i in reading.intents
            if lx.ACTION_INTENTS.get(i) and lx.ACTION_INTENTS[i] != action and i != "human"
        ]
        if others and not named:
            qualifiers.append("other_action")
            repeated = bool(lx.REPEATED.search(canon))
            hedged = not repeated and (conditional or bool({"question", "uncertain"} & set(qualifiers)))
            yes, no = False, not hedged  # "just cancel it" declines an offer; "yes if ..." is unclear
    if yes and no:
        qualifiers.append("mixed")
    if yes and conditional:
        qualifiers.append("conditional")
    if yes and _changed(reading, text, canon, question):
        qualifiers.append("changed_detail")
    if yes and not no:
        reading.answer = "yes"
    elif no and not yes:
        reading.answer = "no"
    else:
        reading.answer = "unclear"
    if (
        reading.answer == "no"
        and "other_action" not in qualifiers
        and {"uncertain", "question", "mixed"} & set(qualifiers)
    ):
        reading.answer = "unclear"
    if reading.answer == "yes" and "mixed" in qualifiers:
        reading.answer = "unclear"
    reading.qualifiers = sorted(set(qualifiers))


_NEVER = re.compile(r"(?!)")


def _names_action(canon: str, action: str) -> tuple[bool, bool]:
    """Whether the reply names the question's own action, and whether it negates it ("don't cancel")."""
    named = negated = False
    for word in lx.ACTION_WORDS.get(action, ()):
        for match in re.finditer(rf"(?<![\w%]){re.escape(word)}(?![\w])", canon):
            sentence_start = canon.rfind(".", 0, match.start()) + 1
            if _negated(canon[sentence_start:], match.start() - sentence_start):
                negated = True
            else:
                named = True
    return named, negated


def _conditional(canon: str) -> bool:
    if lx.CONDITION.search(canon):
        return True
    contrast = lx.CONTRAST.search(canon)
    if not contrast:
        return False
    tail = canon[contrast.start() :].strip(" .")
    return not lx.BENIGN_TAIL.match(tail)


def _changed(reading: Reading, text: str, canon: str, question: Question) -> bool:
    """A different address, order, quantity or amount than the question's, or more than it asked."""
    if reading.address or lx.CHANGED.search(canon):
        return True
    asked = question.text.lower()
    for number in reading.order_numbers:
        if number.lower() not in asked:
            return True
    percents = re.findall(r"(\d{1,3})\s*(?:%|percent)", text.lower())
    return any(f"{p}%" not in asked for p in percents)
