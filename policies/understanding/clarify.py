"""One short question for a ticket the classifier is unsure about, when that question can settle it.

"hi, checking on my order" could be a late parcel or something else; "I can no longer pay for purchase
5011" could be a cancellation or a payment question. Sending such a clear request straight to a person
because the first message was terse wastes the customer's time. When the classifier's two most likely
types carry nearly all its belief and at least one of them is a type a policy here handles, the bot
asks which it is ("Is this about an order that hasn't arrived, or something else?"); the answer picks
the type, and an answer that does not is handed to a person as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from policies.understanding import Question, Reader
from policies.understanding.classifier import Classification

__all__ = ["Clarification", "clarifying_question", "confirmed_by_reading", "settle"]

TOP_TWO_MASS = 0.7  # without a request the reader recognises, the two likeliest types must hold this much
MIN_CONSIDERED = 0.15  # a type below this is not worth asking about
CONTENDER = 0.3  # without a recognised request, a type must be at least this likely to be asked about
WHAT_IT_IS = {
    "wismo": "an order that hasn't arrived yet",
    "skip_shipment": "skipping your next subscription delivery",
    "replacement": "an order that arrived damaged, wrong or incomplete",
    "cancellation": "cancelling an order",
    "other": "something else",
}


@dataclass(frozen=True)
class Clarification:
    labels: tuple[str, str]

    @property
    def text(self) -> str:
        first, second = (WHAT_IT_IS[label] for label in self.labels)
        return (
            f"Thanks for getting in touch! So I can help you right away: is this about {first}, or "
            f"{second}? A few words are enough."
        )


def clarifying_question(
    classification: Classification, handled: Callable[[str], bool], intents: Sequence[str] = ()
) -> Clarification | None:
    """The question to ask, or None when one question would not settle the type.

    `handled(label)`: a policy here handles that type. `intents`: the requests the understanding
    layer read in the message, a second opinion on which type is meant."""
    ranked = sorted(classification.scores.items(), key=lambda item: -item[1])[:3]
    candidates = [label for label, p in ranked if p >= MIN_CONSIDERED and label != "other" and handled(label)]
    if not candidates:
        return None
    supported = [label for label in candidates if _said(label, list(intents), {})]
    if supported:
        first = supported[0]
    elif (
        sum(p for _, p in ranked[:2]) >= TOP_TWO_MASS and dict(ranked[:2]).get(candidates[0], 0) >= CONTENDER
    ):
        first = candidates[0]
    else:
        return None
    second = next((label for label in candidates if label != first), "other")
    return Clarification((first, second))


def confirmed_by_reading(
    classification: Classification, handled: Callable[[str], bool], intents: list[str]
) -> str | None:
    """The classifier's first guess, when it is unsure but the message's own requests say the same
    and point at no other type a policy handles: then no question is needed."""
    ranked = sorted(classification.scores.items(), key=lambda item: -item[1])
    top = ranked[0][0] if ranked else None
    if top is None or top == "other" or not handled(top) or not _said(top, intents, {}):
        return None
    others = [
        label for label, _ in ranked[1:] if label != "other" and handled(label) and _said(label, intents, {})
    ]
    return None if others else top


def settle(clarification: Clarification, reply: str, reader: Reader) -> str | None:
    """The type the customer's answer picks, or None when it does not pick one."""
    options = tuple(WHAT_IT_IS[label] for label in clarification.labels)
    reading = reader.read(reply, Question("choice", clarification.text, options=options, labels=options))
    if len(reading.picks) == 1:
        return clarification.labels[reading.picks[0]]
    meant = {label for label in clarification.labels if _said(label, reading.intents, reading.facts)}
    if len(meant) == 1:
        return meant.pop()
    if reader.read(reply, Question("yes_no", clarification.text)).plain_yes:
        return clarification.labels[0]  # "yes" to "is this about X, or Y?" means the first
    return None


_INTENTS_OF = {
    "wismo": ("where_is_order", "not_received"),
    "skip_shipment": ("skip_delivery",),
    "replacement": ("replacement",),
    "cancellation": ("cancel_order",),
}


def _said(label: str, intents: list[str], facts: Mapping[str, bool]) -> bool:
    if label == "wismo" and facts.get("received") is False:
        return True
    return any(intent in intents for intent in _INTENTS_OF.get(label, ()))
