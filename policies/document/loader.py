"""A policy file: YAML front matter plus the Markdown a CX manager writes, parsed with line numbers.

Parsing never raises on a bad file. What is wrong is collected as `Problem`s with the line it is on,
because the person fixing it is editing Markdown, not reading a traceback. The linter adds the checks
that need the rest of the world (the tool registry, the other policies); this module only knows the
file itself.

Body conventions (see policies/library/README.md):
- `## When to use`, `## Logic` (numbered steps), `## Macros` (one `### name` per canned reply),
  optional `## Flow` holding one fenced ```yaml block the deterministic engine runs.
- `@tool_name(args)` calls a tool, `#Policy Name` or `#policy-id` points at another policy,
  `$customer.first_name` reads a context value.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from connectors.helpdesk import HELPDESKS
from policies.document.variants import parse_variants
from policies.understanding.classifier import LABELS
from policies.understanding.reading import INTENTS

__all__ = [
    "ENGINES",
    "STEP_ACTIONS",
    "LineDict",
    "Macro",
    "PolicyDocument",
    "Problem",
    "Reference",
    "Step",
    "content_version",
    "inherit_replies",
    "parse_replies",
    "load_yaml_with_lines",
    "macro_name",
    "parse_policy",
    "read_policy",
]

ENGINES = ("flow", "agent", "auto")
MODES = ("live", "draft", "shadow", "off")  # how far a policy acts on real tickets (policies.document.modes)
FRONT_MATTER_FIELDS = (
    "id",
    "title",
    "handles",
    "helpdesks",
    "platforms",
    "guards",
    "engine",
    "mode",
    "description",
    "variants",
    "serves",
    "inputs",
    "results",
)
# What a policy does for the customer, by ticket type, when its front matter does not say (`serves`):
# the understanding layer's request intents (policies.understanding.INTENTS).
SERVES_BY_TYPE: dict[str, tuple[str, ...]] = {
    "wismo": ("where_is_order", "not_received"),
    "replacement": ("replacement", "not_received"),
    "cancellation": ("cancel_order",),
    "skip_shipment": ("skip_delivery",),
}
STEP_ACTIONS: dict[str, tuple[str, ...]] = {
    # action -> the other keys that step may carry (besides id, next, note)
    "ask": (
        "type",
        "macro",
        "reask_macro",
        "tries",
        "prefill",
        "again",
        "from",
        "show",
        "on_fail",
        "on_change",
        "several",
        "confirms",
    ),
    "call": ("args", "save_as"),
    "branch": (),
    "reply": (),
    "handoff": ("macro",),
    "goto": (),
    "policy": ("with",),
    "end": ("macro",),
}
COMMON_STEP_KEYS = ("id", "next", "note", "logic")  # logic: the numbered Logic step it implements
MAX_POLICY_BYTES = 256_000

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str
    severity: Severity = "error"

    def format(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Reference:
    """One `@tool`, `#policy` or `$variable` mention in the body, where it is written."""

    kind: Literal["tool", "policy", "variable"]
    name: str
    line: int
    args: str | None = None


@dataclass(frozen=True)
class Macro:
    name: str
    text: str
    line: int


class LineDict(dict):
    """A YAML mapping that remembers the line of itself and of each key, for file:line messages."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.line = 0
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key cannot be a list or mapping", key_node.start_mark
            ) from None
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_with_lines(text: str) -> Any:
    """yaml.safe_load, but mappings are LineDicts (1-based lines relative to `text`)."""
    return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class Step:
    """One flow step. `action` is its verb (ask, call, ...); `data` the whole mapping as written."""

    id: str
    action: str
    data: dict[str, Any]
    line: int

    @property
    def value(self) -> Any:
        return self.data.get(self.action)

    def line_of(self, key: str) -> int:
        return self.data.line_of(key) if isinstance(self.data, LineDict) else self.line


@dataclass
class Section:
    title: str
    line: int
    text: str


