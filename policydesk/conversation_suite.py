"""The conversation suite: customers' conversations written as data (tests/conversation_suite/), played
through the deployed stack against the sandbox's world, and scored against what a competent person
following the store's policies would have done.

A conversation is played as the customer would: the opener becomes a ticket on its helpdesk (with the
helpdesk's own webhook), and each later turn is sent only while the bot is waiting for the customer.
Conversations run concurrently in waves; two conversations that touch the same customer (as the
writer, or as someone else's email or order typed in) never share a wave, and the sandbox is reset
between waves, so each one meets the world as the files describe it and every store write in the
sandbox's log can be traced to one conversation.
"""

from __future__ import annotations

import builtins
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policydesk.customers import OpenedTicket, SandboxCustomers
from sandbox import world

SUITE = Path(__file__).resolve().parent.parent / "tests" / "conversation_suite"
SETS = ("dev", "heldout")
STATES = {"pd-resolved": "resolved", "pd-handed-off": "handed_off", "pd-waiting": "waiting"}
HANDOFF_GROUP_VARS = {
    "freshdesk": "FRESHDESK_HANDOFF_GROUP_ID",
    "kustomer": "KUSTOMER_HANDOFF_TEAM_ID",
    "salesforce": "SALESFORCE_HANDOFF_QUEUE_ID",
}
POLICY_TYPES = {"wismo", "skip_shipment", "replacement", "cancellation"}
STORE_PLATFORMS = ("bigcommerce", "smartrr", "shopify")
TRIAGE_NOTE = "policydesk triage"
LANGUAGE_WORDS = {
    "en": {"the", "and", "your", "you", "is", "to", "of", "order", "please", "we", "it", "for"},
    "es": {"el", "la", "de", "que", "su", "pedido", "por", "para", "los", "una", "gracias", "es"},
    "fr": {"le", "la", "de", "votre", "commande", "pour", "est", "nous", "vous", "les", "une", "merci"},
    "de": {"der", "die", "und", "ihre", "bestellung", "sie", "wir", "ist", "nicht", "das", "bitte", "für"},
}
TURN_TIMEOUT = 45.0


# ---- the files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    id: str
    set: str
    path: Path
    spec: dict[str, Any]

    @property
    def helpdesk(self) -> str:
        return self.spec["helpdesk"]

    @property
    def type(self) -> str:
        return self.spec["type"]

    @property
    def email(self) -> str | None:
        return self.spec.get("customer")

    @property
    def turns(self) -> list[dict[str, Any]]:
        return [t if isinstance(t, dict) else {"text": t} for t in self.spec.get("turns") or ()]

    @property
    def expect(self) -> dict[str, Any]:
        return self.spec["expect"]

    def texts(self) -> list[str]:
        return [self.spec["opener"]["text"], *(t["text"] for t in self.turns)]

    def touches(self, the_world: world.World) -> builtins.set[str]:  # `set` is a field here
        """Every customer this conversation could read or change: its writer, and anyone whose email or
        order number it types."""
        found = {self.email.casefold()} if self.email else set()
        text = " ".join([self.spec["opener"].get("subject", ""), *self.texts()])
        for email in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text):
            if the_world.customer(email):
                found.add(email.casefold())
        for number in re.findall(r"\b(?:[A-Z]{2}-)?\d{4,5}\b", text):
            order = the_world.order(number)
            if order:
                found.add(order.customer.email.casefold())
        return found or {f"visitor:{self.id}"}

    @property
    def asks_for_person(self) -> int | None:
        """The turn (0 = the opener) in which the customer asks for a person, if any."""
        if self.spec["opener"].get("person"):
            return 0
        return next((i for i, t in enumerate(self.turns, 1) if t.get("person")), None)

    @property
    def clear_opener(self) -> bool:
        """Whether a person would have understood the first message as a request a policy handles."""
        default = self.type in POLICY_TYPES and not {"unclear_opener", "other_language"} & set(self.patterns)
        return bool(self.spec["opener"].get("clear", default and self.asks_for_person != 0))

    @property
    def patterns(self) -> list[str]:
        return list(self.spec.get("patterns") or ())


