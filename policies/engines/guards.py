"""The guards on every write tool, and the facts they are checked against.

Every engine calls tools through `GuardedTools.call` and nothing else: the flow engine does, and the
agent engine must (give the model a refused call's reason as the tool result; hand off on the second
refusal). One call path means one set of rules, whoever decides to call the tool.

Why facts and not the conversation: a ticket can say anything ("I am verified, order 5001 is mine,
I confirm"), and a model can be talked into repeating it. So `GuardFacts` is built only from what
tools returned (an account lookup that found the customer, orders whose email is that customer's,
an eligibility check that said yes, a replacement the platform created) and from the customer's
"yes" to a question that named the exact action (`confirm`, which takes the understanding layer's
verdict on the reply and records nothing unless it is a plain yes to that very tool). Nothing a
customer types elsewhere, and nothing a model claims, becomes a fact.

A write tool declares its guards (connectors.tools.Tool.guards); each is checked before the call and
any violation raises `ToolRefused` with a reason a person can read. A refused write is never
executed. An unknown guard name refuses too: a typo must not open a door.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.tools import Tool, ToolRegistry
from policies.language.expressions import lookup
from policies.understanding.verdict import Confirmation

__all__ = [
    "CANCELLABLE_STATUSES",
    "GUARDS",
    "GuardFacts",
    "GuardedTools",
    "PORT_DERIVED_ARGS",
    "ToolRefused",
    "canonical",
]

CANCELLABLE_STATUSES = ("approved", "processing", "pending_shipment")
ACCOUNT_TOOL = re.compile(r"^get_[a-z0-9_]+_account_details$")
CREATE_ORDER_TOOL = re.compile(r"^create_[a-z0-9_]*order$")
ELIGIBILITY_TOOL = "check_reshipment_eligibility"
ORDER_ARGS = ("order_id", "original_order_id")
ADDRESS_ARG = "address_id"  # "order_id:address_id": the order part is the one that must be owned
SUBSCRIPTION_ARG = "subscription_id"
EMAIL_ARGS = ("email", "user_email", "customer_email")
PORT_DERIVED_ARGS = ("reference",)
"""Arguments the worker's port sets itself (a reference derived from the ledger key): not something
the customer confirms, so they are left out of the confirmed form of a call."""
MAX_CONFIRMED = 50
MAX_WALK_DEPTH = 4
MAX_WALK_ITEMS = 200


class ToolRefused(Exception):
    """A write tool call broke one of its guards; nothing was called."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


# ---- references -------------------------------------------------------------------------------


def ref(value: Any) -> str | None:
    """One comparable form for an order or subscription reference.

    "#5001", " 5001", 5001 and "gid://shopify/Order/5001" all become "5001", because a policy, a
    customer and a platform write the same order in different ways.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    if text.startswith("gid://"):
        text = text.rsplit("/", 1)[-1]
    text = text.lstrip("#").strip().casefold()
    return text or None


def email_of(value: Any) -> str | None:
    if not isinstance(value, str) or "@" not in value:
        return None
    return value.strip().casefold() or None


def canonical(tool: str, args: Mapping[str, Any]) -> str:
    """The confirmed form of a call: the tool's canonical name and its arguments, key order ignored."""
    kept = {str(k): v for k, v in args.items() if k not in PORT_DERIVED_ARGS}
    return tool + json.dumps(kept, sort_keys=True, default=str)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%"))
        except ValueError:
            return None
    return None


def _percent_text(value: float) -> str:
    return f"{value:g}%"


# ---- facts ------------------------------------------------------------------------------------


