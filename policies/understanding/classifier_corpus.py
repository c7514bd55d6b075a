"""The local classifier's training messages: written by us as sentences, grown into whole messages.

`classifier_examples.md` holds what a person wrote: whole messages per label and sub-intent, and for
the commonest case (a situation followed by what the customer asks for) the two halves separately, with
a table saying which label each combination is ("arrived broken" + "send another" is a replacement,
"arrived broken" + "I only want my money back" is not). Combining halves is how the model learns that
damage words alone do not decide the type; the ask does.

Each written line is then dressed the ways customers write: chat openers, emails with a greeting, a
neutral detail and a signature, tweets with @handles, hashtags and emoji, SMS shorthand, formal Indian
English letters, and typos. `{a|b}` picks one alternative, `{SLOT}` one value of a slot (products,
carriers, order numbers in their many forms).

The split: every written line (and every slot or frame value) belongs, by a seeded hash, to the
training part or the held-out part (HELDOUT_SHARE). Held-out messages are built only from held-out
lines and values, so measuring on them says how the model does on phrasings, products and greetings it
never saw. Nothing prints them; bench/classify.py reports figures only.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Corpus",
    "Example",
    "HELDOUT_SHARE",
    "SPLIT_SEED",
    "EXAMPLES_PATH",
    "build_examples",
    "dress",
    "load_corpus",
]

EXAMPLES_PATH = Path(__file__).with_name("classifier_examples.md")
SPLIT_SEED = "policydesk-classifier-split-1"
HELDOUT_SHARE = 0.2
TRAIN, HELDOUT = "train", "heldout"
REGISTERS = ("chat", "email", "tweet", "sms", "formal")


@dataclass(frozen=True)
class Example:
    """One generated message. `group` names the written line it grew from (for grouped CV)."""

    text: str
    label: str
    register: str
    intent: str
    group: str
    subject: str = ""


@dataclass
class Corpus:
    """The parsed example file: everything a person wrote, before any dressing."""

    messages: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # label -> intent -> lines
    situations: dict[str, list[str]] = field(default_factory=dict)
    asks: dict[str, list[str]] = field(default_factory=dict)
    compose: list[tuple[str, str, str, int]] = field(default_factory=list)  # situation, ask, label, weight
    slots: dict[str, list[str]] = field(default_factory=dict)
    frames: dict[str, list[str]] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        found = list(self.messages)
        found += [label for _, _, label, _ in self.compose if label not in found]
        return found

    def add_messages(self, label: str, lines: Iterable[str], intent: str = "declared") -> None:
        self.messages.setdefault(label, {}).setdefault(intent, []).extend(lines)


_HEADING = re.compile(r"^#\s+(messages|situation|ask|slot|frame|compose)\b\s*(\S*)\s*$")
_COMPOSE_LINE = re.compile(r"^(\w+)\s*\+\s*(\w+)\s*=\s*(\w+)(?:\s*x(\d+))?$")


def load_corpus(path: Path = EXAMPLES_PATH) -> Corpus:
    """Parse the example file: `# messages LABEL` / `## intent` / `- line`, `# situation NAME`,
    `# ask NAME`, `# slot NAME`, `# frame NAME` and `# compose` (`- situation + ask = label`)."""
    corpus = Corpus()
    section: list[str] | None = None
    kind, name = "", ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip()
        heading = _HEADING.match(line)
        if heading:
            kind, name = heading.groups()
            section = _section(corpus, kind, name, "general")
            continue
        if line.startswith("## ") and kind == "messages":
            section = _section(corpus, kind, name, line[3:].strip())
            continue
        if not line.startswith("- "):
            continue  # prose, blank lines and other headings are notes for the reader
        item = line[2:].strip().replace("\\n", "\n")
        if kind == "compose":
            match = _COMPOSE_LINE.match(item)
            if not match:
                raise ValueError(f"{path.name}:{number}: compose lines read 'situation + ask = label [xN]'")
            situation, ask, label, weight = match.groups()
            corpus.compose.append((situation, ask, label, int(weight or 1)))
        elif section is None:
            raise ValueError(f"{path.name}:{number}: a line before any section")
        else:
            section.append(item)
    _check(corpus, path.name)
    return corpus


def _section(corpus: Corpus, kind: str, name: str, intent: str) -> list[str] | None:
    if kind == "messages":
        return corpus.messages.setdefault(name, {}).setdefault(intent, [])
    if kind == "compose":
        return None
    table = {"situation": corpus.situations, "ask": corpus.asks, "slot": corpus.slots, "frame": corpus.frames}
    return table[kind].setdefault(name, [])


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _check(corpus: Corpus, source: str) -> None:
    for situation, ask, _, _ in corpus.compose:
        if situation not in corpus.situations or ask not in corpus.asks:
            raise ValueError(f"{source}: compose names an unknown part: {situation} + {ask}")
    every_line = [
        line
        for group in (*corpus.situations.values(), *corpus.asks.values(), *corpus.frames.values())
        for line in group
    ] + [line for intents in corpus.messages.values() for lines in intents.values() for line in lines]
    for line in every_line:
        for inner in _PLACEHOLDER.findall(line):
            if "|" not in inner and inner not in corpus.slots:
                raise ValueError(f"{source}: unknown slot {{{inner}}} in {line!r}")


def part_of(kind: str, line: str) -> str:
    """Which part a written line belongs to: a seeded hash, so the split never depends on order."""
    digest = hashlib.sha256(f"{SPLIT_SEED}:{kind}:{line}".encode()).digest()
    return HELDOUT if int.from_bytes(digest[:8], "big") / 2**64 < HELDOUT_SHARE else TRAIN


def _only(kind: str, lines: list[str], part: str) -> list[str]:
    """The lines of one part; a pool too small to have any there lends its training lines."""
    chosen = [line for line in lines if part_of(kind, line) == part]
    return chosen or list(lines)


class Filler:
    """Fills `{a|b}` and `{SLOT}` placeholders with values from one part of the corpus."""

    def __init__(self, corpus: Corpus, part: str, rng: random.Random) -> None:
        self.rng = rng
        self.slots = {name: _only(f"slot {name}", values, part) for name, values in corpus.slots.items()}
        self.frames = {name: _only(f"frame {name}", values, part) for name, values in corpus.frames.items()}

    def fill(self, template: str) -> str:
        for _ in range(4):  # slot values may hold placeholders themselves
            if "{" not in template:
                break
            template = _PLACEHOLDER.sub(self._choose, template)
        return template

    def frame(self, name: str) -> str:
        values = self.frames.get(name) or [""]
        return self.fill(self.rng.choice(values))

    def _choose(self, match: re.Match[str]) -> str:
        inner = match.group(1)
        if "|" in inner:
            return self.rng.choice(inner.split("|"))
        values = self.slots[inner]
        return self.rng.choice(values) if values else ""


# ---------------------------------------------------------------------------------------------------
# How customers write: registers and noise
# ---------------------------------------------------------------------------------------------------

_KEYBOARD_NEIGHBOURS = {
    "a": "qsz",
    "c": "xvd",
    "d": "sfe",
    "e": "wrd",
    "i": "uok",
    "l": "kop",
    "m": "nj",
    "n": "bmh",
    "o": "ipl",
    "r": "etf",
    "s": "adw",
    "t": "ryg",
    "u": "yij",
    "v": "cb",
}


def typo(word: str, rng: random.Random) -> str:
    """One slip of the fingers: a swapped, dropped, doubled or neighbouring letter."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = _KEYBOARD_NEIGHBOURS.get(word[i].lower())
    return word[:i] + rng.choice(near) + word[i + 1 :] if near else word


