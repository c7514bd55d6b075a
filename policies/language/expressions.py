"""Conditions and templates in policy flows: `$order.status == 'in_transit' and $today > $order.eta`.

Policies are written by CX managers and stored in the repo, but they still must not be able to run
code: a condition is parsed with `ast` and only a small whitelist of node types is evaluated, by this
module, never by `eval`. Names exist only as `$variables`; attribute access reads dict keys (never
Python attributes, never anything starting with `_`); the only calls are a few pure helpers.

Comparisons are forgiving on purpose, because tool results come from many platforms: an ISO date
string compares with `$today` as a date, and a comparison between values that cannot be ordered
(a missing date against today) is simply false rather than an error that would stall the ticket.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

__all__ = [
    "CONTEXT_ROOTS",
    "ExpressionError",
    "Expression",
    "compile_expression",
    "evaluate",
    "render_template",
    "template_variables",
    "variable_roots",
    "as_date",
    "lookup",
]

CONTEXT_ROOTS: tuple[str, ...] = ("customer", "ticket", "today", "brand", "facts", "variant", "said")
"""`$` names every policy can read without defining them (the engines fill them in)."""

MAX_EXPRESSION_CHARS = 500
MAX_NODES = 120
_VAR_PREFIX = "v__"  # `$order` becomes the Python name `v__order` before parsing


class ExpressionError(ValueError):
    """A condition is malformed or uses something outside the whitelist."""


def as_date(value: Any) -> date | None:
    """A date from a date, datetime or ISO 8601 string ('2025-03-07', '2025-03-07T10:00:00Z'); else None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _days(n: Any) -> timedelta:
    if isinstance(n, bool) or not isinstance(n, int | float) or abs(n) > 36500:
        raise ExpressionError("days() takes a number of days")
    return timedelta(days=n)


def _date(value: Any) -> date | None:
    return as_date(value)


def _len(value: Any) -> int:
    return len(value) if isinstance(value, list | tuple | dict | str) else 0


def _lower(value: Any) -> str:
    return str(value).lower() if value is not None else ""


def _upper(value: Any) -> str:
    return str(value).upper() if value is not None else ""


FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "len": _len,
    "date": _date,
    "days": _days,
    "lower": _lower,
    "upper": _upper,
}
"""The only callables a condition may use; each takes one argument and has no side effects."""

_CONSTANT_NAMES = {"true": True, "false": False, "none": None, "True": True, "False": False, "None": None}
_COMPARE_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot)
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Compare,
    *_COMPARE_OPS,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Call,
)