@dataclass
class PolicyDocument:
    path: str
    id: str = ""
    title: str = ""
    handles: list[str] = field(default_factory=list)
    helpdesks: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    guards: dict[str, Any] = field(default_factory=dict)
    engine: str = "auto"
    mode: str = "live"
    variants: list[str] = field(default_factory=list)
    serves: list[str] = field(default_factory=list)
    description: str = ""
    # a building block's arguments and what it leaves for its caller, name -> what it means
    inputs: dict[str, str] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    meta_lines: dict[str, int] = field(default_factory=dict)
    body: str = ""
    body_line: int = 1
    sections: dict[str, Section] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)
    macros: dict[str, Macro] = field(default_factory=dict)
    flow: list[Step] | None = None
    flow_line: int | None = None
    problems: list[Problem] = field(default_factory=list)
    source: str = ""  # the file's text as read: what `version` is the hash of
    version: str = ""  # content hash of `source`; a conversation keeps the version it started on
    commit: str = ""  # the source control commit of this text, where there is one (policies.document.layers)
    origin: str = "built-in"  # the layer it came from (policies.document.layers)
    inherited: dict[str, Macro] = field(default_factory=dict)  # shared replies it uses (not its own)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def building_block(self) -> bool:
        """A part other policies call with `policy:` (#Verify Customer): no ticket type, inputs or results."""
        return not self.handles and bool(self.inputs or self.results)

    def step(self, step_id: str | None) -> Step | None:
        for step in self.flow or ():
            if step.id == step_id:
                return step
        return None

    def next_step(self, step_id: str) -> Step | None:
        steps = self.flow or []
        for index, step in enumerate(steps):
            if step.id == step_id:
                return steps[index + 1] if index + 1 < len(steps) else None
        return None

    def section_text(self, title: str) -> str:
        section = self.sections.get(_section_key(title))
        return section.text if section else ""

    def field_line(self, name: str) -> int:
        return self.meta_lines.get(name, 1)

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))


