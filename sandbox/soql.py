"""A tiny SOQL reader for the sandbox: exactly the query shapes our connectors send, no more.

Supported: SELECT f1, f2 FROM Obj [WHERE cond AND cond ...] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
[LIMIT n], where cond is `field op literal` with op in = != <> < <= > >= LIKE, or `field [NOT] IN (...)`.
Literals are quoted strings (with SOQL's backslash escapes), true/false/null, numbers and datetime
literals. Anything else is a MALFORMED_QUERY, as the real API would say for a query it cannot parse,
so a connector that starts sending a new shape fails loudly here instead of silently matching nothing.

Salesforce semantics kept on purpose: keywords and field names are case-insensitive, string
comparisons (= and LIKE) are case-insensitive, `\\%` and `\\_` are literal in LIKE patterns,
ASC sorts nulls first and DESC nulls last.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Escaped LIKE wildcards survive decoding as private-use characters, so "\%" never acts as a wildcard.
LITERAL_PERCENT = "\ue000"
LITERAL_UNDERSCORE = "\ue001"

_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "%": LITERAL_PERCENT,
    "_": LITERAL_UNDERSCORE,
}
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<str>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<bad>.)""",
    re.VERBOSE | re.DOTALL,
)
_KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "like",
    "order",
    "by",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "limit",
    "true",
    "false",
    "null",
    "includes",
    "excludes",
    "offset",
}
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "like", "in", "not in")


class SoqlError(Exception):
    """A query the sandbox refuses, with the errorCode the real API uses for that kind of mistake."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Token:
    kind: str  # str, datetime, num, op, punct, name, keyword, eof
    value: Any
    pos: int


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # one of COMPARISONS
    value: Any  # str | bool | None | int | float | tuple for IN


@dataclass(frozen=True)
class OrderBy:
    field: str
    descending: bool = False
    nulls_last: bool | None = None  # None: Salesforce's default for the direction

    @property
    def effective_nulls_last(self) -> bool:
        return self.descending if self.nulls_last is None else self.nulls_last


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...] = ()
    order_by: tuple[OrderBy, ...] = ()
    limit: int | None = None


def format_datetime(value: dt.datetime) -> str:
    """Salesforce's wire format for datetimes, which also sorts correctly as a string."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> str:
    """A datetime literal or stored value, normalized to Salesforce's wire format (UTC)."""
    cleaned = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", cleaned):
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]
    try:
        parsed = dt.datetime.fromisoformat(cleaned)
    except ValueError as exc:
        raise SoqlError("INVALID_FIELD", f"invalid datetime: {text}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return format_datetime(parsed)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind, raw = match.lastgroup or "bad", match.group()
        if kind == "ws":
            continue
        if kind == "bad":
            raise _malformed(text, match.start(), f"unexpected token: {raw!r}")
        if kind == "str":
            tokens.append(Token("str", _decode_string(text, match.start(), raw[1:-1]), match.start()))
        elif kind == "num":
            tokens.append(Token("num", float(raw) if "." in raw else int(raw), match.start()))
        elif kind == "name" and raw.lower() in _KEYWORDS:
            tokens.append(Token("keyword", raw.lower(), match.start()))
        else:
            tokens.append(Token(kind, raw, match.start()))
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


def parse(text: str) -> Query:
    """Parse one SOQL statement; SoqlError(MALFORMED_QUERY) for anything outside the supported shapes."""
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "unexpected token: <EOF>")
    return _Parser(text).query()