# `$name` outside quoted strings. Strings are matched first so a `$` inside them is left alone.
_TOKEN_RE = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\$([A-Za-z_]\w*)""")


def _substitute(source: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return _VAR_PREFIX + match.group(1) if match.group(1) else match.group(0)

    return _TOKEN_RE.sub(replace, source)


class Expression:
    """A checked condition, ready to evaluate many times. `variables` lists the `$paths` it reads."""

    def __init__(self, source: str, tree: ast.Expression, variables: list[str]):
        self.source = source
        self.tree = tree
        self.variables = variables

    @property
    def roots(self) -> set[str]:
        return {v.split(".", 1)[0] for v in self.variables}

    def evaluate(self, namespace: Mapping[str, Any]) -> Any:
        return _Evaluator(namespace).visit(self.tree.body)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def compile_expression(source: Any) -> Expression:
    """Parse and check a condition; ExpressionError says what is wrong in words a CX manager can act on."""
    if isinstance(source, bool | int | float) or source is None:
        source = repr(source).lower() if isinstance(source, bool) else repr(source)
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("a condition must be a non-empty text")
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"condition longer than {MAX_EXPRESSION_CHARS} characters")
    text = _substitute(source.strip())
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot read condition {source.strip()!r}: {exc.msg}") from None
    variables: list[str] = []
    for count, node in enumerate(ast.walk(tree), start=1):
        if count > MAX_NODES:
            raise ExpressionError("condition is too complex")
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{type(node).__name__} is not allowed in a condition")
        if isinstance(node, ast.Name):
            if not (node.id.startswith(_VAR_PREFIX) or node.id in _CONSTANT_NAMES or node.id in FUNCTIONS):
                raise ExpressionError(f"unknown name {node.id!r}: write variables as $name, text in quotes")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise ExpressionError(f"field {node.attr!r} is not allowed")
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
                raise ExpressionError(f"only these functions may be called: {', '.join(sorted(FUNCTIONS))}")
            if len(node.args) != 1 or node.keywords:
                raise ExpressionError(f"{node.func.id}() takes exactly one argument")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, str | int | float | bool | type(None)):
                raise ExpressionError("only text, numbers, true, false and none are allowed as values")
            if isinstance(node.value, str) and len(node.value) > 200:
                raise ExpressionError("text value too long")
    for node in ast.walk(tree):
        path = _variable_path(node)
        if path and path not in variables and not any(v.startswith(path + ".") for v in variables):
            variables.append(path)
    variables = [v for v in variables if not any(o != v and o.startswith(v + ".") for o in variables)]
    return Expression(source.strip(), tree, variables)


def _variable_path(node: ast.AST) -> str | None:
    """`$order.shipments[0].url` -> 'order.shipments'; the dotted part a linter can check."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
        else:
            parts.clear()
        node = node.value
    if isinstance(node, ast.Name) and node.id.startswith(_VAR_PREFIX):
        return ".".join([node.id[len(_VAR_PREFIX) :], *reversed(parts)])
    return None


def evaluate(source: str, namespace: Mapping[str, Any]) -> Any:
    return compile_expression(source).evaluate(namespace)


def lookup(namespace: Mapping[str, Any], path: str) -> Any:
    """Follow a dotted path (`order.shipments.0.tracking_url`) through dicts and lists; None if absent."""
    value: Any = namespace
    for part in path.split("."):
        if part.startswith("_"):
            return None
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list | tuple) and part.isdigit():
            index = int(part)
            value = value[index] if index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any]:
    """Let a date meet an ISO string: `$today > $order.estimated_delivery` compares as dates."""
    if isinstance(left, date) and not isinstance(right, date):
        right_date = as_date(right)
        if right_date is not None:
            return as_date(left), right_date
    if isinstance(right, date) and not isinstance(left, date):
        left_date = as_date(left)
        if left_date is not None:
            return left_date, as_date(right)
    if isinstance(left, datetime) and isinstance(right, date) and not isinstance(right, datetime):
        return left.date(), right
    if isinstance(right, datetime) and isinstance(left, date) and not isinstance(left, datetime):
        return left, right.date()
    return left, right


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    left, right = _coerce_pair(left, right)
    try:
        if isinstance(op, ast.Eq):
            return bool(left == right)
        if isinstance(op, ast.NotEq):
            return bool(left != right)
        if isinstance(op, ast.Is):
            return left is right
        if isinstance(op, ast.IsNot):
            return left is not right
        if isinstance(op, ast.In | ast.NotIn):
            found = right is not None and left in right
            return found if isinstance(op, ast.In) else not found
        if left is None or right is None:
            return False
        if isinstance(op, ast.Lt):
            return bool(left < right)
        if isinstance(op, ast.LtE):
            return bool(left <= right)
        if isinstance(op, ast.Gt):
            return bool(left > right)
        if isinstance(op, ast.GtE):
            return bool(left >= right)
    except TypeError:
        return False  # values that cannot be ordered (text vs number) do not satisfy the condition
    raise ExpressionError(f"{type(op).__name__} is not allowed")


