"""Which listed option(s) a reply points at, and which items (and how many) a message names.

Options are matched against what they say, in order of how unambiguous the clue is: an order number
("#1043", "1043"), a position ("the second one", "2", "the last"), "both" / "all of them", a date ("the
one from March", "the one from last week"), then the words that name the option or its items ("the
mugs"). When the clue fits several options and the customer did not say "both" or "all", nothing is
picked: the question comes back explained differently, and a wrong guess never acts on the wrong order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from policies.language.expressions import as_date, render_template
from policies.understanding.extract import extract_order_numbers
from policies.understanding.text import words

__all__ = ["by_words", "match_items", "option_label", "pick_options", "singular"]

_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
    "sixth": 5,
    "6th": 5,
}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "a": 1, "an": 1, "single": 1}
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
_EVERY = re.compile(
    r"\b(?:both|all (?:of )?(?:them|it|those|these|the (?:orders|items|subscriptions|things))|all <num>|"
    r"all two|all three|each (?:one|of them)|every (?:one|item|order)|everything|the (?:whole|entire) "
    r"(?:order|thing|lot|box|package|parcel)|all items|all my orders|all of the above)\b"
)
_STOP = frozenset(
    [
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
        "orders",
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
        "its",
        "it's",
        "them",
        "they",
        "those",
        "these",
        "both",
        "all",
        "just",
        "only",
        "item",
        "items",
        "thing",
        "things",
        "stuff",
        "got",
        "get",
        "came",
        "come",
        "arrived",
        "broken",
        "damaged",
        "cracked",
        "smashed",
        "wrong",
        "missing",
        "sent",
        "send",
        "new",
        "another",
        "again",
        "replacement",
        "replace",
        "were",
        "are",
        "be",
        "been",
        "have",
        "has",
        "had",
        "did",
        "do",
        "not",
        "no",
        "but",
        "so",
        "very",
        "really",
        "also",
        "some",
        "any",
        "there",
        "here",
        "what",
        "where",
        "when",
        "how",
        "box",
        "package",
        "parcel",
        "delivery",
        "last",
        "first",
        "second",
        "third",
        "next",
        "week",
        "month",
        "day",
        "days",
        "ago",
        "yesterday",
        "today",
        "recent",
        "latest",
        "oldest",
        "earlier",
        "earliest",
    ]
)


def option_label(option: Any, show: str | None = None) -> str:
    """How an option reads in the list we send the customer."""
    if show:
        return render_template(show, {"item": option})
    if isinstance(option, Mapping):
        if option.get("number"):
            return "#" + str(option["number"]).lstrip("#")
        return str(option.get("name") or option.get("id") or option)
    return str(option)


def singular(word: str) -> str:
    """ "mugs" -> "mug", "glasses" -> "glass", "boxes" -> "box": enough to match item names."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and re.search(r"(?:ss|sh|ch|x|z)es$", word):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _content(text: str) -> set[str]:
    return {singular(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 2}


def _option_text(option: Any, show: str | None) -> str:
    """Every word an option can be recognised by: its label, number, name, item names, products."""
    parts = [option_label(option, show)]
    if isinstance(option, Mapping):
        for key in ("number", "id", "name", "title", "frequency"):
            if option.get(key):
                parts.append(str(option[key]))
        for item in option.get("items") or ():
            if isinstance(item, Mapping) and item.get("name"):
                parts.append(str(item["name"]))
        for product in option.get("products") or ():
            parts.append(str(product))
    return " ".join(parts).lower()


def _option_numbers(option: Any) -> set[str]:
    if isinstance(option, Mapping):
        return {str(option[k]).lstrip("#").lower() for k in ("number", "id") if option.get(k)}
    return {str(option).lstrip("#").lower()}


def _option_day(option: Any) -> date | None:
    if not isinstance(option, Mapping):
        return None
    return as_date(option.get("created_at") or option.get("next_delivery") or option.get("date"))


def _newest_first(options: Sequence[Any]) -> bool:
    """Orders usually come newest first; "the latest one" must follow the list's real order."""
    days = [_option_day(o) for o in options]
    known = [d for d in days if d]
    return len(known) >= 2 and known[0] > known[-1]


def _one_or_none(found: list[int]) -> list[int]:
    unique = sorted(set(found))
    return unique if len(unique) == 1 else []


def pick_options(
    text: str, options: Sequence[Any], *, show: str | None = None, today: date | None = None
) -> list[int]:
    """Indexes of the options the reply picks: one, several ("both", two order numbers), or none."""
    if not options or not text or not text.strip():
        return []
    lowered = text.lower()
    canon = " ".join(words(text))
    by_number = _by_number(text, options)
    if by_number:
        return by_number
    every = bool(_EVERY.search(canon))
    by_position = _by_position(lowered, canon, options)
    if by_position:
        return by_position
    by_date = _by_date(lowered, options, today)
    by_words = _by_words(text, options, show)
    for found in (by_date, by_words):
        if found and (len(found) == 1 or every):
            return found
    if every and len(options) <= 6:
        return list(range(len(options)))
    if by_date and by_words:
        both = sorted(set(by_date) & set(by_words))
        return both if len(both) == 1 else []
    return []


def _by_number(text: str, options: Sequence[Any]) -> list[int]:
    tokens = re.findall(r"#?[A-Za-z]{0,4}-?\d[\d-]*", text)
    exact = [i for i, o in enumerate(options) for t in tokens if t.lstrip("#").lower() in _option_numbers(o)]
    if exact:
        return sorted(set(exact))
    digits = {re.sub(r"\D", "", t) for t in tokens} - {""}
    loose = [
        i
        for i, option in enumerate(options)
        for number in _option_numbers(option)
        if len(re.sub(r"\D", "", number)) >= 3 and re.sub(r"\D", "", number) in digits
    ]
    if loose:
        return sorted(set(loose))
    named = [n.lower() for n in extract_order_numbers(text, bare=True) if not re.fullmatch(r"\d{1,2}", n)]
    return sorted({i for i, o in enumerate(options) for n in named if n in _option_numbers(o)})


def _by_position(lowered: str, canon: str, options: Sequence[Any]) -> list[int]:
    tokens = canon.split()
    positions = [_ORDINALS[t] for t in tokens if t in _ORDINALS]
    # "2", "number 2", "the 2nd": a lone small number is a place in the list
    positions += [int(d) - 1 for d in re.findall(r"(?<![\w#$.,£€])(\d)(?![\w.,:%]\d?)", lowered)]
    newest_first = _newest_first(options)
    if re.search(r"\b(?:the )?last(?! (?:week|month|year|time|night|days?))\b", lowered):
        positions.append(len(options) - 1)  # the last in the list we sent
    if re.search(r"\b(?:latest|most recent|newest|recent|newer)\b", lowered):
        positions.append(0 if newest_first else len(options) - 1)
    if re.search(r"\b(?:oldest|earliest|older|earlier)\b", lowered):
        positions.append(len(options) - 1 if newest_first else 0)
    if re.search(r"\btop (?:one|order)\b|\bthe one (?:at|on) (?:the )?top\b", lowered):
        positions.append(0)
    positions = [p for p in positions if 0 <= p < len(options)]
    return sorted(set(positions))


def _by_date(lowered: str, options: Sequence[Any], today: date | None) -> list[int]:
    days = [_option_day(o) for o in options]
    if not any(days):
        return []
    months = [
        _MONTHS[t]
        for t in re.findall(r"[a-z]+", lowered)
        if t in _MONTHS
        and (t != "may" or re.search(r"\b(?:from|in|of|on) may\b", lowered))
        and not (t == "mar" and "mark" in lowered)
    ]
    if months:
        return [i for i, d in enumerate(days) if d and d.month in months]
    if today is None:
        return []
    window = _relative_window(lowered, today)
    if window is None:
        return []
    start, end = window
    return [i for i, d in enumerate(days) if d and start <= d <= end]


def _relative_window(lowered: str, today: date) -> tuple[date, date] | None:
    """The days a relative date means, with a little slack: people round ("last week" for 9 days ago)."""
    if re.search(r"\byesterday\b", lowered):
        return today - timedelta(days=2), today - timedelta(days=1)
    if re.search(r"\btoday\b", lowered):
        return today, today
    if re.search(r"\b(?:this|the past) week\b|\bfew days ago\b|\bcouple (?:of )?days ago\b", lowered):
        return today - timedelta(days=7), today
    if re.search(r"\blast week\b|\ba week ago\b", lowered):
        return today - timedelta(days=14), today - timedelta(days=4)
    if re.search(r"\b(?:two|2|couple of) weeks ago\b", lowered):
        return today - timedelta(days=21), today - timedelta(days=10)
    if re.search(r"\blast month\b|\ba month ago\b", lowered):
        return today - timedelta(days=62), today - timedelta(days=20)
    if re.search(r"\bthis month\b", lowered):
        return today.replace(day=1), today
    return None


def by_words(text: str, options: Sequence[Any], show: str | None = None) -> list[int]:
    """The one option the text names by what it holds ("the oat milk creamer"), or []."""
    found = _by_words(text, options, show)
    return found if len(found) == 1 else []


def _by_words(text: str, options: Sequence[Any], show: str | None) -> list[int]:
    wanted = _content(text)
    if not wanted:
        return []
    scores = [len(wanted & _content(_option_text(o, show))) for o in options]
    best = max(scores)
    return [i for i, score in enumerate(scores) if score == best] if best else []


# ---- items and quantities -----------------------------------------------------------------------

_QTY = re.compile(
    r"\b(?:(?P<num>\d{1,3})|(?P<word>one|two|three|four|five|six|a|an|single|both|all))\b\s*(?:x\s*)?"
    r"(?:of\s+(?:the\s+|my\s+|them\s+)?)?(?:(?!and\b|or\b)\w+\s+){0,2}$"
)
_QTY_AFTER = re.compile(
    r"^\s*(?:x\s*(?P<num>\d{1,3})|\(\s*(?P<num2>\d{1,3})\s*\)|(?:are|were|came|arrived)?\s*(?P<both>both|all)\b)"
)


_FINE = re.compile(
    r"\b(?:is|are|was|were|came|arrived|look|looks|seem|seems)?\s*(?:fine|ok|okay|intact|perfect|alright|"
    r"all right|undamaged|unharmed|in one piece|in good shape|good)\b|\bsurvived\b|\bno problem with\b"
)
_CLAUSE = re.compile(r"[.;!?\n]+|,\s*(?:but|and)?\s*|\bbut\b")


def match_items(text: str, items: Sequence[Any]) -> dict[int, int | None]:
    """Which of an order's items the text names, with the quantity said (None: not said).

    "both mugs" -> the mug line, 2; "one of the plates" -> 1; "the mug" -> None; "2x mug" -> 2.
    "everything" / "the whole order" -> every line with its full quantity. An item named in a clause
    that says it is fine ("the plate survived", "the other mug is fine") is left out, and a misspelt
    name ("plaets") is still read as the item it is closest to.
    """
    lowered = " ".join(text.lower().replace("×", "x").split())
    names = [_item_words(item) for item in items]
    found: dict[int, int | None] = {}
    fine: set[int] = set()
    for clause in _CLAUSE.split(lowered):
        if (
            clause
            and _FINE.search(clause)
            and not re.search(r"\b(?:broke|broken|cracked|damaged|smashed|missing)\b", clause)
        ):
            fine.update(i for i, n in enumerate(names) for w in re.findall(r"[a-z]+", clause) if _named(w, n))
    concerned = _concerned_spans(lowered)
    in_concern: set[int] = set()
    for match in re.finditer(r"[a-z]+", lowered):
        word = singular(match.group(0))
        if word in _STOP or len(word) < 3:
            continue
        owners = [i for i, n in enumerate(names) if _named(match.group(0), n)]
        if len(owners) != 1:
            continue
        index = owners[0]
        quantity = _quantity_before(lowered[: match.start()], items[index], match.group(0))
        if quantity is None:
            after = _QTY_AFTER.match(lowered[match.end() :])
            if after and after.group("both"):
                quantity = 2 if after.group("both") == "both" else _ordered(items[index])
            elif after:
                quantity = int(after.group("num") or after.group("num2"))
        if index not in found or found[index] is None:
            found[index] = quantity
        if any(start <= match.start() < end for start, end in concerned):
            in_concern.add(index)
    if in_concern:  # "one mug is cracked. The plate and the oth...": only items the problem is about
        found = {i: q for i, q in found.items() if i in in_concern}
    for index in fine:
        if found.get(index) is None:  # "the other mug is fine" does not undo "one of the mugs"
            found.pop(index, None)
    if not found and _EVERY.search(" ".join(words(text))):
        return {i: _ordered(item) for i, item in enumerate(items)}
    return found


_CONCERN = re.compile(
    r"\b(?:broke|broken|cracked|crack|chipped|damaged|smashed|shattered|dented|torn|ripped|leaking|leaked|"
    r"missing|wrong|defective|faulty|replace|replacement|send|resend|reship|another|new one|new)\b"
)


def _concerned_spans(lowered: str) -> list[tuple[int, int]]:
    """Where the clauses about a problem or an ask are: an item named only elsewhere (an aside, or
    a message cut off mid-sentence by a helpdesk's preview) is not what the customer wants sent."""
    spans, start = [], 0
    for cut in [*_CLAUSE.finditer(lowered), None]:
        end = cut.start() if cut else len(lowered)
        if _CONCERN.search(lowered[start:end]):
            spans.append((start, end))
        start = cut.end() if cut else end
    return spans


def _named(word: str, item_words: set[str]) -> bool:
    """A word of the text names an item word: the same after plurals, or one slip away ("plaets")."""
    word = singular(word.lower())
    if word in _STOP or len(word) < 3:
        return False
    if word in item_words:
        return True
    return len(word) >= 5 and any(
        len(w) >= 5 and w[0] == word[0] and _osa(word, w) <= (2 if len(w) >= 8 else 1) for w in item_words
    )


def _osa(a: str, b: str) -> int:
    from policies.understanding.classifier_rules import _osa_distance

    return _osa_distance(a, b)


def _item_words(item: Any) -> set[str]:
    name = item.get("name") if isinstance(item, Mapping) else str(item)
    return {singular(w) for w in re.findall(r"[a-z]+", str(name or "").lower()) if len(w) > 2} - _STOP


def _ordered(item: Any) -> int:
    quantity = item.get("quantity") if isinstance(item, Mapping) else None
    return quantity if isinstance(quantity, int) and quantity > 0 else 1


def _quantity_before(before: str, item: Any, word: str) -> int | None:
    """The number said just before an item's name: "2 mugs", "both mugs", "one of the mugs"."""
    match = _QTY.search(before[-40:])
    if not match:
        return None
    if match.group("num"):
        return int(match.group("num"))
    said = match.group("word")
    if said in ("both", "all"):
        return _ordered(item) if said == "all" else 2
    if said in ("a", "an") and word.endswith("s"):
        return None  # "a few mugs", "a couple of plates": not one
    return _NUMBER_WORDS.get(said)