def like_pattern(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE as a regex: % any run, _ one character, escaped wildcards literal, case-insensitive."""
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(unescape_wildcards(char)))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def unescape_wildcards(value: Any) -> Any:
    """Outside LIKE an escaped wildcard is just the character."""
    if isinstance(value, str):
        return value.replace(LITERAL_PERCENT, "%").replace(LITERAL_UNDERSCORE, "_")
    return value


def matches(condition: Condition, record: Mapping[str, Any]) -> bool:
    """Whether one record satisfies one condition (field names already canonical)."""
    actual = record.get(condition.field)
    if condition.op == "like":
        return actual is not None and bool(like_pattern(condition.value).fullmatch(str(actual)))
    if condition.op in ("in", "not in"):
        found = any(_equal(actual, unescape_wildcards(v)) for v in condition.value)
        return found if condition.op == "in" else not found
    expected = unescape_wildcards(condition.value)
    if condition.op == "=":
        return _equal(actual, expected)
    if condition.op == "!=":
        return not _equal(actual, expected)
    if actual is None or expected is None:
        return False
    left, right = _comparable(actual), _comparable(expected)
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[condition.op]
    except TypeError:
        return False


def execute(query: Query, records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Filter, sort and limit records (field names in `query` must already be canonical)."""
    rows = [r for r in records if all(matches(c, r) for c in query.where)]
    for order in reversed(query.order_by):  # stable sorts, last key first
        present = [r for r in rows if r.get(order.field) is not None]
        missing = [r for r in rows if r.get(order.field) is None]
        field = order.field
        present.sort(key=lambda r: _comparable(r[field]), reverse=order.descending)
        rows = present + missing if order.effective_nulls_last else missing + present
    return rows if query.limit is None else rows[: query.limit]


def map_fields(query: Query, resolve: Callable[[str], str]) -> Query:
    """The same query with every field name replaced by `resolve(name)` (its canonical spelling)."""
    return Query(
        fields=tuple(resolve(f) for f in query.fields),
        sobject=query.sobject,
        where=tuple(Condition(resolve(c.field), c.op, c.value) for c in query.where),
        order_by=tuple(OrderBy(resolve(o.field), o.descending, o.nulls_last) for o in query.order_by),
        limit=query.limit,
    )


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return actual == expected


def _comparable(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _decode_string(text: str, pos: int, body: str) -> str:
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            escaped = body[i + 1] if i + 1 < len(body) else ""
            if escaped not in _ESCAPES:
                raise _malformed(text, pos + i, "Invalid string literal: Illegal escape sequence")
            out.append(_ESCAPES[escaped])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _malformed(text: str, pos: int, why: str) -> SoqlError:
    """Shaped like the real message: the query, a caret, the position, the reason."""
    line = text.replace("\n", " ")
    return SoqlError("MALFORMED_QUERY", f"\n{line}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{why}")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.current
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def fail(self, token: Token | None = None) -> SoqlError:
        token = token or self.current
        return _malformed(self.text, token.pos, f"unexpected token: {token.value}")

    def keyword(self, *words: str) -> bool:
        if self.current.kind == "keyword" and self.current.value in words:
            self.advance()
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.fail()

    def name(self) -> str:
        if self.current.kind != "name":
            raise self.fail()
        return self.advance().value

    def query(self) -> Query:
        self.expect_keyword("select")
        fields = [self.name()]
        while self.current.kind == "punct" and self.current.value == ",":
            self.advance()
            fields.append(self.name())
        self.expect_keyword("from")
        sobject = self.name()
        where: list[Condition] = []
        if self.keyword("where"):
            where.append(self.condition())
            while self.keyword("and"):
                where.append(self.condition())
        order: list[OrderBy] = []
        if self.keyword("order"):
            self.expect_keyword("by")
            order.append(self.order_item())
            while self.current.kind == "punct" and self.current.value == ",":
                self.advance()
                order.append(self.order_item())
        limit = None
        if self.keyword("limit"):
            token = self.advance()
            if token.kind != "num" or not isinstance(token.value, int) or token.value < 0:
                raise self.fail(token)
            limit = token.value
        if self.current.kind != "eof":
            raise self.fail()
        return Query(tuple(fields), sobject, tuple(where), tuple(order), limit)

    def condition(self) -> Condition:
        field = self.name()
        token = self.current
        if token.kind == "op":
            self.advance()
            op = "!=" if token.value in ("!=", "<>") else token.value
            return Condition(field, op, self.literal())
        if self.keyword("like"):
            value = self.literal()
            if not isinstance(value, str):
                raise self.fail(self.tokens[self.i - 1])
            return Condition(field, "like", value)
        negated = self.keyword("not")
        if self.keyword("in"):
            return Condition(field, "not in" if negated else "in", self.literal_list())
        raise self.fail()

    def literal_list(self) -> tuple[Any, ...]:
        if not (self.current.kind == "punct" and self.current.value == "("):
            raise self.fail()
        self.advance()
        values = [self.literal()]
        while self.current.kind == "punct" and self.current.value == ",":
            self.advance()
            values.append(self.literal())
        if not (self.current.kind == "punct" and self.current.value == ")"):
            raise self.fail()
        self.advance()
        return tuple(values)

    def literal(self) -> Any:
        token = self.advance()
        if token.kind in ("str", "num"):
            return token.value
        if token.kind == "datetime":
            return DatetimeLiteral(parse_datetime(token.value))
        if token.kind == "keyword" and token.value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.value]
        raise self.fail(token)

    def order_item(self) -> OrderBy:
        field = self.name()
        descending = False
        if self.keyword("desc"):
            descending = True
        else:
            self.keyword("asc")
        nulls_last = None
        if self.keyword("nulls"):
            if self.keyword("last"):
                nulls_last = True
            else:
                self.expect_keyword("first")
                nulls_last = False
        return OrderBy(field, descending, nulls_last)


class DatetimeLiteral(str):
    """A datetime literal (normalized to the wire format) as opposed to a quoted string."""

    __slots__ = ()