def add_typos(text: str, rng: random.Random, rate: float) -> str:
    return re.sub(
        r"[A-Za-z]{4,}", lambda m: typo(m.group(0), rng) if rng.random() < rate else m.group(0), text
    )


_SHORT = [
    (r"\byou\b", "u"),
    (r"\byour\b", "ur"),
    (r"\bplease\b", "pls"),
    (r"\bthanks\b", "thx"),
    (r"\bbecause\b", "coz"),
    (r"\bare\b", "r"),
    (r"\bwhen\b", "wen"),
    (r"\bwhat\b", "wat"),
    (r"\border\b", "ordr"),
    (r"\bpackage\b", "pkg"),
    (r"\breceived\b", "recd"),
    (r"\btomorrow\b", "tmrw"),
    (r"\bto\b", "2"),
    (r"\bfor\b", "4"),
]


def shorthand(text: str, rng: random.Random, rate: float) -> str:
    for pattern, short in _SHORT:
        if rng.random() < rate:
            text = re.sub(pattern, short, text, flags=re.I)
    return text


def _casual(text: str, rng: random.Random) -> str:
    if rng.random() < 0.6:
        text = text.lower()
    if rng.random() < 0.5:
        text = text.replace("'", "")
    if rng.random() < 0.5:
        text = text.rstrip(".")
    return text


def _sentence(text: str) -> str:
    text = text.strip()
    if text and text[-1] not in ".?!":
        text += "."
    return text[:1].upper() + text[1:]


def chat(core: str, fill: Filler, rng: random.Random) -> tuple[str, str]:
    text = _casual(core, rng)
    if rng.random() < 0.35:
        text = f"{fill.frame('chat_opener')} {text}"
    if rng.random() < 0.25:
        text = f"{text} {fill.frame('chat_closer')}"
    return text, ""


def email(core: str, fill: Filler, rng: random.Random) -> tuple[str, str]:
    parts = [fill.frame("email_greeting"), ""]
    body = [_sentence(core)]
    if rng.random() < 0.5:
        body.insert(0 if rng.random() < 0.7 else 1, _sentence(fill.frame("context")))
    if rng.random() < 0.5:
        body.append(_sentence(fill.frame("email_closing")))
    parts.append(" ".join(body))
    parts += ["", fill.frame("signoff"), fill.frame("NAME_LINE")]
    if rng.random() < 0.2:
        parts += ["", fill.frame("device_footer")]
    subject = fill.frame("subject") if rng.random() < 0.6 else ""
    return "\n".join(parts).strip(), subject


