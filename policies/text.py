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
from html.parser import HTMLParser

__all__ = ["clean_text", "normalize", "looks_like_html", "words"]

_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9:-]*(\s[^<>]*)?/?\s*>")
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "pre",
        "hr",
        "td",
        "th",
    ]
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "blockquote"})
# Mail clients mark the quoted thread with these classes; everything inside is history.
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "freshdesk_quote", "divrplyfwdmsg")
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})


class _TextExtractor(HTMLParser):
    """Collect visible text, turning block boundaries into newlines and dropping quoted history.

    A parser (not a regex) because real helpdesk HTML is often malformed: unclosed tags, stray `<`.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_stack: list[str] = []  # open tags whose content we drop

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if self._skip_stack:
            if tag not in _VOID_TAGS:
                self._skip_stack.append(tag)
            return
        css = " ".join((value or "") for name, value in attrs if name in ("class", "id")).lower()
        if tag in _SKIP_TAGS or any(marker in css for marker in _QUOTE_CLASSES):
            if tag not in _VOID_TAGS:
                self._skip_stack.append(tag)
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skip_stack and tag.lower() in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if self._skip_stack:
            # Pop back to the matching open tag; tolerate unbalanced markup.
            if tag in self._skip_stack:
                while self._skip_stack and self._skip_stack.pop() != tag:
                    pass
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_stack:
            self.parts.append(data)


def looks_like_html(text: str) -> bool:
    """True when the text carries markup; plain text with a stray `<` or `a < b` is left alone."""
    return bool(_TAG_RE.search(text))


def _html_to_text(text: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # pragma: no cover - HTMLParser is lenient; never let markup crash intake
        return html.unescape(_TAG_RE.sub(" ", text))
    return "".join(parser.parts)


# Lines that start the quoted history of an email reply. Everything from the first match on is dropped.
_HISTORY_START = [
    re.compile(r"^\s*-{2,}\s*(original|forwarded) message\s*-{2,}", re.I),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's separator line
    re.compile(r"^\s*on\b.{0,200}\bwrote:\s*$", re.I | re.S),
    re.compile(r"^\s*le\b.{0,200}\ba écrit\s*:\s*$", re.I | re.S),
    re.compile(r"^\s*am\b.{0,200}\bschrieb\b.{0,60}:\s*$", re.I | re.S),
    re.compile(r"^\s*from:\s.+$", re.I),  # only when followed by Sent:/Date: (checked below)
    re.compile(r"^\s*sent from my \w+", re.I),
    re.compile(r"^\s*get outlook for \w+", re.I),
]
_HEADER_FOLLOW = re.compile(r"^\s*(sent|date|to|subject|cc):", re.I)


def _strip_history(text: str) -> str:
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue  # a quoted line; the reply may continue below it (inline replies)
        cut = False
        for number, pattern in enumerate(_HISTORY_START):
            if not pattern.search(line):
                continue
            if number == 5:  # "From:" is only history when a mail header block follows
                following = [nxt for nxt in lines[index + 1 : index + 4] if nxt.strip()]
                cut = bool(following) and bool(_HEADER_FOLLOW.match(following[0]))
            else:
                cut = True
            break
        if not cut and index + 1 < len(lines) and re.match(r"^\s*on\b", line, re.I):
            # "On Mon, 3 Jun 2024 at 10:02, Shop <help@shop.com>\nwrote:" split over two lines.
            joined = line + " " + lines[index + 1]
            cut = bool(_HISTORY_START[2].search(joined)) and len(line) < 200
        if cut:
            break
        kept.append(line)
    return "\n".join(kept)


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
        text = _html_to_text(text)
    # Entities can survive twice-escaped payloads ("&amp;#39;") or appear in plain-text bodies.
    for _ in range(2):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = unicodedata.normalize("NFKC", text)
    text = _strip_history(text)
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