def macro_name(name: str) -> str:
    """`### Ask Email` and `ask_email` and `ask-email` name the same macro."""
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _section_key(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def read_policy(path: str | Path) -> PolicyDocument:
    path = Path(path)
    try:
        raw = path.read_bytes()[: MAX_POLICY_BYTES + 1]
    except OSError as exc:
        doc = PolicyDocument(path=str(path))
        doc.error(1, f"cannot read file: {exc.strerror or exc}")
        return doc
    if len(raw) > MAX_POLICY_BYTES:
        doc = PolicyDocument(path=str(path))
        doc.error(1, f"file larger than {MAX_POLICY_BYTES} bytes")
        return doc
    return parse_policy(raw.decode("utf-8", errors="replace"), str(path))


def parse_replies(text: str, path: str = "replies.md") -> tuple[dict[str, Macro], list[Problem]]:
    """The shared replies file: a `## Macros` section of `### name` replies, like a policy's."""
    doc = PolicyDocument(path=path)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    _parse_body(doc, lines, 1)
    return doc.macros, doc.problems


def inherit_replies(doc: PolicyDocument, replies: dict[str, Macro]) -> None:
    """Give the policy every shared reply it does not define itself; its version covers them too,
    because what the customer is told changes when one of them does."""
    own = {name: macro for name, macro in doc.macros.items() if name not in doc.inherited}
    doc.inherited = {name: macro for name, macro in replies.items() if name not in own}
    doc.macros = {**doc.inherited, **own}
    shared = "".join(f"\n### {name}\n{m.text}" for name, m in sorted(doc.inherited.items()))
    doc.version = content_version(doc.source + shared)


def content_version(text: str) -> str:
    """A policy text's version: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def parse_policy(text: str, path: str = "<policy>") -> PolicyDocument:
    doc = PolicyDocument(path=path, source=text, version=content_version(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        doc.error(1, "missing front matter: the file must start with a line '---'")
        _parse_body(doc, lines, 1)
        return doc
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        doc.error(1, "front matter is not closed: add a line '---' after it")
        return doc
    _parse_front_matter(doc, "\n".join(lines[1:end]))
    _parse_body(doc, lines[end + 1 :], end + 2)
    return doc


def _parse_front_matter(doc: PolicyDocument, text: str) -> None:
    offset = 1  # front matter content starts on file line 2; YAML marks are 0-based
    try:
        meta = load_yaml_with_lines(text)
    except yaml.YAMLError as exc:
        mark = _error_mark(exc)
        at = mark.line + 1 + offset if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        doc.error(at, f"malformed front matter: {problem}")
        return
    if not isinstance(meta, LineDict):
        doc.error(2, "malformed front matter: expected 'key: value' lines")
        return
    doc.meta_lines = {str(k): v + offset for k, v in meta.lines.items()}

    def line(key: str) -> int:
        return doc.meta_lines.get(key, 1)

    for key in meta:
        if key not in FRONT_MATTER_FIELDS:
            doc.error(
                line(str(key)),
                f"unknown front matter field {key!r} (known: {', '.join(FRONT_MATTER_FIELDS)})",
            )
    for key in ("id", "title"):
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            doc.error(line(key), f"front matter needs '{key}' (a text)")
        else:
            setattr(doc, key, value.strip())
    if doc.id and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", doc.id):
        doc.error(line("id"), f"id {doc.id!r} must be lower-case letters, digits, '-' or '_'")
    doc.handles = [h.lower() for h in _string_list(doc, meta, "handles", required=True)]
    for ticket_type in doc.handles:
        if ticket_type not in LABELS:
            doc.error(line("handles"), f"unknown ticket type {ticket_type!r} (known: {', '.join(LABELS)})")
    doc.helpdesks = _string_list(doc, meta, "helpdesks")
    for helpdesk in doc.helpdesks:
        if helpdesk not in HELPDESKS:
            doc.error(line("helpdesks"), f"unknown helpdesk {helpdesk!r} (known: {', '.join(HELPDESKS)})")
    doc.platforms = [p.lower() for p in _string_list(doc, meta, "platforms")]
    guards = meta.get("guards", {})
    if guards is None:
        guards = {}
    if not isinstance(guards, dict) or any(isinstance(v, dict | list) for v in guards.values()):
        doc.error(line("guards"), "guards must be 'name: value' pairs (e.g. max_discount_percent: 15)")
    else:
        doc.guards = {str(k): v for k, v in guards.items()}
    engine = meta.get("engine", "auto")
    if engine not in ENGINES:
        doc.error(line("engine"), f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    else:
        doc.engine = engine
    mode = meta.get("mode", "live")
    if mode not in MODES:
        doc.error(line("mode"), f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    else:
        doc.mode = mode
    description = meta.get("description")
    doc.description = description.strip() if isinstance(description, str) else ""
    variants, problems = parse_variants(meta.get("variants"))
    doc.variants = list(variants)
    for problem in problems:
        doc.error(line("variants"), problem)
    doc.inputs = _named_texts(doc, meta, "inputs")
    doc.results = _named_texts(doc, meta, "results")
    serves = _string_list(doc, meta, "serves")
    for intent in serves:
        if intent not in INTENTS:
            doc.error(line("serves"), f"unknown request {intent!r} (known: {', '.join(INTENTS)})")
    implied = [i for t in doc.handles for i in SERVES_BY_TYPE.get(t, ())]
    doc.serves = list(dict.fromkeys([*serves, *implied]))


_NAME = re.compile(r"[A-Za-z_]\w*")


def _named_texts(doc: PolicyDocument, meta: dict[str, Any], key: str) -> dict[str, str]:
    """`inputs:` / `results:` as `name: what it means` pairs (a plain list of names is accepted too)."""
    value = meta.get(key)
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = {v: "" for v in value}
    names_ok = isinstance(value, dict) and all(isinstance(k, str) and _NAME.fullmatch(k) for k in value)
    if not names_ok:
        doc.error(doc.meta_lines.get(key, 1), f"'{key}' must be 'name: what it means' pairs")
        return {}
    return {k: str(v or "").strip() for k, v in value.items()}


def _error_mark(exc: yaml.YAMLError) -> Any:
    """Where the broken construct starts (an unclosed '[') rather than where the parser gave up."""
    return getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)


def _string_list(doc: PolicyDocument, meta: dict[str, Any], key: str, *, required: bool = False) -> list[str]:
    value = meta.get(key)
    line = doc.meta_lines.get(key, 1)
    if value is None:
        if required:
            doc.error(line, f"front matter needs '{key}' (a list)")
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        doc.error(line, f"'{key}' must be a list of names")
        return []
    return [v.strip() for v in value]


_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)\s*([\w-]*)\s*$")
_TOOL_RE = re.compile(r"(?<![\w.@])@([A-Za-z][\w-]*)(?:\(([^)\n]*)\))?")
_VAR_RE = re.compile(r"(?<![\w$\\])\$\{?([A-Za-z_]\w*(?:\.\w+)*)")
_POLICY_RE = re.compile(
    r"(?:(?<=\s)|^|(?<=[(\[\"'`]))#"
    r"(?P<ref>[a-z][a-z0-9]*(?:[-_][a-z0-9]+)+|[A-Za-z][\w'&-]*(?: [A-Z0-9][\w'&-]*)*)"
)


def scan_references(text: str, first_line: int) -> list[Reference]:
    """Every @tool, #policy and $variable in free text, with the file line it is on."""
    found: list[Reference] = []
    for number, line in enumerate(text.split("\n"), start=first_line):
        for match in _TOOL_RE.finditer(line):
            found.append(Reference("tool", match.group(1), number, match.group(2)))
        for match in _POLICY_RE.finditer(line):
            found.append(Reference("policy", match.group("ref").strip(), number))
        for match in _VAR_RE.finditer(line):
            found.append(Reference("variable", match.group(1), number))
    return found


_KEEPS_ITS_LINE = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|\$\{?[A-Za-z_][\w.|]*\}?\s*$)")


def unwrap_paragraphs(lines: list[str]) -> str:
    """Macro text as Markdown reads it: a line break inside a paragraph is a space (authors wrap their
    lines), a blank line separates paragraphs, and list items or a lone `$placeholder` keep their line."""
    paragraphs: list[list[str]] = [[]]
    for raw in lines:
        line = raw.strip()
        if not line:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        current = paragraphs[-1]
        if current and not _KEEPS_ITS_LINE.match(line) and not _KEEPS_ITS_LINE.match(current[-1]):
            current[-1] = f"{current[-1]} {line}"
        else:
            current.append(line)
    return "\n\n".join("\n".join(p) for p in paragraphs if p).strip()


