"""Turning helpdesk message bodies into the text a customer actually typed, and our text into HTML.

Helpdesks hand us email HTML that carries the whole thread: the new reply on top, then the previous
messages quoted by the customer's mail client. Classifying or answering the quoted part would make the
bot reply to its own earlier message, so every client reads customer messages through `clean_message`.
Quote markers differ per mail client, hence several detectors, applied first on the HTML structure
(reliable) and then on the plain text (for clients that quote in text only).
Tag names live here too: they are short texts that every helpdesk compares case-insensitively.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping

from lxml import etree

MAX_HTML_CHARS = 200_000
"""Longest HTML body read, in characters: a message is a few kilobytes; the rest is cut, not parsed."""

BLOCK_TAGS = frozenset(
    {
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
        "hr",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
    }
)
SKIP_TAGS = frozenset({"script", "style", "head", "title"})
VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"})

# Elements whose whole subtree is quoted history (Gmail, Yahoo, Apple Mail, Freshdesk's own quoting).
QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "freshdesk_quote", "moz-cite-prefix", "protonmail_quote")
# Elements after which everything is quoted history (Outlook puts the old thread below these, as siblings).
CUTOFF_IDS = ("divrplyfwdmsg", "appendonsend", "x_divrplyfwdmsg", "x_appendonsend", "olk_src_body_section")

_TAG_LIKE = re.compile(r"<\s*(?:[a-zA-Z][a-zA-Z0-9]*|/[a-zA-Z]|!--)")


def looks_like_html(text: str) -> bool:
    """Plain-text messages (chat, SMS) must not be HTML-parsed: 'I <3 it' would lose its heart."""
    return bool(_TAG_LIKE.search(text))


class _TextExtractor:
    """Collects visible text with line breaks at block boundaries, optionally dropping quoted parts.

    Fed by libxml2's HTML parser (lxml's event target): linear in the input, whatever the markup,
    where Python's html.parser goes quadratic on unclosed attributes or comments (`<a b="` repeated
    made a 140 KB body take 44 s). The events are the same start/end/data a browser-like parser sees.
    """

    def __init__(self, drop_quotes: bool):
        self.drop_quotes = drop_quotes
        self.parts: list[str] = []
        self._skip_depth = 0  # inside <script>/<style>
        self._quote_stack: list[str] = []  # open tags that started a dropped quote, plus nested same tags
        self._quote_tag: str | None = None
        self.cut = False  # an Outlook separator was seen: ignore everything after it

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.cut:
            return
        if tag in SKIP_TAGS:
            self._skip_depth += 1
            return
        if self._quote_tag is not None:
            if tag == self._quote_tag and tag not in VOID_TAGS:
                self._quote_stack.append(tag)
            return
        if self.drop_quotes and self._starts_quote(tag, attrs):
            if self._is_cutoff(attrs):
                self.cut = True
                return
            if tag not in VOID_TAGS:
                self._quote_tag = tag
                self._quote_stack = [tag]
            return
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    # lxml's target interface: void elements get a start and an end, both mapped to one start here.
    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        self.handle_starttag(str(tag).lower(), list(attrib.items()))

    def end(self, tag: str) -> None:
        if str(tag).lower() not in VOID_TAGS:
            self.handle_endtag(str(tag).lower())

    def data(self, data: str) -> None:
        self.handle_data(data)

    def close(self) -> None:
        return None

    def handle_endtag(self, tag: str) -> None:
        if self.cut:
            return
        if tag in SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._quote_tag is not None:
            if tag == self._quote_tag:
                self._quote_stack.pop()
                if not self._quote_stack:
                    self._quote_tag = None
            return
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.cut or self._skip_depth or self._quote_tag is not None:
            return
        self.parts.append(data)

    def _starts_quote(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag == "blockquote":
            return True
        classes = " ".join(v or "" for k, v in attrs if k == "class").lower()
        if any(marker in classes for marker in QUOTE_CLASSES):
            return True
        return self._is_cutoff(attrs)

    @staticmethod
    def _is_cutoff(attrs: list[tuple[str, str | None]]) -> bool:
        ids = " ".join(v or "" for k, v in attrs if k == "id").lower()
        return any(marker in ids for marker in CUTOFF_IDS)


def _tidy(text: str) -> str:
    """Collapse runs of spaces inside lines and of blank lines between them."""
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip()


def html_to_text(body: str, *, drop_quotes: bool = False) -> str:
    """Visible text of an HTML body; with drop_quotes, without blockquotes and mail-client quote blocks."""
    if not body:
        return ""
    if not looks_like_html(body):
        return _tidy(body)
    extractor = _TextExtractor(drop_quotes)
    parser = etree.HTMLParser(target=extractor, recover=True, no_network=True, remove_comments=True)
    try:
        etree.fromstring(body[:MAX_HTML_CHARS], parser)
    except (etree.LxmlError, ValueError):
        pass  # what was read before the parser gave up is kept (ValueError: an encoding declaration)
    return _tidy("".join(extractor.parts))


_ATTRIBUTION = re.compile(
    r"^[ \t]*(?:On|Le|Am|El|Op|Il)\b[^\n]{0,300}?(?:\n[^\n]{0,200}?)?"
    r"(?:wrote|a écrit|schrieb|escribió|schreef|ha scritto)\s*:[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^[ \t]*-{2,}[ \t]*(?:Original Message|Forwarded message|Ursprüngliche Nachricht|Message d'origine)"
    r"[ \t]*-{2,}",
    re.IGNORECASE | re.MULTILINE,
)
_OUTLOOK_HEADER = re.compile(
    r"^[ \t]*(?:_{5,}[ \t]*\n[ \t]*)?\*?From:\*?[^\n]*\n(?:[^\n]*\n){0,2}?[ \t]*\*?(?:Sent|Date):\*?",
    re.IGNORECASE | re.MULTILINE,
)
_UNDERSCORE_RULE = re.compile(r"^[ \t]*_{10,}[ \t]*$", re.MULTILINE)


def strip_quoted_history(text: str) -> str:
    """Cut plain text at the first quoted-history marker and drop '>'-quoted lines.

    Markers: "On <date>, <name> wrote:" (also wrapped over two lines and a few languages),
    "-----Original Message-----", Outlook's "From: ... Sent:" header block, and long underscore rules.
    """
    if not text:
        return ""
    cut = len(text)
    for pattern in (_ATTRIBUTION, _ORIGINAL_MESSAGE, _OUTLOOK_HEADER, _UNDERSCORE_RULE):
        match = pattern.search(text)
        if match:
            cut = min(cut, match.start())
    kept = [line for line in text[:cut].split("\n") if not line.lstrip().startswith(">")]
    return _tidy("\n".join(kept))


def clean_message(body: str) -> str:
    """The new text of a customer message (HTML or plain), without the quoted thread below it.

    If everything was quoted (a bare forward), the full text is returned rather than nothing, so the
    message still says something to whoever reads it.
    """
    if not body:
        return ""
    stripped = strip_quoted_history(html_to_text(body, drop_quotes=True))
    return stripped or html_to_text(body)


_CUT_ATTRIBUTION = re.compile(r"\n[ \t]*(?:On|Le|Am|El|Op|Il)\b[^\n]*\d[^\n]*$")


def clean_preview(preview: str) -> str:
    """clean_message for a helpdesk's preview, the first characters of a message: the cut may fall
    inside the attribution line of the quoted thread ("On 5 Mar 2025, Acme Support w"), which is
    then no full marker, so a last line that starts like one is dropped too."""
    text = clean_message(preview)
    trimmed = _CUT_ATTRIBUTION.sub("", text).rstrip()
    return trimmed or text


MIN_OPENING = 20  # characters a cut-off preview must have to stand for the whole message


def same_text(sent: str, found: str) -> bool:
    """Whether a message read back from a helpdesk is one we sent: compared without markup, quoted
    history or whitespace differences, on its opening (helpdesks may append signatures, and Kustomer
    gives only a preview, the message's first characters, possibly ending in an ellipsis)."""
    ours = " ".join(html_to_text(sent).split())
    theirs = " ".join(clean_message(found).split())
    if not ours:
        return False
    if ours[:300] in theirs:
        return True
    opening = theirs.removesuffix("...").removesuffix("…").rstrip()
    return len(opening) >= MIN_OPENING and ours.startswith(opening)


def text_to_html(text: str) -> str:
    """Our replies are plain text; helpdesks that expect HTML get escaped paragraphs and line breaks."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{html.escape(p.strip()).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def merge_tags(current: Iterable[str], add: Iterable[str], remove: Iterable[str] = ()) -> list[str]:
    """Existing tags first in their order, then new ones; case-insensitive like the helpdesks' tag names."""
    dropped = {t.strip().casefold() for t in remove}
    merged: list[str] = []
    seen: set[str] = set()
    for tag in [*current, *add]:
        key = tag.strip().casefold()
        if not key or key in seen or key in dropped:
            continue
        seen.add(key)
        merged.append(tag.strip())
    return merged