@dataclass
class GuardFacts:
    """What tool results have established in this conversation; JSON-able, kept in PolicyState.

    orders and subscriptions hold only those whose email was the verified one when they were read.
    replacements maps an original order to the replacement this conversation created for it.
    confirmed holds canonical(tool, args) strings the customer said yes to; each authorises one write.
    """

    verified_email: str | None = None
    customer_ids: list[str] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    eligible: list[str] = field(default_factory=list)
    replacements: dict[str, str] = field(default_factory=dict)
    confirmed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified_email": self.verified_email,
            "customer_ids": list(self.customer_ids),
            "orders": {k: dict(v) for k, v in self.orders.items()},
            "subscriptions": {k: dict(v) for k, v in self.subscriptions.items()},
            "eligible": list(self.eligible),
            "replacements": dict(self.replacements),
            "confirmed": list(self.confirmed),
        }

    @classmethod
    def from_dict(cls, data: Any) -> GuardFacts:
        """Tolerant: a missing or malformed part is simply no fact (which refuses, never allows)."""
        if not isinstance(data, Mapping):
            return cls()

        def records(value: Any) -> dict[str, dict[str, Any]]:
            if not isinstance(value, Mapping):
                return {}
            return {str(k): dict(v) for k, v in value.items() if isinstance(v, Mapping)}

        def strings(value: Any) -> list[str]:
            return [str(v) for v in value] if isinstance(value, list) else []

        replacements = data.get("replacements")
        return cls(
            verified_email=email_of(data.get("verified_email")),
            customer_ids=strings(data.get("customer_ids")),
            orders=records(data.get("orders")),
            subscriptions=records(data.get("subscriptions")),
            eligible=strings(data.get("eligible")),
            replacements={str(k): str(v) for k, v in replacements.items()}
            if isinstance(replacements, Mapping)
            else {},
            confirmed=strings(data.get("confirmed")),
        )

    # -- lookups --------------------------------------------------------------------------------

    def order(self, reference: Any) -> dict[str, Any] | None:
        """The verified customer's order by id or number, or None."""
        wanted = ref(reference)
        if wanted is None or self.verified_email is None:
            return None
        found = self.orders.get(wanted) or next(
            (o for o in self.orders.values() if ref(o.get("number")) == wanted), None
        )
        if found is None or email_of(found.get("email")) != self.verified_email:
            return None
        return found

    def subscription(self, reference: Any) -> dict[str, Any] | None:
        wanted = ref(reference)
        if wanted is None or self.verified_email is None:
            return None
        found = self.subscriptions.get(wanted)
        if found is None or email_of(found.get("email")) != self.verified_email:
            return None
        return found

    def is_replacement(self, reference: Any) -> bool:
        wanted = ref(reference)
        return wanted is not None and wanted in self.replacements.values()

    # -- recording ------------------------------------------------------------------------------

    def verify(self, email: str, customer_id: Any) -> None:
        if email != self.verified_email:
            self.verified_email = email
            self.customer_ids = []
        known = isinstance(customer_id, str | int) and not isinstance(customer_id, bool)
        if known and str(customer_id) and str(customer_id) not in self.customer_ids:
            self.customer_ids.append(str(customer_id))

    def record_order(self, raw: Mapping[str, Any]) -> None:
        key = ref(raw.get("id"))
        email = email_of(raw.get("email"))
        if key is None or email is None or email != self.verified_email:
            return
        self.orders[key] = {
            "email": email,
            "status": str(raw.get("status") or ""),
            "platform": str(raw.get("platform") or ""),
            "number": str(raw.get("number") or ""),
        }

    def record_subscription(self, raw: Mapping[str, Any], owner: str | None = None) -> None:
        key = ref(raw.get("id"))
        email = email_of(raw.get("customer_email")) or owner
        if key is None or email is None or email != self.verified_email:
            return
        self.subscriptions[key] = {
            "email": email,
            "status": str(raw.get("status") or ""),
            "platform": str(raw.get("platform") or ""),
        }

    def set_status(self, reference: Any, status: str) -> None:
        wanted = ref(reference)
        for key, order in self.orders.items():
            if wanted in (key, ref(order.get("number"))):
                order["status"] = status

    def confirm(self, form: str) -> None:
        if form not in self.confirmed:
            self.confirmed.append(form)
            del self.confirmed[:-MAX_CONFIRMED]

    def use_confirmation(self, form: str) -> None:
        """One yes, one write: a loop that reaches the same write again must ask again."""
        if form in self.confirmed:
            self.confirmed.remove(form)


# ---- the guards -------------------------------------------------------------------------------

Check = Callable[[GuardFacts, Tool, Mapping[str, Any], Mapping[str, Any]], str | None]


def _order_refs(args: Mapping[str, Any]) -> list[Any]:
    refs = [args[name] for name in ORDER_ARGS if name in args]
    if ADDRESS_ARG in args:
        refs.append(str(args[ADDRESS_ARG]).partition(":")[0])
    return refs


def _the_order(args: Mapping[str, Any]) -> Any:
    """The order a call is about: the original of a replacement, else order_id / the address's order."""
    refs = _order_refs(args)
    return args.get("original_order_id", refs[0] if refs else None)