def tweet(core: str, fill: Filler, rng: random.Random) -> tuple[str, str]:
    text = shorthand(_casual(core, rng), rng, 0.3)
    handle = fill.frame("handle")
    text = f"{handle} {text}" if rng.random() < 0.8 else f"{text} {handle}"
    if rng.random() < 0.4:
        text = f"{text} {fill.frame('hashtag')}"
    if rng.random() < 0.4:
        text = f"{text} {fill.frame('emoji')}"
    if rng.random() < 0.25:  # a photo or a screenshot of the tracking page
        text = f"{text} {fill.frame('link')}"
    if rng.random() < 0.1:
        text = text.upper()
    return text[:280], ""


def sms(core: str, fill: Filler, rng: random.Random) -> tuple[str, str]:
    text = shorthand(core.lower().replace("'", ""), rng, 0.6)
    return re.sub(r"[.,;]+", "", text), ""


def formal(core: str, fill: Filler, rng: random.Random) -> tuple[str, str]:
    parts = [fill.frame("formal_greeting"), "", _sentence(core)]
    if rng.random() < 0.6:
        parts.append(_sentence(fill.frame("formal_closing")))
    parts += ["", fill.frame("formal_signoff"), fill.frame("NAME_LINE")]
    return "\n".join(parts), fill.frame("subject") if rng.random() < 0.4 else ""


DRESSERS: dict[str, Callable[[str, Filler, random.Random], tuple[str, str]]] = {
    "chat": chat,
    "email": email,
    "tweet": tweet,
    "sms": sms,
    "formal": formal,
}
REGISTER_WEIGHTS = (0.38, 0.2, 0.24, 0.08, 0.1)


def dress(core: str, fill: Filler, rng: random.Random, register: str | None = None) -> tuple[str, str, str]:
    """(text, subject, register): one written line as one customer would send it.

    Chat, tweets and SMS also get a sentence of story now and then ("ordered it for my son", "this
    is the second time"): real messages carry such words under every label, so they must not vote.
    """
    register = register or rng.choices(REGISTERS, REGISTER_WEIGHTS)[0]
    core = fill.fill(core)
    if register in ("chat", "tweet", "sms") and rng.random() < 0.35:
        story = fill.frame("story")
        core = f"{story}. {core}" if rng.random() < 0.6 else f"{core}. {story}"
    text, subject = DRESSERS[register](core, fill, rng)
    rate = rng.choice((0.0, 0.0, 0.03, 0.08, 0.15))
    if rate:
        text = add_typos(text, rng, rate)
    return " ".join(text.split(" ")).strip(), subject, register


# ---------------------------------------------------------------------------------------------------
# Building the example set
# ---------------------------------------------------------------------------------------------------

VARIANTS_PER_LINE = 4
COMPOSED_PER_RULE = 30


def build_examples(
    corpus: Corpus, part: str = TRAIN, seed: int = 13, variants: int = VARIANTS_PER_LINE
) -> list[Example]:
    """Every written line of `part`, dressed `variants` times, plus situation+ask combinations."""
    rng = random.Random(f"{seed}:{part}")
    fill = Filler(corpus, part, rng)
    examples: list[Example] = []
    for label, intents in corpus.messages.items():
        for intent, lines in intents.items():
            for line in lines:
                if part_of("message", line) != part:
                    continue
                for _ in range(variants):
                    text, subject, register = dress(line, fill, rng)
                    examples.append(Example(text, label, register, intent, f"m:{line}", subject))
    examples.extend(_composed(corpus, part, fill, rng))
    return examples


NOTHING = "(nothing)"  # the ask of a message that only states the situation


def _strict(kind: str, lines: list[str], part: str) -> list[str]:
    """The lines of one part, with no lending: a held-out message is made of held-out lines only."""
    return [line for line in lines if line == NOTHING or part_of(kind, line) == part]


_JOINS = (" ", ". ", ", ", " so ", " and ", "! ", " - ", "\n")


def _composed(corpus: Corpus, part: str, fill: Filler, rng: random.Random) -> Iterator[Example]:
    situations = {name: _strict("situation", lines, part) for name, lines in corpus.situations.items()}
    asks = {name: _strict("ask", lines, part) for name, lines in corpus.asks.items()}
    for situation, ask, label, weight in corpus.compose:
        if not situations[situation] or not asks[ask]:
            continue
        # Held-out pools hold a fifth of the lines: as many combinations would repeat each line 4x.
        count = COMPOSED_PER_RULE * weight // (1 if part == TRAIN else 4)
        for _ in range(count):
            first, second = rng.choice(situations[situation]), rng.choice(asks[ask])
            second = "" if second == NOTHING else second
            group = f"c:{first}"
            if second and rng.random() < 0.25:
                first, second = second, first  # the ask first: "please replace it, it came broken"
            core = f"{first}{rng.choice(_JOINS)}{second}".strip() if second else first
            text, subject, register = dress(core, fill, rng)
            yield Example(text, label, register, f"{situation}+{ask}", group, subject)