class _Evaluator:
    def __init__(self, namespace: Mapping[str, Any]):
        self.namespace = namespace

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id.startswith(_VAR_PREFIX):
                return self.namespace.get(node.id[len(_VAR_PREFIX) :])
            if node.id in _CONSTANT_NAMES:
                return _CONSTANT_NAMES[node.id]
            raise ExpressionError(f"unknown name {node.id!r}")
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise ExpressionError(f"field {node.attr!r} is not allowed")
            base = self.visit(node.value)
            return base.get(node.attr) if isinstance(base, Mapping) else None
        if isinstance(node, ast.Subscript):
            base = self.visit(node.value)
            key = self.visit(node.slice)
            if isinstance(base, Mapping) and isinstance(key, str) and not key.startswith("_"):
                return base.get(key)
            if isinstance(base, list | tuple) and isinstance(key, int) and not isinstance(key, bool):
                return base[key] if -len(base) <= key < len(base) else None
            return None
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for value in node.values:
                    result = self.visit(value)
                    if not result:
                        return result
                return result
            result = False
            for value in node.values:
                result = self.visit(value)
                if result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return not operand
            if isinstance(operand, int | float) and not isinstance(operand, bool):
                return -operand
            raise ExpressionError("minus needs a number")
        if isinstance(node, ast.BinOp):
            return self._arithmetic(node)
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.visit(comparator)
                if not _compare(op, left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.List | ast.Tuple):
            return [self.visit(element) for element in node.elts]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            return FUNCTIONS[node.func.id](self.visit(node.args[0]))
        raise ExpressionError(f"{type(node).__name__} is not allowed in a condition")

    def _arithmetic(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(right, timedelta):
            left = as_date(left) if not isinstance(left, date) else left
        if left is None or right is None:
            return None
        try:
            if isinstance(node.op, ast.Add):
                if isinstance(left, str) != isinstance(right, str):
                    return None
                return left + right
            if isinstance(node.op, ast.Sub):
                left, right = _coerce_pair(left, right)
                result = left - right
                return result.days if isinstance(result, timedelta) and isinstance(left, date) else result
        except TypeError:
            return None
        raise ExpressionError("only + and - are allowed")


# Templates: `$customer.first_name`, `${order.number}`, `${customer.first_name|there}`,
# `$order.shipments.0.tracking_url`.
_TEMPLATE_RE = re.compile(
    r"\$\{([A-Za-z_]\w*(?:\.\w+)*)(?:\|([^}]*))?\}|\$([A-Za-z_]\w*(?:\.(?:[A-Za-z_]\w*|\d+))*)"
)


def template_variables(text: str) -> list[str]:
    """Every `$path` a template reads, in order."""
    return [m.group(1) or m.group(3) for m in _TEMPLATE_RE.finditer(text or "")]


def variable_roots(paths: list[str]) -> set[str]:
    return {p.split(".", 1)[0] for p in paths}


def render_template(text: str, namespace: Mapping[str, Any]) -> str:
    """Fill `$placeholders` as a customer should read them: dates as 'March 7, 2025', addresses on one line.

    `${customer.first_name|there}` falls back to the text after `|` when the value is missing.
    """

    def replace(match: re.Match[str]) -> str:
        text = format_value(lookup(namespace, match.group(1) or match.group(3)))
        return text if text else (match.group(2) or "")

    return _TEMPLATE_RE.sub(replace, text or "")


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date) or (
        isinstance(value, str)
        and re.fullmatch(
            r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
            value.strip(),
        )
    ):
        day = as_date(value)
        if day is not None:
            return f"{day.strftime('%B')} {day.day}, {day.year}"
    if isinstance(value, Mapping):
        if any(key in value for key in ("street_1", "city", "zip")):
            parts = [value.get(k) for k in ("street_1", "street_2", "city", "state", "zip", "country")]
            return ", ".join(str(p) for p in parts if p)
        if "number" in value:
            return str(value["number"])
        if "name" in value and isinstance(value.get("quantity"), int):  # an order line: "2 × Blue mug"
            return f"{value['quantity']} × {value['name']}"
        return ", ".join(f"{k}: {format_value(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value)
    return str(value)
