"""Proof of identity for a customer the helpdesk does not identify (a chat visitor with no email).

Typing an email address proves nothing: anyone can type anyone's. So before a policy reads or writes
anything of an account, a customer with no requester email on the helpdesk proves control of the
email they name, and until then the bot shares nothing account-specific (the guards refuse every
account read and write for an unproven email, whichever engine runs: policies.engines.guards).

How, per POLICYDESK_IDENTITY_PROOF:
- `order_facts` (the default): two facts from the store's own records that a stranger who only knows
  the address does not have: an order number on that account and the postcode that order was shipped
  to. It needs no outbound channel, so it works on every helpdesk and in chat, where a customer may
  not be able to receive an email while the conversation lasts.
- `code`: a 6-digit one-time code emailed to that address through the helpdesk (Salesforce
  `emailSimple` to the address; on other helpdesks, order facts are used: they have no call that
  emails an address outside the conversation). Valid 15 minutes, three tries; only its hash is kept.

Two wrong answers hand the ticket to a person; a mismatch never says which fact was wrong. Once
proven, the email becomes the conversation's `$customer.email`, exactly as if the helpdesk had known
it, and the routed policy starts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.errors import NotFound, PlatformError
from connectors.tools import ToolRegistry
from policies.understanding.extract import extract_email, extract_order_number
from worker.conversation import Conversation

CODE_HELPDESKS = frozenset({"salesforce"})
PROVING = ("email", "facts", "code")  # stages that wait for the customer's answer
ORDER_DETAIL_TOOL = re.compile(r"^[a-z]+_order_details$")
CODE_TTL = 15 * 60
MAX_TRIES = 2
MAX_CODE_TRIES = 3

ASK_EMAIL = "Thanks for getting in touch! Which email address did you use for your order?"
ASK_FACTS = (
    "To make sure I'm talking to the account holder, please reply with an order number on that "
    "account and the postcode (ZIP) it was shipped to."
)
ASK_CODE = (
    "I've emailed a 6-digit code to that address. Please reply here with the code to confirm it's yours."
)
AGAIN = "Those details don't match our records. Please check them and send them once more."
CODE_SUBJECT = "Your verification code"


def proof_mode(env: Mapping[str, str] = os.environ) -> str:
    mode = (env.get("POLICYDESK_IDENTITY_PROOF") or "order_facts").strip().lower()
    return mode if mode in ("order_facts", "code") else "order_facts"


@dataclass
class Step:
    """What the gate decided: a question for the customer, a proven email, or a hand-off reason."""

    ask: str | None = None
    proven: str | None = None
    give_up: str | None = None


class IdentityGate:
    """One conversation's proof, kept in `conversation.identity` between turns."""

    def __init__(
        self, conversation: Conversation, registry: ToolRegistry, helpdesk: str, mode: str | None = None
    ):
        self.conversation = conversation
        self.registry = registry
        self.mode = mode or proof_mode()
        if self.mode == "code" and helpdesk not in CODE_HELPDESKS:
            self.mode = "order_facts"  # no call of this helpdesk emails an address outside the conversation

    @property
    def state(self) -> dict[str, Any]:
        return self.conversation.identity

    def begin(self, text: str, policy: str) -> Step:
        """A new ticket from an unidentified customer: take the email they gave, or ask for it."""
        self.state.clear()
        self.state.update(policy=policy, tries=0)
        email = extract_email(text)
        if email is None:
            self.state["stage"] = "email"
            return Step(ask=ASK_EMAIL)
        return self._challenge(email)

    def resume(self, text: str) -> Step:
        stage = self.state.get("stage")
        if stage == "email":
            email = extract_email(text)
            if email is None:
                return self._miss("no email address was given")
            return self._challenge(email)
        if stage == "facts":
            return self._check_facts(text)
        if stage == "code":
            return self._check_code(text)
        return Step(give_up="the identity check was in an unknown state")

    # -- challenges -------------------------------------------------------------------------------

    def _challenge(self, email: str) -> Step:
        self.state["email"] = email
        if self.mode == "code":
            return self._send_code(email)
        self.state["stage"] = "facts"
        return Step(ask=ASK_FACTS)

    def _check_facts(self, text: str) -> Step:
        email = str(self.state.get("email") or "")
        number = extract_order_number(text, bare=True)
        if number and self._order_matches(email, number, text):
            return self._proven(email)
        return self._miss("the order number and postcode did not match the store's records")

    def _order_matches(self, email: str, number: str, text: str) -> bool:
        """An order with this number, on this email, shipped to a postcode the reply names."""
        given = postcodes_in(text.replace(number, " "))
        for tool in self.registry.all():
            if tool.writes or not ORDER_DETAIL_TOOL.match(tool.name) or not tool.configured():
                continue
            try:
                order = self.registry.invoke(tool.name, {"order_id": number})
            except (NotFound, PlatformError, TypeError, ValueError, KeyError):
                continue
            if not isinstance(order, Mapping):
                continue
            address = (
                order.get("shipping_address") if isinstance(order.get("shipping_address"), Mapping) else {}
            )
            postcode = _postcode(str((address or {}).get("zip") or ""))
            same_email = str(order.get("email") or "").strip().casefold() == email.casefold()
            if same_email and postcode and (postcode in given or postcode[:5] in given):
                return True
        return False

    def _send_code(self, email: str) -> Step:
        code = f"{secrets.randbelow(10**6):06d}"
        self.state.update(
            stage="code", code=self._digest(email, code), expires=time.time() + CODE_TTL, tries=0
        )
        # sent with the turn's outbox, after the state holding its hash is saved
        self.conversation.outbox.append(
            {
                "kind": "email",
                "step": f"identity-code-{len(self.conversation.seen_messages)}",
                "to": email,
                "subject": CODE_SUBJECT,
                "text": f"Your verification code is {code}. It is valid for 15 minutes. "
                "If you did not ask for it, ignore this email.",
            }
        )
        return Step(ask=ASK_CODE)

    def _check_code(self, text: str) -> Step:
        email = str(self.state.get("email") or "")
        typed = re.search(r"\b(\d{6})\b", text)
        fresh = time.time() < float(self.state.get("expires") or 0)
        if (
            typed
            and fresh
            and hmac.compare_digest(self._digest(email, typed.group(1)), str(self.state.get("code")))
        ):
            return self._proven(email)
        self.state["tries"] = int(self.state.get("tries") or 0) + 1
        if self.state["tries"] >= MAX_CODE_TRIES or not fresh:
            return Step(give_up="the customer could not confirm the code sent to the email they gave")
        return Step(ask="That code doesn't match. Please check the latest email from us and try again.")

    def _digest(self, email: str, code: str) -> str:
        return hashlib.sha256(f"{self.conversation.key}|{email.casefold()}|{code}".encode()).hexdigest()

    # -- outcomes ---------------------------------------------------------------------------------

    def _miss(self, why: str) -> Step:
        self.state["tries"] = int(self.state.get("tries") or 0) + 1
        if self.state["tries"] >= MAX_TRIES:
            return Step(give_up=f"the customer could not prove the email they gave ({why})")
        return Step(ask=AGAIN if self.state.get("stage") == "facts" else ASK_EMAIL)

    def _proven(self, email: str) -> Step:
        policy = self.state.get("policy")
        self.state.clear()
        self.state.update(stage="proven", proven=email, how=self.mode, policy=policy)
        return Step(proven=email)


def _postcode(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def postcodes_in(text: str) -> set[str]:
    """Every word of the reply, and every two adjacent words joined ("SW1A 1AA"), upper-cased: the
    order's postcode either is among them or was not given."""
    words = [w.upper() for w in re.findall(r"[A-Za-z0-9]+", text)]
    return set(words) | {a + b for a, b in zip(words, words[1:], strict=False)}
