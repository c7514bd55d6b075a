"""Which language a customer writes in, offline, with Lingua (lingua-language-detector).

Why Lingua: it runs offline from models inside the wheel, is built for short text (a support reply is
often five words), and gives a confidence per language. Measured on our own short replies in English,
Spanish, French and German (bench/understanding.py prints it): Lingua and py3langid both tell 68 of 72
apart (the misses are one-word replies like "no" and "ja" that no detector can place), Lingua takes
about 0.1 ms per message once its models are loaded, and loads them lazily, a language at a time.

Only a message that says enough gets a language: a handful of letters ("ok", "ja", "5001") is None,
and a conversation keeps the language it had. The languages are those a shop is likely to hear;
anything else is read as the closest of them or None, never as English by default.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["LANGUAGE_NAMES", "detect_language", "language_name"]

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
}
MIN_LETTERS = 12  # fewer letters than this say too little to tell languages apart
MIN_CONFIDENCE = 0.6
MIN_ENGLISH = 0.4
_NOISE = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|#?\w*\d[\w-]*", re.I)


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in LANGUAGE_NAMES]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def detect_language(text: str | None) -> str | None:
    """ISO 639-1 code of the text's language, or None when it is too short or too mixed to tell."""
    if not text:
        return None
    plain = _NOISE.sub(" ", text)
    letters = sum(ch.isalpha() for ch in plain)
    if letters < MIN_LETTERS:
        return None
    values = _detector().compute_language_confidence_values(plain[:1000])
    if not values:
        return None
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    if code == "en":  # English is what the bot reads anyway; only another language needs certainty
        return code if best.value >= MIN_ENGLISH else None
    return code if best.value >= MIN_CONFIDENCE else None


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "", code or "an unknown language")
