"""What one customer message says, and the question it may be answering: the reader's schema.

Both readers (the local rules in policies.understanding.local and Claude in
policies.understanding.claude) fill the same `Reading`, so everything downstream (the flow engine, the
agent engine, the guards, the pipeline) reads one shape whichever reader answered.

A `Reading` is about one message as a whole: every request in it, every order it names, the items and
quantities, an email, a new address, what it says happened to the parcel, whether it asks for a person,
its language, and, when the bot had asked something, the answer to that question (`answer`, `picks`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "ANSWERS",
    "SLOT_TYPES",
    "FACTS",
    "INTENTS",
    "PROBLEMS",
    "QUALIFIERS",
    "REQUEST_WORDS",
    "ItemMention",
    "Question",
    "Reading",
]

INTENTS: tuple[str, ...] = (
    "where_is_order",  # where is it, when will it arrive, tracking
    "not_received",  # it never arrived, it is lost, it was stolen
    "replacement",  # send it again, send a new one
    "refund",  # money back
    "return",  # send it back
    "cancel_order",
    "cancel_subscription",
    "skip_delivery",
    "pause_subscription",
    "change_address",  # a new address, "I moved"
    "more_discount",  # asks for a bigger discount than offered
    "human",  # asks for a person
)
"""Every request or complaint a message can carry; a message may carry several."""

REQUEST_WORDS = {
    "refund": "a refund",
    "return": "a return",
    "replacement": "a replacement",
    "not_received": "help with an order that never arrived",
    "cancel_order": "an order cancellation",
    "cancel_subscription": "a subscription cancellation",
    "skip_delivery": "a skipped delivery",
    "pause_subscription": "a paused subscription",
    "where_is_order": "where their order is",
    "change_address": "a new shipping address",
    "more_discount": "a bigger discount",
    "human": "a person",
}
"""How each request reads in a sentence to the customer or a note for a person."""

PROBLEMS: tuple[str, ...] = ("lost", "damaged", "wrong_item", "missing_item")
"""What went wrong with an order, as a replacement or a claim needs it."""

FACTS: tuple[str, ...] = (
    "received",  # the parcel reached the customer (False: it never arrived)
    "found",  # the customer found it after looking (False: looked and it is not there, or stolen)
    "wants_replacement",  # wants the item sent again (False: does not want one)
    "wants_refund",  # wants the money back (False: does not)
    "insists",  # repeats a request the bot did not follow ("I said cancel")
)
"""Yes/no facts a message can state; a question about one of them is answered by stating it."""

ANSWERS: tuple[str, ...] = ("yes", "no", "unclear")
QUALIFIERS: tuple[str, ...] = (
    "conditional",  # yes if / as long as / but ...
    "changed_detail",  # a different address, order, quantity or amount than the one asked about
    "other_action",  # asks for a different action than the one the question names
    "mixed",  # says yes and no
    "question",  # answers with a question
    "uncertain",  # maybe, not sure
)
"""Why an answer is not a plain yes or no; any of them means the answer authorises nothing."""

QuestionKind = Literal["yes_no", "choice", "items", "email", "order_number", "text", "open"]
SLOT_TYPES: tuple[str, ...] = ("email", "order_number", "choice", "items", "yes_no", "text")
"""The kinds of answer a flow's `ask` step can wait for."""


@dataclass(frozen=True)
class Question:
    """What the bot asked, so a short reply can be read against it.

    kind: the answer wanted. `open` is no question (a first message).
    text: the question as sent (helps Claude; the local reader does not need it).
    options: for choice/items, the things listed (orders, subscriptions, order items, strings).
    labels: how each option was shown to the customer.
    topic: the fact a yes/no question is about (one of FACTS), so "it never came" answers "did it reach
        you?".
    action: for a question that asks permission for a write, the tool it names (`cancel_bigcommerce_order`),
        so "just cancel it" is read as a yes to a cancel and a no to a discount offer.
    today: ISO date, for "the one from last week".
    """

    kind: QuestionKind = "open"
    text: str = ""
    options: tuple[Any, ...] = ()
    labels: tuple[str, ...] = ()
    topic: str | None = None
    action: str | None = None
    today: str | None = None

    @classmethod
    def open(cls, today: str | None = None) -> Question:
        return cls("open", today=today)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "labels": list(self.labels),
            "topic": self.topic,
            "action": self.action,
            "today": self.today,
        }