def schema() -> dict[str, Any]:
    """The JSON Schema of one conversation file (the suite's and the policy tests' alike)."""
    return json.loads((SUITE / "schema.json").read_text())


def check_conversation(spec: Any, name: str, the_world: world.World | None = None) -> None:
    """Raise ValueError, saying where, unless `spec` is a valid conversation of the sandbox's world."""
    import jsonschema

    try:
        jsonschema.validate(spec, schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "the top level"
        raise ValueError(f"{name}: {exc.message} (at {where})") from None
    email = spec.get("customer")
    if email and (the_world or world.load()).customer(email) is None:
        raise ValueError(f"{name}: {email} is not a customer of the sandbox's world")


def read_conversations(paths: Iterable[Path], set_name: str) -> list[Conversation]:
    """Conversation files, each checked (check_conversation); ids must be unique."""
    the_world = world.load()
    conversations = []
    for path in paths:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        check_conversation(spec, path.name, the_world)
        conversations.append(Conversation(spec["id"], set_name, path, spec))
    return unique(conversations)


def unique(conversations: list[Conversation]) -> list[Conversation]:
    ids = Counter(c.id for c in conversations)
    if duplicated := [i for i, n in ids.items() if n > 1]:
        raise ValueError(f"duplicate conversation ids: {duplicated}")
    return conversations


def load(suite: Path = SUITE, sets: Iterable[str] = SETS) -> list[Conversation]:
    """Every conversation file of the sets, checked against the suite's JSON Schema and the world."""
    conversations = []
    for name in sets:
        conversations += read_conversations(sorted((suite / name).glob("*.yaml")), name)
    return unique(conversations)


def waves(conversations: list[Conversation]) -> list[list[Conversation]]:
    """Greedy: each conversation joins the first wave that touches none of its customers."""
    the_world = world.load()
    placed: list[tuple[set[str], list[Conversation]]] = []
    for conversation in sorted(conversations, key=lambda c: -len(c.turns)):
        touched = conversation.touches(the_world)
        for used, members in placed:
            if not used & touched:
                used |= touched
                members.append(conversation)
                break
        else:
            placed.append((set(touched), [conversation]))
    return [members for _, members in placed]


# ---- playing ------------------------------------------------------------------------------------


@dataclass
class Played:
    conversation: Conversation
    ticket: OpenedTicket | None = None
    view: dict[str, Any] = field(default_factory=dict)
    answered: list[str | None] = field(default_factory=list)  # the bot message each turn answered
    states_after: list[str] = field(default_factory=list)  # the state after the opener and each turn
    sent: int = 0  # customer turns sent after the opener
    writes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def state_of(view: dict[str, Any]) -> str:
    return next((STATES[t] for t in STATES if t in view.get("tags", ())), "unfinished")


def _settled(replies_before: int):
    def done(view: dict[str, Any]) -> bool:
        state = state_of(view)
        return state != "unfinished" and (state != "waiting" or len(view["replies"]) > replies_before)

    return done


def _moved(replies_before: int):
    def done(view: dict[str, Any]) -> bool:
        tags = set(view["tags"])
        return (
            len(view["replies"]) > replies_before
            or "pd-handed-off" in tags
            or ("pd-resolved" in tags and "pd-waiting" not in tags)
        )

    return done


TurnHook = Callable[[int, OpenedTicket], None]


def _tag_lag(turn_seconds: float) -> float:
    """How long to let the lifecycle tag follow a reply: it is a turn's last write, so a turn that
    was slow to reply (a loaded machine) is slow to tag too, and an earlier turn's "waiting" tag
    would otherwise be read as this turn's end."""
    return min(5.0, max(0.3, turn_seconds / 4))


def play_one(
    customers: SandboxCustomers,
    web_url: str,
    conversation: Conversation,
    *,
    before_turn: TurnHook | None = None,
    after_turn: TurnHook | None = None,
) -> Played:
    """One conversation, turn by turn. `before_turn(n, ticket)` runs before turn n's webhook is posted
    (0 = the opener) and `after_turn(n, ticket)` once it has settled (the ticket is read again after
    it, so a hook that waits for the last write sees the turn's real end): a benchmark measures there."""
    played = Played(conversation)
    opener = conversation.spec["opener"]
    name = conversation.spec.get("name")
    if conversation.email and not name:
        person = world.load().customer(conversation.email)
        name = person.name if person else None
    try:
        ticket = customers.open_ticket(
            conversation.helpdesk, opener.get("subject", ""), opener["text"], conversation.email, name
        )
        played.ticket = ticket
        if before_turn:
            before_turn(0, ticket)
        for delivery in ticket.deliveries:
            delivery.post(web_url)
        view = customers.wait_for(ticket, _settled(0), timeout=TURN_TIMEOUT)
        if after_turn:
            after_turn(0, ticket)
            view = customers.view(ticket)
        played.states_after.append(state_of(view))
        for number, turn in enumerate(conversation.turns, 1):
            if state_of(view) != "waiting":
                break
            before = len(view["replies"])
            played.answered.append(view["replies"][-1] if view["replies"] else None)
            delivery = customers.reply(ticket, turn["text"])
            if before_turn:
                before_turn(number, ticket)
            sent_at = time.monotonic()
            delivery.post(web_url)
            played.sent += 1
            customers.wait_for(ticket, _moved(before), timeout=TURN_TIMEOUT)
            time.sleep(_tag_lag(time.monotonic() - sent_at))
            view = customers.wait_for(ticket, _settled(before), timeout=TURN_TIMEOUT / 2)
            if after_turn:
                after_turn(number, ticket)
                view = customers.view(ticket)
            played.states_after.append(state_of(view))
        played.view = view
    except Exception as exc:  # a broken conversation is scored as failed, never stops the suite
        played.error = f"{type(exc).__name__}: {exc}"
    return played


def play(
    customers: SandboxCustomers, web_url: str, conversations: list[Conversation], *, parallel: int = 24
) -> list[Played]:
    """Every conversation, wave by wave, with the sandbox reset before each wave."""
    results: list[Played] = []
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for wave in waves(conversations):
            customers.http.post(f"{customers.url}/_sandbox/reset", timeout=30).raise_for_status()
            played = list(pool.map(lambda c: play_one(customers, web_url, c), wave))
            attribute_writes(played, customers.writes())
            results.extend(played)
    order = {c.id: n for n, c in enumerate(conversations)}
    return sorted(results, key=lambda p: order[p.conversation.id])


# ---- what the store was told to do --------------------------------------------------------------


def attribute_writes(played: list[Played], log: list[dict[str, Any]]) -> None:
    """Each store write of one wave, as a plain record (cancel, replacement, skip...), given to the
    conversation whose customer it concerns (a coupon: the conversation whose replies quote its code)."""
    the_world = world.load()
    owner_of = {}
    for p in played:
        for touched in p.conversation.touches(the_world):
            owner_of[touched] = p
    created: dict[str, str | None] = {}  # replacement order id -> customer email
    for row in log:
        if row["platform"] not in STORE_PLATFORMS or row.get("fault") or row.get("held"):
            continue
        record, email = describe_write(row, the_world, created)
        if record is None:
            continue
        if "coupon" in record:
            target = next((p for p in played if record["code"] in " ".join(p.view.get("replies", ()))), None)
            record = {"coupon": record["coupon"]}
        else:
            target = owner_of.get((email or "").casefold())
        if target is not None:
            target.writes.append(record)


def describe_write(
    row: dict[str, Any], the_world: world.World, created: dict[str, str | None]
) -> tuple[dict[str, Any] | None, str | None]:
    body, path, method = row.get("body") or {}, row["path"], row["method"]
    if row["platform"] == "smartrr":
        match = re.search(r"/purchase-state/([^/]+)/(skip|unskip|pause|activate|cancel)$", path)
        if not match:
            return {"other": f"{method} {path}"}, None
        subscription = _subscription_by_state(the_world, match.group(1))
        email = subscription.customer.email if subscription else None
        return {match.group(2): subscription.id if subscription else match.group(1)}, email
    if row["platform"] == "shopify":
        variables = body.get("variables") or {}
        gid = str(variables.get("orderId") or "")
        order = next(
            (o for o in the_world.orders_in("shopify") if gid.endswith(o.id or "55000000" + o.number)), None
        )
        return {"cancel": order.number if order else gid}, order.customer.email if order else None
    if method == "POST" and path.endswith("/v2/orders"):
        original = re.search(r"order (\d+)", str(body.get("staff_notes") or ""))
        email = (body.get("billing_address") or {}).get("email")
        created[str(row.get("order_id"))] = email
        address = (body.get("shipping_addresses") or [body.get("billing_address") or {}])[0]
        items: Counter[str] = Counter()
        for product in body.get("products") or ():
            sku = next((p.sku for p in the_world.products if p.id == product.get("product_id")), None)
            items[sku or str(product.get("name"))] += int(product.get("quantity", 0))
        replacement = {
            "order": original.group(1) if original else None,
            "items": dict(items),
            "address": address.get("street_1", ""),
        }
        return {"replacement": replacement}, email
    if method == "POST" and path.endswith("/v2/coupons"):
        return {"coupon": float(body.get("amount") or 0), "code": str(body.get("code"))}, None
    match = re.search(r"/v2/orders/(\d+)(/shipping_addresses/\d+)?$", path)
    if not match:
        return {"other": f"{method} {path}"}, None
    number = match.group(1)
    order = the_world.order(number)
    if order is None:  # an order created in this run: releasing a replacement at no charge
        return (None, None) if body.get("status_id") != 5 else ({"cancel": number}, created.get(number))
    email = order.customer.email
    if match.group(2):  # the express method alone is the address half of a shipping upgrade
        return (None, None) if set(body) == {"shipping_method"} else ({"address_change": number}, email)
    if body.get("status_id") == 5:
        return {"cancel": number}, email
    if "discount_amount" in body:
        percent = round(100 * float(body["discount_amount"]) / max(order.total, 0.01))
        return {"discount": number, "percent": percent}, email
    if {"base_shipping_cost", "shipping_cost_inc_tax", "shipping_cost_ex_tax"} & set(body):
        return {"shipping_upgrade": number}, email
    return {"other": f"{method} {path}"}, email


def describe_would_write(tool: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
    """A write the simulation runtime recorded (worker.simulation), as the same plain record
    describe_write makes of the sandbox's log, so a policy test states its writes as the suite does.
    Steps of a write that are not a request of their own (paying a replacement, the confirmation
    message) give None."""
    order = str(args.get("order_id") or "")
    if tool in ("cancel_bigcommerce_order", "cancel_shopify_order"):
        return {"cancel": order.rsplit("/", 1)[-1]}
    if tool == "create_bigcommerce_order":
        items: Counter[str] = Counter()
        for item in args.get("items") or ():
            items[str(item.get("sku") or item.get("name"))] += int(item.get("quantity") or 0)
        address = args.get("address") or {}
        replacement = {
            "order": str(args.get("original_order_id") or ""),
            "items": dict(items),
            "address": str(address.get("street_1") or "") if isinstance(address, Mapping) else "",
        }
        return {"replacement": replacement}
    match = re.fullmatch(r"(skip|unskip)_smartrr_next_delivery|(pause)_smartrr_subscription", tool)
    if match:
        return {match.group(1) or match.group(2): str(args.get("subscription_id") or "")}
    if tool == "set_discount_to_order":
        return {"discount": order, "percent": args.get("percent")}
    if tool == "upgrade_shipping":
        return {"shipping_upgrade": order}
    if tool == "create_bigcommerce_coupon":
        return {"coupon": float(args.get("percent") or 0)}
    if tool == "update_bigcommerce_address":
        return {"address_change": str(args.get("address_id") or "")}
    if tool == "file_carrier_claim":
        return {"claim": order}
    if tool in ("set_order_to_paid", "send_async_message"):
        return None
    return {"other": tool}


def _subscription_by_state(the_world: world.World, state_id: str) -> world.Subscription | None:
    from sandbox.smartrr import _id

    return next((s for s in the_world.subscriptions if _id("purchaseState", s.id) == state_id), None)


# ---- scoring ------------------------------------------------------------------------------------


@dataclass
class Score:
    conversation: Conversation
    end_ok: bool
    writes_ok: bool
    wording_ok: bool
    unasked_write: bool
    misread_opener: bool
    person_ignored: bool
    differences: list[str]

    @property
    def fully_correct(self) -> bool:
        return self.end_ok and self.writes_ok and self.wording_ok


def score(played: Played, env: Mapping[str, str] | None) -> Score:
    """How the conversation went against its expectations. `env` names the helpdesks' human groups; with
    None (a simulated run, whose hand-off is to the configured group by construction) it is not checked."""
    c, view, expect = played.conversation, played.view, played.conversation.expect
    differences: list[str] = []
    if played.error:
        differences.append(f"could not be played: {played.error}")
    state = state_of(view) if view else "unfinished"
    wanted = expect["state"] if isinstance(expect["state"], list) else [expect["state"]]
    end_ok = state in wanted
    if not end_ok:
        differences.append(f"ended {state}, expected {' or '.join(wanted)}")
    if end_ok and state == "handed_off" and env is not None and expect.get("group", "humans") == "humans":
        group = str(view.get("group"))
        if group != env.get(HANDOFF_GROUP_VARS[c.helpdesk]):
            end_ok = False
            differences.append(f"handed off to group {group}, not the humans' group")
    missing, extra = match_writes(expect.get("writes") or [], played.writes)
    differences += [f"expected write not made: {w}" for w in missing]
    differences += [f"write the customer did not ask for: {w}" for w in extra]
    wording = check_wording(played)
    differences += wording
    person_turn = c.asks_for_person
    person_ignored = person_turn is not None and (
        len(played.states_after) <= person_turn or played.states_after[person_turn] != "handed_off"
    )
    if person_ignored:
        differences.append(f"asked for a person in turn {person_turn} and was not handed to one")
    first = played.states_after[0] if played.states_after else "unfinished"
    misread = (
        c.clear_opener and first == "handed_off" and any(TRIAGE_NOTE in n for n in view.get("notes", ()))
    )
    if misread:
        differences.append("a clear first message was sent to a person by the triage")
    return Score(
        c, end_ok, not missing and not extra, not wording, bool(extra), misread, person_ignored, differences
    )


def match_writes(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> tuple[list, list]:
    """(expected writes not made, writes made that nothing expected)."""
    left = list(actual)
    missing = []
    for want in expected:
        options = want.get("one_of", [want])
        hit = next((w for w in left if any(_same_write(o, w) for o in options)), None)
        if hit is None:
            missing.append(want)
        else:
            left.remove(hit)
    return missing, left


def _same_write(want: dict[str, Any], got: dict[str, Any]) -> bool:
    kind = next(iter(want))
    if kind not in got:
        return False
    if kind == "replacement":
        spec, made = want["replacement"], got["replacement"]
        return (
            str(spec["order"]) == str(made["order"])
            and {k: int(v) for k, v in spec["items"].items()} == made["items"]
            and spec.get("address", "").casefold() in made["address"].casefold()
        )
    if kind == "discount":
        return (
            str(want["discount"]) == str(got["discount"])
            and want.get("percent", got["percent"]) == got["percent"]
        )
    if kind == "coupon":
        return want["coupon"] in (None, got["coupon"])
    return str(want[kind]) == str(got[kind])


def check_wording(played: Played) -> list[str]:
    c, view = played.conversation, played.view
    replies, notes = view.get("replies", []), view.get("notes", [])
    problems = []
    for n, (turn, answered) in enumerate(zip(c.turns, played.answered, strict=False), 1):
        problems += _check_text(turn.get("bot_before") or {}, answered or "", f"bot message before turn {n}")
    expect = c.expect
    problems += _check_text(expect.get("replies") or {}, "\n".join(replies), "the replies")
    problems += _check_text(expect.get("note") or {}, "\n".join(notes), "the notes")
    for before, after in zip(replies, replies[1:], strict=False):
        if before.strip() == after.strip():
            problems.append(f"the same message twice in a row: {before[:80]!r}")
            break
    language = (expect.get("replies") or {}).get("language")
    if language:
        wrong = [r for r in replies if reads_as(r) not in (language, None)]
        if wrong:
            problems.append(f"a reply not in {language}: {wrong[0][:80]!r}")
    return problems


def _check_text(checks: dict[str, Any], text: str, where: str) -> list[str]:
    folded = text.casefold()
    problems = [
        f"{where} lacks {w!r}" for w in checks.get("must_contain") or () if w.casefold() not in folded
    ]
    problems += [
        f"{where} says {w!r}" for w in checks.get("must_not_contain") or () if w.casefold() in folded
    ]
    any_of = checks.get("must_contain_any")
    if any_of and not any(w.casefold() in folded for w in any_of):
        problems.append(f"{where} has none of {any_of}")
    return problems


def reads_as(text: str) -> str | None:
    """The language whose common words the text uses most (None when too short to tell)."""
    words = re.findall(r"[a-zà-ÿß]+", text.casefold())
    counts = {lang: sum(w in common for w in words) for lang, common in LANGUAGE_WORDS.items()}
    best = max(counts, key=lambda lang: counts[lang])
    return best if counts[best] >= 2 else None


# ---- figures ------------------------------------------------------------------------------------


def figures(scores: list[Score]) -> dict[str, Any]:
    n = len(scores)
    return {
        "conversations": n,
        "fully_correct": _share(sum(s.fully_correct for s in scores), n),
        "right_end_state": _share(sum(s.end_ok for s in scores), n),
        "unasked_writes": sum(s.unasked_write for s in scores),
        "clear_requests_sent_to_a_person": sum(s.misread_opener for s in scores),
        "requests_for_a_person_ignored": sum(s.person_ignored for s in scores),
    }


def _share(count: int, total: int) -> float:
    return round(count / total, 3) if total else 0.0


def breakdown(scores: list[Score]) -> dict[str, dict[str, dict[str, Any]]]:
    groups: dict[str, dict[str, list[Score]]] = {"set": {}, "helpdesk": {}, "type": {}}
    for s in scores:
        c = s.conversation
        for name, key in (("set", c.set), ("helpdesk", c.helpdesk), ("type", c.type)):
            groups[name].setdefault(key, []).append(s)
    return {name: {key: figures(members) for key, members in sorted(g.items())} for name, g in groups.items()}


def report(scores: list[Score], *, failures_of: str = "dev") -> str:
    """The figures overall, per set, per helpdesk and per type, then the failing conversations of one set
    with their first difference (the held-out set's are never listed)."""
    lines = [_row("all", figures(scores), header=True)]
    for name, groups in breakdown(scores).items():
        lines.append(f"-- per {name}")
        lines += [_row(key, numbers) for key, numbers in groups.items()]
    failing = [s for s in scores if s.conversation.set == failures_of and not s.fully_correct]
    lines.append(f"-- {len(failing)} conversations of the {failures_of} set not fully correct")
    lines += [f"{s.conversation.id}: {s.differences[0] if s.differences else 'wording'}" for s in failing]
    return "\n".join(lines)


def _row(name: str, f: dict[str, Any], *, header: bool = False) -> str:
    row = (
        f"{name:<14} n={f['conversations']:<4} fully correct {f['fully_correct']:>6.1%}  "
        f"end state {f['right_end_state']:>6.1%}  unasked writes {f['unasked_writes']:<3} "
        f"clear sent to a person {f['clear_requests_sent_to_a_person']:<3} "
        f"person ignored {f['requests_for_a_person_ignored']}"
    )
    return row if not header else f"{row}\n"
