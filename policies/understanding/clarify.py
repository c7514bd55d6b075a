"""One short question for a ticket the classifier is unsure about, when that question can settle it.

"hi, checking on my order" could be a late parcel or something else; "I can no longer pay for purchase
5011" could be a cancellation or a payment question. Sending such a clear request straight to a person
because the first message was terse wastes the customer's time. When the classifier's two most likely
types carry nearly all its belief and at least one of them is a type a policy here handles, the bot
asks which it is ("Is this about an order that hasn't arrived, or something else?"); the answer picks
the type, and an answer that does not is handed to a person as before.

A first message that says nothing yet ("hello?", "Hi, it's about my order from yesterday") gets the
question a person would ask, what it is about, whatever type the classifier guesses from so little;
the answer is then read as the opener would have been.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from policies.understanding import Question, Reader, Understanding
from policies.understanding.classifier import Classification
from policies.understanding.local import canonical

__all__ = [
    "OPEN",
    "OPEN_QUESTION",
    "Clarification",
    "clarifying_question",
    "confirmed_by_reading",
    "says_nothing",
    "settle",
]

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


OPEN = "open"  # what a conversation remembers when the open question below was asked
OPEN_QUESTION = (
    "Thanks for getting in touch! How can I help you today? A few words about what you need are enough."
)
_EMPTY_WORDS = frozenset(
    """hi hello hey hiya heya hallo hullo yo good morning afternoon evening day dear team support there
    all folks guys sir madam mam maam customer service care everyone anyone please pls plz kindly thanks
    thank you thx ty it is its this that about regarding re concerning my our the a an order orders
    purchase purchases package parcel account from yesterday today last week recent recently i we have
    had got am was writing write to contact contacting reach reaching out get getting in touch quick
    question questions query queries issue issues problem problems help need with on for of number
    <num> <ordnum> me can could you just wanted want so ok okay um hmm and or again""".split()  # noqa: SIM905
)


def says_nothing(subject: str, text: str, said: Understanding) -> bool:
    """A first message with no request, fact or problem in it, only greetings and a reference to an
    order ("hello?", "Hi, question about my order 10527"): nobody could act on it without asking."""
    if said.intents or said.facts or said.problem or said.address or said.email:
        return False
    spoken = re.findall(r"<\w+>|[a-z]+", canonical(f"{subject} . {text}"))
    return all(word in _EMPTY_WORDS for word in spoken)


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
    """A type the classifier holds likely (CONTENDER or more) though unsure, when the message's own
    requests name it and no other type a policy handles: "where are my 2 orders? the plates and the
    skillet" reads as a damage complaint to the classifier (item names) but asks where the orders are.
    Then no question is needed."""
    said = [label for label in classification.scores if handled(label) and _said(label, intents, {})]
    if len(said) != 1 or said[0] == "other":
        return None
    top = max(classification.scores, key=classification.scores.__getitem__)
    if said[0] != top and not _asked(said[0], intents):
        return None  # "it is lost" is any lost-parcel type's business: not enough to overrule the top
    return said[0] if classification.scores.get(said[0], 0.0) >= CONTENDER else None


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


_STATED_ONLY = frozenset({"not_received"})  # a fact a replacement complaint states as well


def _asked(label: str, intents: list[str]) -> bool:
    """The message asks for this type's business outright, not only states a fact it shares."""
    return any(i in intents and i not in _STATED_ONLY for i in _INTENTS_OF.get(label, ()))


def _said(label: str, intents: list[str], facts: Mapping[str, bool]) -> bool:
    if label == "wismo" and facts.get("received") is False:
        return True
    return any(intent in intents for intent in _INTENTS_OF.get(label, ()))