@dataclass(frozen=True)
class ItemMention:
    """An item the customer named, as written ("mugs"), with the quantity when they gave one."""

    name: str
    quantity: int | None = None


@dataclass
class Reading:
    """One message, read as a whole. Empty fields mean "not said", never "no".

    answer / qualifiers / picks are about the pending `Question`; the rest is about the message itself.
    """

    language: str | None = None  # ISO 639-1 when the message says enough to tell ("en", "es", ...)
    intents: list[str] = field(default_factory=list)
    order_numbers: list[str] = field(default_factory=list)  # as written, without "#"
    email: str | None = None
    items: list[ItemMention] = field(default_factory=list)
    everything: bool = False  # "all of it", "both", "the whole order"
    count: int | None = None  # how many of something: "skip the next two deliveries"
    problem: str | None = None  # one of PROBLEMS
    facts: dict[str, bool] = field(default_factory=dict)  # FACTS the message states
    address: str | None = None  # a new shipping address, as written
    answer: str = "unclear"  # to the pending question: yes | no | unclear
    qualifiers: list[str] = field(default_factory=list)  # QUALIFIERS that make the answer not plain
    picks: list[int] = field(default_factory=list)  # option indexes chosen (choice and items questions)
    quantities: dict[int, int] = field(default_factory=dict)  # items questions: option index -> how many
    reader: str = "local"  # which reader produced it: local | claude

    @property
    def wants_person(self) -> bool:
        return "human" in self.intents

    @property
    def plain_yes(self) -> bool:
        """An unambiguous yes: the only kind of answer that may authorise a write."""
        return self.answer == "yes" and not self.qualifiers

    @property
    def plain_no(self) -> bool:
        return self.answer == "no"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["quantities"] = {str(k): v for k, v in self.quantities.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Reading:
        """Tolerant: unknown or malformed parts are dropped (which reads as "not said")."""
        data = data or {}

        def strings(value: Any, allowed: Sequence[str] | None = None) -> list[str]:
            if not isinstance(value, list):
                return []
            out = [str(v) for v in value if isinstance(v, str | int) and not isinstance(v, bool)]
            return [v for v in out if allowed is None or v in allowed]

        items = [
            ItemMention(str(i["name"]), i.get("quantity") if isinstance(i.get("quantity"), int) else None)
            for i in data.get("items") or []
            if isinstance(i, Mapping) and i.get("name")
        ]
        facts = _mapping(data.get("facts"))
        quantities = _mapping(data.get("quantities"))
        return cls(
            language=data.get("language") if isinstance(data.get("language"), str) else None,
            intents=strings(data.get("intents"), INTENTS),
            order_numbers=strings(data.get("order_numbers")),
            email=data.get("email") if isinstance(data.get("email"), str) else None,
            items=items,
            everything=data.get("everything") is True,
            count=data.get("count") if isinstance(data.get("count"), int) else None,
            problem=data.get("problem") if data.get("problem") in PROBLEMS else None,
            facts={k: v for k, v in facts.items() if k in FACTS and isinstance(v, bool)},
            address=data.get("address") if isinstance(data.get("address"), str) else None,
            answer=str(data["answer"]) if data.get("answer") in ANSWERS else "unclear",
            qualifiers=strings(data.get("qualifiers"), QUALIFIERS),
            picks=[int(p) for p in data.get("picks") or [] if isinstance(p, int) and not isinstance(p, bool)],
            quantities={
                int(k): int(v)
                for k, v in quantities.items()
                if str(k).isdigit() and isinstance(v, int) and not isinstance(v, bool)
            },
            reader=str(data.get("reader") or "local"),
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
