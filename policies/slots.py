"""Offline slot extraction: the value a flow asked for, read from the customer's reply.

A flow asks one question at a time, so the extractor knows which kind of answer to look for and can
accept short replies ("1043", "the second one", "yep") that would be meaningless out of context.
When the reply is ambiguous (two orders match, "yes but no") nothing is extracted: the flow asks
again, and a person takes over if that fails too. A wrong guess would act on the wrong order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.expressions import as_date, render_template
from policies.extract import extract_email, extract_order_number
from policies.text import clean_text, words

__all__ = ["SLOT_TYPES", "SlotResult", "extract_slot", "extract_yes_no", "extract_choice", "option_label"]

SLOT_TYPES = ("email", "order_number", "choice", "yes_no", "text")


@dataclass(frozen=True)
class SlotResult:
    found: bool
    value: Any = None

    @classmethod
    def missing(cls) -> SlotResult:
        return cls(False, None)


def extract_slot(
    kind: str,
    message: str,
    *,
    options: Sequence[Any] = (),
    show: str | None = None,
) -> SlotResult:
    """Read a slot of `kind` from a customer message. For `choice`, the value is the chosen option."""
    text = clean_text(message)
    if kind == "email":
        email = extract_email(text)
        return SlotResult(True, email) if email else SlotResult.missing()
    if kind == "order_number":
        number = extract_order_number(text, bare=True)
        return SlotResult(True, number) if number else SlotResult.missing()
    if kind == "yes_no":
        answer = extract_yes_no(text)
        return SlotResult.missing() if answer is None else SlotResult(True, answer)
    if kind == "choice":
        index = extract_choice(text, options, show=show)
        return SlotResult.missing() if index is None else SlotResult(True, options[index])
    if kind == "text":
        return SlotResult(True, text[:1000]) if text else SlotResult.missing()
    raise ValueError(f"unknown slot type {kind!r}")


_YES = {
    "yes",
    "yep",
    "yeah",
    "yea",
    "ya",
    "yup",
    "yess",
    "yes.",
    "sure",
    "ok",
    "okay",
    "k",
    "correct",
    "right",
    "absolutely",
    "definitely",
    "affirmative",
    "y",
    "indeed",
    "confirm",
    "confirmed",
    "received",
    "arrived",
    "got",
}
_YES_PHRASES = ("of course", "that's right", "that is right", "go ahead", "please do", "sounds good")
_NO = {
    "no",
    "nope",
    "nah",
    "nay",
    "not",
    "never",
    "n",
    "negative",
    "wrong",
    "incorrect",
    "nothing",
    "missing",
}
_NO_PHRASES = ("not yet", "no way")
_NEGATORS = {"not", "never", "no"}


def extract_yes_no(text: str) -> bool | None:
    """True/False for a clear answer; None when there is no answer or it says both.

    A yes-word right after a negation ("not received", "never got it") counts as a no.
    """
    tokens = words(text)
    lowered = " ".join(tokens)
    yes = any(p in lowered for p in _YES_PHRASES)
    no = any(p in lowered for p in _NO_PHRASES)
    for index, token in enumerate(tokens):
        if token in _NO:
            no = True
        elif token in _YES:
            negated = any(t in _NEGATORS for t in tokens[max(0, index - 3) : index])
            if negated:
                no = True
            else:
                yes = True
    if yes == no:
        return None
    return yes


_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "two": 1,
    "third": 2,
    "3rd": 2,
    "three": 2,
    "fourth": 3,
    "4th": 3,
    "four": 3,
    "fifth": 4,
    "5th": 4,
    "five": 4,
    "sixth": 5,
    "6th": 5,
    "six": 5,
}
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_STOP = {
    "the",
    "one",
    "a",
    "an",
    "i",
    "my",
    "it",
    "is",
    "was",
    "that",
    "this",
    "from",
    "with",
    "order",
    "please",
    "want",
    "mean",
    "meant",
    "about",
    "for",
    "of",
    "in",
    "on",
    "and",
    "to",
    "me",
    "would",
    "like",
    "which",
    "ordered",
    "thanks",
    "thank",
    "you",
    "yes",
    "number",
    "am",
}


def option_label(option: Any, show: str | None = None) -> str:
    """How an option reads in the list we send the customer."""
    if show:
        return render_template(show, {"item": option})
    if isinstance(option, Mapping):
        if option.get("number"):
            return "#" + str(option["number"]).lstrip("#")
        return str(option.get("name") or option.get("id") or option)
    return str(option)


def _option_text(option: Any, show: str | None) -> str:
    """Every word an option can be recognised by: its label, number, item names."""
    parts = [option_label(option, show)]
    if isinstance(option, Mapping):
        for key in ("number", "id", "name", "title"):
            if option.get(key):
                parts.append(str(option[key]))
        for item in option.get("items") or ():
            if isinstance(item, Mapping) and item.get("name"):
                parts.append(str(item["name"]))
    return " ".join(parts).lower()


def _option_numbers(option: Any) -> set[str]:
    if isinstance(option, Mapping):
        return {str(option[k]).lstrip("#").lower() for k in ("number", "id") if option.get(k)}
    return {str(option).lstrip("#").lower()}


def _option_month(option: Any) -> tuple[int, int] | None:
    if not isinstance(option, Mapping):
        return None
    day = as_date(option.get("created_at"))
    return (day.year, day.month) if day else None


def _unique(matches: list[int]) -> int | None:
    found = sorted(set(matches))
    return found[0] if len(found) == 1 else None


def extract_choice(text: str, options: Sequence[Any], *, show: str | None = None) -> int | None:
    """Index of the option the customer picked, or None when none or several fit.

    Tried in order of how unambiguous the clue is: an order number ("#1043", "1043"), an ordinal or
    list position ("the second one", "2", "last"), a month ("the one from March"), then the words
    that name the option ("the blue mug").
    """
    if not options or not text:
        return None
    lowered = text.lower()
    # 1. A number that is one of the options' numbers or ids.
    tokens = re.findall(r"#?[A-Za-z]{0,4}-?\d[\d-]*", text)
    by_number = [
        i
        for i, option in enumerate(options)
        for token in tokens
        if token.lstrip("#").lower() in _option_numbers(option)
    ]
    if not by_number:
        # "1004" for "AS-1004": the digits alone, when only one option has them.
        digits = {re.sub(r"\D", "", t) for t in tokens} - {""}
        by_number = [
            i
            for i, option in enumerate(options)
            for number in _option_numbers(option)
            if len(re.sub(r"\D", "", number)) >= 3 and re.sub(r"\D", "", number) in digits
        ]
    if by_number:
        return _unique(by_number)
    order_number = extract_order_number(text, bare=True)
    if order_number and not re.fullmatch(r"\d", order_number):
        matched = [i for i, option in enumerate(options) if order_number.lower() in _option_numbers(option)]
        if matched:
            return _unique(matched)
    # 2. A list position: "2", "the second one", "last", "number 2".
    tokenized = words(text)
    positions = [_ORDINALS[t] for t in tokenized if t in _ORDINALS]
    bare_digits = re.findall(r"(?<![\w#$.,])(\d)(?![\w.,]\d)", lowered)
    positions += [int(d) - 1 for d in bare_digits]
    if re.search(r"\b(last|latest|most recent|newest|recent)\b", lowered):
        positions.append(len(options) - 1 if not _newest_first(options) else 0)
    if re.search(r"\b(oldest|earliest)\b", lowered):
        positions.append(0 if not _newest_first(options) else len(options) - 1)
    positions = [p for p in positions if 0 <= p < len(options)]
    if positions:
        return _unique(positions)
    # 3. A month: "the one from March".
    months = [
        _MONTHS[t]
        for t in re.findall(r"[a-z]+", lowered)
        if t in _MONTHS and (t != "may" or "from may" in lowered or "in may" in lowered)
    ]
    if months:
        matched = [i for i, option in enumerate(options) if (m := _option_month(option)) and m[1] in months]
        if matched:
            return _unique(matched)
    # 4. Words naming the option: "the blue mug".
    wanted = {t for t in tokenized if t not in _STOP and len(t) > 2 and t != "<num>"}
    if not wanted:
        return None
    scores = []
    for option in options:
        option_words = set(re.findall(r"[a-z0-9]+", _option_text(option, show)))
        scores.append(len(wanted & option_words))
    best = max(scores)
    if best == 0:
        return None
    winners = [i for i, score in enumerate(scores) if score == best]
    return winners[0] if len(winners) == 1 else None


def _newest_first(options: Sequence[Any]) -> bool:
    """Orders usually come newest first; 'the latest one' must follow the list's real order."""
    dates = [as_date(o.get("created_at")) if isinstance(o, Mapping) else None for o in options]
    known = [d for d in dates if d]
    return len(known) >= 2 and known[0] > known[-1]
