"""Turn what a helpdesk hands us (HTML, quoted replies, tweets) into the words the customer wrote.

Every consumer of ticket text (classifier, slot extractors, summaries) should see the same cleaned
text, so the quirks of each helpdesk are handled once, here:
- Freshdesk descriptions are HTML with entities; Kustomer and Salesforce may carry HTML email bodies.
- Email replies drag the whole previous thread along ("On ... wrote:", Outlook headers, "> " lines,
  <blockquote>), which would otherwise vote in the classification with the agent's own words.
"""

from __future__ import annotations

import html
import re
import unicodedata

from connectors.text import html_to_text, looks_like_html, strip_quoted_history

__all__ = ["clean_text", "normalize", "looks_like_html", "words"]

_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


def clean_text(text: str | None) -> str:
    """The customer's own words as plain text: no markup, no entities, no quoted thread.

    Whitespace is normalised (runs of spaces collapse, lines are trimmed, at most one blank line),
    but line breaks are kept because history detection and slot extraction work line by line.
    """
    if not text:
        return ""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    if looks_like_html(text):
        text = html_to_text(text, drop_quotes=True)
    # Entities can survive twice-escaped payloads ("&amp;#39;") or appear in plain-text bodies.
    for _ in range(2):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = unicodedata.normalize("NFKC", text)
    text = strip_quoted_history(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


_URL_RE = re.compile(r"(https?://|www\.)\S+", re.I)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_HANDLE_RE = re.compile(r"(?<![\w@])@\w{1,30}")
_HASHTAG_RE = re.compile(r"#([A-Za-z][A-Za-z0-9_]*)")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|_")


def _split_hashtag(match: re.Match[str]) -> str:
    """#WhereIsMyOrder carries words; splitting them lets the classifier read the hashtag."""
    return " " + _CAMEL_RE.sub(" ", match.group(1)) + " "


_SENTENCE_END = re.compile(r"(?:[.!?;]+(?=\s|$)|\n+|\s[-–—]+\s)")


def normalize(text: str) -> str:
    """Lower-case text for matching: URLs, emails and @handles removed, hashtags split into words.

    Sentence ends become a lone "." token, so that "it hasn't shipped. Cancel my order" keeps the
    negation inside its own sentence. Emoji and other symbols become spaces; digits stay.
    """
    text = _URL_RE.sub(" ", text)
    text = _EMAIL_RE.sub(" ", text)
    text = _HANDLE_RE.sub(" ", text)
    text = _HASHTAG_RE.sub(_split_hashtag, text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = _SENTENCE_END.sub(" . ", text)
    text = "".join(ch if ch.isalnum() or ch in "'#." else " " for ch in text.lower())
    return " ".join(text.split())


# Chat, SMS and tweet spellings mapped to the words they stand for. Only unambiguous forms: "its"
# and "were" are real words and stay as they are.
_SHORTHAND: dict[str, tuple[str, ...]] = {
    "u": ("you",),
    "ur": ("your",),
    "yr": ("your",),
    "r": ("are",),
    "y": ("why",),
    "pls": ("please",),
    "plz": ("please",),
    "plss": ("please",),
    "plzz": ("please",),
    "pleasee": ("please",),
    "pl": ("please",),
    "plse": ("please",),
    "kindy": ("kindly",),
    "kndly": ("kindly",),
    "wen": ("when",),
    "whn": ("when",),
    "wer": ("where",),
    "whr": ("where",),
    "wher": ("where",),
    "wat": ("what",),
    "wht": ("what",),
    "hw": ("how",),
    "abt": ("about",),
    "nd": ("and",),
    "nxt": ("next",),
    "recd": ("received",),
    "rcvd": ("received",),
    "rcvd.": ("received",),
    "pkg": ("package",),
    "pkge": ("package",),
    "pckg": ("package",),
    "pkgs": ("packages",),
    "thx": ("thanks",),
    "thnx": ("thanks",),
    "thanx": ("thanks",),
    "ty": ("thanks",),
    "tq": ("thanks",),
    "coz": ("because",),
    "cuz": ("because",),
    "bcoz": ("because",),
    "bcz": ("because",),
    "bc": ("because",),
    "cant": ("can", "not"),
    "cannot": ("can", "not"),
    "wont": ("will", "not"),
    "dont": ("do", "not"),
    "doesnt": ("does", "not"),
    "didnt": ("did", "not"),
    "isnt": ("is", "not"),
    "wasnt": ("was", "not"),
    "havent": ("have", "not"),
    "hasnt": ("has", "not"),
    "hadnt": ("had", "not"),
    "arent": ("are", "not"),
    "werent": ("were", "not"),
    "couldnt": ("could", "not"),
    "wouldnt": ("would", "not"),
    "shouldnt": ("should", "not"),
    "aint": ("is", "not"),
    "wanna": ("want", "to"),
    "gonna": ("going", "to"),
    "gotta": ("got", "to"),
    "im": ("i", "am"),
    "ive": ("i", "have"),
    "id": ("i", "would"),
    "wheres": ("where", "is"),
    "whats": ("what", "is"),
    "hows": ("how", "is"),
    "thats": ("that", "is"),
    "whens": ("when", "is"),
    "2day": ("today",),
    "tmrw": ("tomorrow",),
    "tmr": ("tomorrow",),
    "b4": ("before",),
    "asap": ("asap",),
    "msg": ("message",),
    "amt": ("amount",),
    "acc": ("account",),
    "dlvry": ("delivery",),
    "delvry": ("delivery",),
    "dlvd": ("delivered",),
    "shpmt": ("shipment",),
    "oder": ("order",),
    "odr": ("order",),
    "ordr": ("order",),
    "prdct": ("product",),
    "prod": ("product",),
    "sub": ("subscription",),
    "subs": ("subscription",),
    "info": ("information",),
    "addr": ("address",),
    "pincode": ("pin", "code"),
    "zipcode": ("zip", "code"),
    "pre": ("pre",),
    "preorder": ("pre", "order"),
}
_IS_STEMS = frozenset({"it", "he", "she", "there", "who", "that", "here", "what", "where", "how"})
_CONTRACTION_RE = re.compile(r"^(\w+)'(s|t|re|ve|ll|d|m)$")
_NEG_STEMS = {
    "don": "do",
    "doesn": "does",
    "didn": "did",
    "isn": "is",
    "wasn": "was",
    "haven": "have",
    "hasn": "has",
    "hadn": "had",
    "aren": "are",
    "weren": "were",
    "couldn": "could",
    "wouldn": "would",
    "shouldn": "should",
    "won": "will",
    "can": "can",
    "ain": "is",
}


def words(text: str) -> list[str]:
    """Lower-case words of (already cleaned) text, with contractions and chat spellings expanded.

    Numbers become `<num>` and `#123`-style references `<ordnum>`: the digits themselves carry no
    intent, but "order <num>" does.
    """
    out: list[str] = []
    for raw in normalize(text).split():
        if raw == ".":
            if out and out[-1] != ".":
                out.append(".")
            continue
        raw = raw.replace(".", "")
        if not raw:
            continue
        if raw.startswith("#"):
            out.append("<ordnum>" if raw[1:].isdigit() else raw.strip("#"))
            continue
        token = raw.strip("'")
        if not token:
            continue
        contraction = _CONTRACTION_RE.match(token)
        if contraction:
            stem, tail = contraction.groups()
            if tail == "t":
                out.extend((_NEG_STEMS.get(stem, stem.removesuffix("n")), "not"))
            elif tail == "s":
                # where's -> where is; it's -> it is; month's -> month (possessive)
                out.extend(_SHORTHAND.get(stem + "s") or ((stem, "is") if stem in _IS_STEMS else (stem,)))
            else:
                out.extend((stem, {"re": "are", "ve": "have", "ll": "will", "d": "would", "m": "am"}[tail]))
            continue
        token = token.replace("'", "")
        if token.isdigit():
            out.append("<num>")
        elif token in _SHORTHAND:
            out.extend(_SHORTHAND[token])
        else:
            out.append(token)
    return out
