"""The confirmation verdict: what the guards read before recording a customer's yes to a write.

A write waits for the customer's yes to a question that named it. Whether the reply is that yes is
decided here, from the reading of the reply against that question, and nowhere else: not from a keyword
in an engine, not from a model's claim. The verdict names the tool it is about, so a yes to a discount
can never stand for a cancel.

It authorises only a plain yes: "yes but ...", a yes with a condition, a changed detail (another address,
order or amount), a yes to another action, a yes and a no, a question back or doubt authorise nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.understanding.reading import Reading

__all__ = ["Confirmation"]


@dataclass(frozen=True)
class Confirmation:
    tool: str
    answer: str  # yes | no | unclear
    qualifiers: tuple[str, ...] = ()
    reader: str = "local"

    @classmethod
    def of(cls, reading: Reading, tool: str) -> Confirmation:
        return cls(tool, reading.answer, tuple(reading.qualifiers), reading.reader)

    def authorises(self, tool: str) -> bool:
        return self.tool == tool and self.answer == "yes" and not self.qualifiers

    def describe(self) -> str:
        """For notes and for the agent: what the reply was, without the customer's words."""
        if self.answer == "yes" and not self.qualifiers:
            return "a plain yes"
        why = ", ".join(q.replace("_", " ") for q in self.qualifiers)
        return f"{self.answer}{f' ({why})' if why else ''}"
