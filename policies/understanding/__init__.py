"""The understanding layer: every customer message read as a whole, and kept across turns.

- `Reading` (reading.py): what one message says, and its answer to the question the bot asked.
- `read(message, question)`: the process-wide reader, Claude when ANTHROPIC_API_KEY is set (claude.py)
  with the local reader (local.py) as its fallback, else the local reader alone.
- `Understanding` (memory.py): what the customer has said in every turn so far; policies read it as
  `$said`.
- `Confirmation` (verdict.py): the verdict the guards read before a write: a plain yes to exactly the
  action the question named, or nothing.
- The ticket classifier: `default_classifier()` (claude_classifier.py: Claude when configured, over
  the local model of classifier.py), the question that settles an unsure type (clarify.py), and the
  extractors of emails and order numbers (extract.py) and clean text (text.py) both layers share.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Protocol

from connectors.claude import claude_client, claude_settings
from policies.understanding.language import LANGUAGE_NAMES, detect_language, language_name
from policies.understanding.local import LocalReader, action_of, only_thanks
from policies.understanding.memory import Understanding
from policies.understanding.reading import (
    FACTS,
    INTENTS,
    PROBLEMS,
    REQUEST_WORDS,
    SLOT_TYPES,
    ItemMention,
    Question,
    Reading,
)
from policies.understanding.verdict import Confirmation

__all__ = [
    "FACTS",
    "INTENTS",
    "LANGUAGE_NAMES",
    "PROBLEMS",
    "Confirmation",
    "ItemMention",
    "Question",
    "Reader",
    "REQUEST_WORDS",
    "Reading",
    "SLOT_TYPES",
    "Understanding",
    "action_of",
    "default_reader",
    "detect_language",
    "language_name",
    "only_thanks",
    "read",
    "reader_for",
]


class Reader(Protocol):
    name: str

    def read(self, message: str, question: Question | None = None) -> Reading: ...


def reader_for(env: Mapping[str, str]) -> Reader:
    client = claude_client(env)
    if client is None:
        return LocalReader()
    from policies.understanding.claude import ClaudeReader

    return ClaudeReader(client, settings=claude_settings(env))


@lru_cache(maxsize=1)
def default_reader() -> Reader:
    """The process-wide reader: Claude-backed when ANTHROPIC_API_KEY is set, else local."""
    return reader_for(os.environ)


def read(message: str, question: Question | None = None) -> Reading:
    return default_reader().read(message, question)