def _shown(value: Any) -> str:
    text = str(value).strip()[:40] if isinstance(value, str | int) else type(value).__name__
    return text or "(empty)"


def verified_customer(
    facts: GuardFacts, tool: Tool, args: Mapping[str, Any], _: Mapping[str, Any]
) -> str | None:
    if facts.verified_email is None:
        return "the customer is not verified: no account lookup has found them yet"
    for name in EMAIL_ARGS:
        if name in args and email_of(args[name]) != facts.verified_email:
            return f"@{tool.name} names an email that is not the verified customer's"
    return None


def owns_order(facts: GuardFacts, tool: Tool, args: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    refs = _order_refs(args)
    if not refs:
        return f"@{tool.name} names no order"
    for value in refs:
        if facts.order(value) is None:
            return f"order {_shown(value)} is not one of the verified customer's orders"
    return None


def owns_subscription(
    facts: GuardFacts, tool: Tool, args: Mapping[str, Any], _: Mapping[str, Any]
) -> str | None:
    value = args.get(SUBSCRIPTION_ARG)
    if facts.subscription(value) is None:
        return f"subscription {_shown(value)} is not one of the verified customer's subscriptions"
    return None


def confirmed(facts: GuardFacts, tool: Tool, args: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    if canonical(tool.name, args) not in facts.confirmed:
        return f"the customer has not said yes to @{tool.name} with these details"
    return None


def max_discount(
    facts: GuardFacts, tool: Tool, args: Mapping[str, Any], policy: Mapping[str, Any]
) -> str | None:
    order = args.get("order_id")
    if order is not None and facts.is_replacement(order):
        return _within(args, 100.0, "a replacement order's maximum")
    return _within(args, _cap(policy, "max_discount_percent"), "the policy's maximum")


def max_coupon(
    facts: GuardFacts, tool: Tool, args: Mapping[str, Any], policy: Mapping[str, Any]
) -> str | None:
    """A coupon is money off a future order, so a policy may allow more for it than off this one
    (`max_coupon_percent`); without that setting the discount cap holds for coupons too."""
    key = "max_coupon_percent" if "max_coupon_percent" in policy else "max_discount_percent"
    return _within(args, _cap(policy, key), "the policy's coupon maximum")


def _cap(policy: Mapping[str, Any], key: str) -> float:
    """A policy without the setting allows nothing: a missing cap must not mean "no limit"."""
    return max(_number(policy.get(key)) or 0.0, 0.0)


def _within(args: Mapping[str, Any], cap: float, whose: str) -> str | None:
    for name, value in args.items():
        if "percent" not in name:
            continue
        share = _number(value)
        if share is None:
            return f"the discount {_shown(value)} is not a number"
        if share > cap:
            return f"the discount {_percent_text(share)} is above {whose} of {_percent_text(cap)}"
    return None


def replacement_only(
    facts: GuardFacts, tool: Tool, args: Mapping[str, Any], _: Mapping[str, Any]
) -> str | None:
    value = args.get("order_id")
    if not facts.is_replacement(value):
        return f"order {_shown(value)} is not a replacement created in this conversation"
    return None


def eligible_for_reshipment(
    facts: GuardFacts, tool: Tool, args: Mapping[str, Any], _: Mapping[str, Any]
) -> str | None:
    value = _the_order(args)
    if ref(value) is None or ref(value) not in facts.eligible:
        return f"order {_shown(value)} has not been checked as eligible for reshipment"
    return None


def one_replacement_per_order(
    facts: GuardFacts, tool: Tool, args: Mapping[str, Any], _: Mapping[str, Any]
) -> str | None:
    value = _the_order(args)
    existing = facts.replacements.get(ref(value) or "")
    if existing:
        return f"order {_shown(value)} already has a replacement (order {existing})"
    return None


def cancellable_status(
    facts: GuardFacts, tool: Tool, args: Mapping[str, Any], _: Mapping[str, Any]
) -> str | None:
    value = _the_order(args)
    order = facts.order(value)
    status = order.get("status") if order else None
    if status not in CANCELLABLE_STATUSES:
        return (
            f"order {_shown(value)} is {status or 'of unknown status'}; only approved, processing or "
            "pending_shipment orders can be cancelled"
        )
    return None


GUARDS: dict[str, Check] = {
    "verified_customer": verified_customer,
    "owns_order": owns_order,
    "owns_subscription": owns_subscription,
    "confirmed": confirmed,
    "max_discount": max_discount,
    "max_coupon": max_coupon,
    "replacement_only": replacement_only,
    "eligible_for_reshipment": eligible_for_reshipment,
    "one_replacement_per_order": one_replacement_per_order,
    "cancellable_status": cancellable_status,
}


# ---- the one call path ------------------------------------------------------------------------


class ToolPort(Protocol):
    """The one thing the guards need of an engine's port (policies.engines.runtime.PolicyPort): calling a
    tool. Declared here so the guards do not depend on the runtime that keeps their facts."""

    def call_tool(self, step_key: str, tool: str, args: dict[str, Any]) -> Any: ...


class GuardedTools:
    """Every tool call of every engine: guards before a write, facts from every result."""

    def __init__(
        self,
        port: ToolPort,
        facts: GuardFacts,
        policy_guards: Mapping[str, Any] | None,
        registry: ToolRegistry,
        requester_email: str | None = None,
        context: Mapping[str, Any] | None = None,
    ):
        self.port = port
        self.context: Mapping[str, Any] = context or {}
        self.facts = facts
        self.policy_guards: Mapping[str, Any] = policy_guards or {}
        self.registry = registry
        # Who wrote in: the helpdesk's own record of the requester, or an email the customer proved
        # control of (worker.identity). Only that email can be verified, and account-specific reads are
        # refused for any other: knowing someone's address is not being them. With none, nothing about
        # any account is read or written.
        self.requester_email = email_of(requester_email)

    def call(self, step_key: str, tool: str, args: Mapping[str, Any]) -> Any:
        """Check, call through the port (its ledger), observe. Raises ToolRefused, KeyError for an
        unknown tool, and whatever the tool raises (connectors.errors types, TypeError, ValueError)."""
        found = self.registry.resolve(tool)
        if found is None:
            raise KeyError(f"unknown tool {tool!r}")
        args = self.filled(found, args)
        if not found.writes and self.check_read(found, args):
            return None  # withheld: the engine sees "nothing found", and nothing was read
        if found.writes:
            verdicts = self.verdicts(found, args)
            witness = getattr(self.port, "guards_checked", None)  # a simulation's trace records them
            if callable(witness):
                witness(step_key, found.name, args, verdicts)
            reason = next((said for _, said in verdicts if said), None)
            if reason:
                raise ToolRefused(reason)
        result = self.port.call_tool(step_key, found.name, args)
        if found.writes:
            self.facts.use_confirmation(canonical(found.name, args))
        elif self.foreign(result):
            return None  # another customer's records: withheld, answered as "nothing found"
        self.observe(found, args, result)
        return result

    def filled(self, tool: Tool, args: Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments with those the tool takes from the conversation's context
        (Tool.from_context) set from it, whatever the policy or a model passed."""
        args = dict(args)
        for name, path in tool.from_context:
            args[name] = lookup(self.context, path)
        return args

    def check_read(self, tool: Tool, args: Mapping[str, Any]) -> str | None:
        """An account-specific read (by email, or by an order or subscription) needs a proven email, and
        an email argument must be that one. A read that breaks this is not made: `call` answers it as
        "nothing found", which reveals nothing (not even whether the account exists) and lets the
        policy carry on as it does for an unknown customer."""
        emails = [args[name] for name in EMAIL_ARGS if name in args]
        by_record = any(name in args for name in (*ORDER_ARGS, SUBSCRIPTION_ARG))
        if not (emails or by_record):
            return None
        if self.requester_email is None:
            return f"@{tool.name} reads an account, and the customer has not proven any email yet"
        for value in emails:
            if email_of(value) != self.requester_email:
                return f"@{tool.name} names an email that is not the customer's own"
        return None

    def foreign(self, value: Any, depth: int = 0) -> bool:
        """Whether a read's result holds an order, subscription or account of another email than the
        customer's proven one (or any, when none is proven): such a result is withheld (None)."""
        if depth > MAX_WALK_DEPTH:
            return False
        if isinstance(value, list):
            return any(self.foreign(item, depth + 1) for item in value[:MAX_WALK_ITEMS])
        if not isinstance(value, Mapping):
            return False
        for key in ("email", "customer_email"):
            owner = email_of(value.get(key))
            if owner is not None and owner != self.requester_email:
                return True
        return any(
            self.foreign(value.get(key), depth + 1) for key in ("customer", "orders", "subscriptions", "data")
        )

    def check(self, tool: Tool, args: Mapping[str, Any]) -> str | None:
        """The first guard the call breaks, as a sentence; None when every guard holds."""
        return next((reason for _, reason in self.verdicts(tool, args) if reason), None)

    def verdicts(self, tool: Tool, args: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        """Every guard of the tool, in order, with the sentence it refuses with (None: it holds).
        The checks only read the facts, so evaluating them all costs nothing and shows every reason."""
        said: list[tuple[str, str | None]] = []
        for name in tool.guards:
            check = GUARDS.get(name)
            if check is None:
                said.append((name, f"@{tool.name} declares an unknown guard {name!r}"))
            else:
                said.append((name, check(self.facts, tool, args, self.policy_guards)))
        return said

    def confirm(self, tool: str, args: Mapping[str, Any], verdict: Confirmation) -> str | None:
        """Record the customer's yes to exactly this call, so it may run once; None when the verdict
        (policies.understanding.verdict, the reading of the customer's reply to the question that named
        this call) is not a plain yes to this very tool. Engines never decide this themselves."""
        found = self.registry.resolve(tool)
        if found is None:
            raise KeyError(f"unknown tool {tool!r}")
        if not verdict.authorises(found.name):
            return None
        form = canonical(found.name, self.filled(found, args))
        self.facts.confirm(form)
        return form

    # -- facts from results ---------------------------------------------------------------------

    def observe(self, tool: Tool, args: Mapping[str, Any], result: Any) -> None:
        if ACCOUNT_TOOL.match(tool.name):
            self._account(args, result)
        if tool.name == ELIGIBILITY_TOOL and isinstance(result, Mapping):
            self._eligibility(args, result)
        if tool.writes and CREATE_ORDER_TOOL.match(tool.name) and isinstance(result, Mapping):
            original, created = ref(args.get("original_order_id")), ref(result.get("id"))
            if original and created:
                self.facts.replacements[original] = created
        if tool.writes and isinstance(result, Mapping):
            self._cancellation(args, result)
        self._walk(result, 0)

    def _account(self, args: Mapping[str, Any], result: Any) -> None:
        """An account found for email E verifies E (the platform filtered by it, we check it did)."""
        if not isinstance(result, Mapping):
            return
        nested = result.get("customer")
        customer: Mapping[str, Any] = nested if isinstance(nested, Mapping) else result
        asked = email_of(args.get("email"))
        found = email_of(customer.get("email")) or asked
        if found is None or (asked is not None and found != asked) or not customer.get("id"):
            return
        if found != self.requester_email:  # only the helpdesk's requester or a proven email
            return
        self.facts.verify(found, customer.get("id"))
        for sub in result.get("subscriptions") or []:
            if isinstance(sub, Mapping):
                self.facts.record_subscription(sub, owner=found)

    def _eligibility(self, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        keys = {k for k in (ref(args.get("order_id")), ref(result.get("order_id"))) if k}
        if result.get("eligible") is True:
            self.facts.eligible.extend(k for k in sorted(keys) if k not in self.facts.eligible)
        else:
            self.facts.eligible = [k for k in self.facts.eligible if k not in keys]

    def _cancellation(self, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        if result.get("canceled") is True or result.get("status") == "canceled":
            for value in (args.get("order_id"), result.get("order_id"), result.get("number")):
                if value is not None:
                    self.facts.set_status(value, "canceled")

    def _walk(self, value: Any, depth: int) -> None:
        """Orders and subscriptions anywhere in a result (a list, {customer, subscriptions}, ...)."""
        if depth > MAX_WALK_DEPTH:
            return
        if isinstance(value, list):
            for item in value[:MAX_WALK_ITEMS]:
                self._walk(item, depth + 1)
            return
        if not isinstance(value, Mapping):
            return
        if {"id", "number", "status"} <= value.keys() and "email" in value:
            self.facts.record_order(value)
        elif {"id", "status", "customer_email"} <= value.keys():
            self.facts.record_subscription(value)
        for key in ("orders", "subscriptions", "data"):
            if isinstance(value.get(key), list):
                self._walk(value[key], depth + 1)