def _parse_body(doc: PolicyDocument, lines: list[str], first_line: int) -> None:
    doc.body = "\n".join(lines)
    doc.body_line = first_line
    in_fence = False
    fence_start = 0
    fence_lang = ""
    fence_lines: list[str] = []
    section: Section | None = None
    macro: tuple[str, int, list[str]] | None = None
    prose: list[tuple[int, str]] = []

    def close_macro() -> None:
        nonlocal macro
        if macro is not None:
            name, line, text = macro
            body = unwrap_paragraphs(text)
            if name in doc.macros:
                doc.error(line, f"macro {name!r} is defined twice (first on line {doc.macros[name].line})")
            elif not body:
                doc.error(line, f"macro {name!r} has no text")
            else:
                doc.macros[name] = Macro(name, body, line)
        macro = None

    for number, line in enumerate(lines, start=first_line):
        fence = _FENCE_RE.match(line)
        if in_fence:
            if fence and not fence.group(2):
                in_fence = False
                if section and _section_key(section.title) == "flow" and fence_lang in ("yaml", "yml", ""):
                    if doc.flow is not None:
                        doc.error(fence_start, "a policy has one Flow block; this is a second one")
                    else:
                        _parse_flow(doc, "\n".join(fence_lines), fence_start + 1)
            else:
                fence_lines.append(line)
            continue
        if fence:
            in_fence, fence_start, fence_lang, fence_lines = True, number, fence.group(2).lower(), []
            continue
        heading = _HEADING_RE.match(line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
            close_macro()
            if level <= 2:
                section = Section(title, number, "")
                doc.sections[_section_key(title)] = section
            elif section and _section_key(section.title) == "macros":
                macro = (macro_name(title), number, [])
            continue
        if section is not None:
            section.text += line + "\n"
        if macro is not None:
            macro[2].append(line)
        prose.append((number, line))
    close_macro()
    if in_fence:
        doc.error(fence_start, "code block is not closed: add a line ``` after it")
    for number, line in prose:
        doc.references.extend(scan_references(line, number))
    if doc.engine == "flow" and doc.flow is None and doc.ok:
        doc.error(doc.field_line("engine"), "engine is 'flow' but the policy has no '## Flow' yaml block")


def _parse_flow(doc: PolicyDocument, text: str, first_line: int) -> None:
    """Steps with structure checks; what they point at (tools, macros, steps) is the linter's job."""
    doc.flow_line = first_line
    doc.flow = []
    offset = first_line - 1
    try:
        data = load_yaml_with_lines(text)
    except yaml.YAMLError as exc:
        mark = _error_mark(exc)
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        doc.error(mark.line + 1 + offset if mark else first_line, f"malformed flow: {problem}")
        return
    if isinstance(data, dict) and "steps" in data:
        data = data["steps"]
    if not isinstance(data, list) or not data:
        doc.error(first_line, "the flow must be a list of steps ('- id: ...')")
        return
    seen: dict[str, int] = {}
    for raw in data:
        if not isinstance(raw, LineDict):
            doc.error(first_line, "each flow step must be a mapping like '- id: name'")
            continue
        _shift_lines(raw, offset)
        line = raw.line
        step_id = raw.get("id")
        if not isinstance(step_id, str | int) or isinstance(step_id, bool) or not str(step_id).strip():
            doc.error(line, "flow step without an 'id'")
            continue
        step_id = str(step_id).strip()
        if step_id in seen:
            doc.error(line, f"step id {step_id!r} is used twice (first on line {seen[step_id]})")
            continue
        seen[step_id] = line
        actions = [key for key in raw if key in STEP_ACTIONS]
        if len(actions) != 1:
            what = "no action" if not actions else f"several actions ({', '.join(actions)})"
            doc.error(line, f"step {step_id!r} has {what}: use exactly one of {', '.join(STEP_ACTIONS)}")
            continue
        action = actions[0]
        allowed = {*COMMON_STEP_KEYS, action, *STEP_ACTIONS[action]}
        for key in raw:
            if key not in allowed:
                doc.error(raw.line_of(key), f"step {step_id!r}: '{key}' is not a field of a {action} step")
        doc.flow.append(Step(step_id, action, raw, line))


def _shift_lines(value: Any, offset: int) -> None:
    """Turn block-relative YAML lines into file lines, recursively."""
    if isinstance(value, LineDict):
        value.line += offset
        value.lines = {k: v + offset for k, v in value.lines.items()}
        for item in value.values():
            _shift_lines(item, offset)
    elif isinstance(value, list):
        for item in value:
            _shift_lines(item, offset)
