"""What the customer has said so far, across every turn: the `$said` a policy reads.

Each reading is folded in as it comes; a later message overrides an earlier one on the same point ("it
never arrived" and then "found it, my neighbour had it" leaves `received` true). The opener counts like
any other turn, so a question whose answer is already here is not asked.

Kept in the engine's state as JSON. The customer's own words are kept too (capped), so the items of an
order that is only looked up later can still be matched against what the first message said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.understanding.choices import match_items
from policies.understanding.reading import FACTS, INTENTS, ItemMention, Reading

__all__ = ["Understanding"]

MAX_TEXTS = 8
MAX_TEXT_CHARS = 1500


@dataclass
class Understanding:
    intents: list[str] = field(default_factory=list)
    order_numbers: list[str] = field(default_factory=list)
    email: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    everything: bool = False
    count: int | None = None
    problem: str | None = None
    facts: dict[str, bool] = field(default_factory=dict)
    address: str | None = None
    language: str | None = None
    texts: list[str] = field(default_factory=list)
    handled: list[str] = field(default_factory=list)  # intents a policy has dealt with

    def add(self, reading: Reading, text: str = "") -> None:
        for intent in reading.intents:
            if intent not in self.intents:
                self.intents.append(intent)
        for number in reading.order_numbers:
            if number not in self.order_numbers:
                self.order_numbers.append(number)
        self.email = reading.email or self.email
        for item in reading.items:
            self.items.append({"name": item.name, "quantity": item.quantity})
        self.everything = self.everything or reading.everything
        self.count = reading.count or self.count
        self.problem = reading.problem or self.problem
        self.facts.update(reading.facts)
        if self.facts.get("found") is True:
            self.facts["received"] = True
        self.address = reading.address or self.address
        self.language = reading.language or self.language
        if text.strip():
            self.texts = [*self.texts, text.strip()[:MAX_TEXT_CHARS]][-MAX_TEXTS:]

    # -- what flows read -------------------------------------------------------------------------

    @property
    def order_number(self) -> str | None:
        """The order the customer named, when they named exactly one."""
        return self.order_numbers[0] if len(self.order_numbers) == 1 else None

    def items_of(self, order_items: list[Any]) -> dict[int, int | None]:
        """The order's items the customer named in any turn, with the quantity when said."""
        found: dict[int, int | None] = {}
        for text in self.texts:
            for index, quantity in match_items(text, order_items).items():
                if found.get(index) is None:
                    found[index] = quantity
        for mention in self.items:  # Claude's readings name items as written
            named = match_items(str(mention.get("name") or ""), order_items)
            for index in named:
                if found.get(index) is None:
                    found[index] = mention.get("quantity")
        return found

    def namespace(self) -> dict[str, Any]:
        """`$said`: what the customer has said, under names a policy author can read."""
        return {
            "intents": list(self.intents),
            "order_number": self.order_number,
            "order_numbers": list(self.order_numbers),
            "email": self.email,
            "everything": self.everything,
            "count": self.count,
            "several": bool(self.count and self.count > 1),
            "problem": self.problem,
            "address": self.address,
            "language": self.language,
            **{name: self.facts.get(name) for name in FACTS},
            **self.undecided(),
            **{intent: intent in self.intents for intent in INTENTS},
        }

    def undecided(self) -> dict[str, None]:
        """ "Send another one or refund me": both asked for, so neither is known yet."""
        if self.facts.get("wants_replacement") and self.facts.get("wants_refund"):
            return {"wants_replacement": None, "wants_refund": None}
        return {}

    def unhandled(self, served: list[str]) -> list[str]:
        """Requests no policy that ran has dealt with (noted for the person who takes over)."""
        done = set(served) | set(self.handled) | {"human"}
        return [i for i in self.intents if i not in done]

    # -- storage ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "intents": list(self.intents),
            "order_numbers": list(self.order_numbers),
            "email": self.email,
            "items": [dict(i) for i in self.items],
            "everything": self.everything,
            "count": self.count,
            "problem": self.problem,
            "facts": dict(self.facts),
            "address": self.address,
            "language": self.language,
            "texts": list(self.texts),
            "handled": list(self.handled),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Understanding:
        if not isinstance(data, Mapping):
            return cls()
        reading = Reading.from_dict(
            {
                **data,
                "items": data.get("items") or [],
                "facts": data.get("facts") or {},
            }
        )
        memory = cls(
            intents=reading.intents,
            order_numbers=reading.order_numbers,
            email=reading.email,
            items=[{"name": i.name, "quantity": i.quantity} for i in reading.items],
            everything=reading.everything,
            count=reading.count,
            problem=reading.problem,
            facts=reading.facts,
            address=reading.address,
            language=reading.language,
        )
        memory.texts = [str(t)[:MAX_TEXT_CHARS] for t in data.get("texts") or [] if isinstance(t, str)][
            -MAX_TEXTS:
        ]
        memory.handled = [str(h) for h in data.get("handled") or [] if isinstance(h, str)]
        return memory


def mentions(items: dict[int, int | None], order_items: list[Any]) -> list[ItemMention]:
    return [
        ItemMention(
            str(order_items[i].get("name") if isinstance(order_items[i], Mapping) else order_items[i]), q
        )
        for i, q in items.items()
    ]
