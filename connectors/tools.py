"""The tool registry: connector functions that policies call as `@tool_name(args)`.

A tool's canonical name joins lower-case words with underscores, platform names included
(`get_shipengine_orders`). References resolve case- and underscore-insensitively, so
`@GetShipEngineOrders`, `@getshipengineorders` and `@get_shipengine_orders` are one tool.
Each tool carries the JSON schema of its arguments (derived from the signature), whether it reads or
writes, the platform it needs and the guards that apply to it. Both engines call tools through
policies.engines.guards.GuardedTools, which checks those guards and then reaches `invoke` through the worker's
port and its action ledger, so they see the same tools under the same rules.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.config import PlatformConfig

ConfigLookup = Callable[[Mapping[str, str]], PlatformConfig | None]


@dataclass(frozen=True)
class Tool:
    name: str
    func: Callable[..., Any]
    description: str
    platform: str
    writes: bool
    guards: tuple[str, ...]
    schema: dict[str, Any]
    # arguments the engine fills from the conversation's context, never the policy: (argument, path)
    from_context: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()  # other names policies may call it by (e.g. seed documents' names)

    @property
    def arguments(self) -> list[str]:
        return list(self.schema["properties"])

    @property
    def policy_schema(self) -> dict[str, Any]:
        """The arguments a policy or a model writes: the schema without those filled from context."""
        filled = {name for name, _ in self.from_context}
        if not filled:
            return self.schema
        return {
            **self.schema,
            "properties": {k: v for k, v in self.schema["properties"].items() if k not in filled},
            "required": [k for k in self.schema.get("required", []) if k not in filled],
        }

    def configured(self, env: Mapping[str, str] = os.environ) -> bool:
        lookup = PLATFORM_CONFIGS.get(self.platform)
        return lookup is None or lookup(env) is not None


PLATFORM_CONFIGS: dict[str, ConfigLookup] = {}


def register_platform(platform: str, lookup: ConfigLookup) -> None:
    """Connector modules declare how to tell whether their platform is configured."""
    PLATFORM_CONFIGS[platform] = lookup


def normalize(reference: str) -> str:
    """`@Get_BigCommerce-Account_Details` -> `getbigcommerceaccountdetails`."""
    return re.sub(r"[^a-z0-9]", "", reference.lower())


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(
        self,
        func: Callable[..., Any],
        *,
        platform: str,
        writes: bool = False,
        guards: tuple[str, ...] = (),
        name: str | None = None,
        from_context: Mapping[str, str] | None = None,
        aliases: tuple[str, ...] = (),
    ) -> Tool:
        tool = Tool(
            name=name or func.__name__,
            func=func,
            description=_description(func),
            platform=platform,
            writes=writes,
            guards=tuple(guards),
            schema=arguments_schema(func),
            from_context=tuple((from_context or {}).items()),
            aliases=tuple(aliases),
        )
        return self.add(tool)

    def add(self, tool: Tool) -> Tool:
        """Register a tool as declared, under its name and its aliases."""
        for key in (normalize(tool.name), *(normalize(a) for a in tool.aliases)):
            if key in self._tools and self._tools[key].func is not tool.func:
                raise ValueError(f"two tools named {tool.name!r}")
            self._tools[key] = tool
        return tool

    def resolve(self, reference: str) -> Tool | None:
        return self._tools.get(normalize(reference.lstrip("@")))

    def all(self) -> list[Tool]:
        unique = {tool.name: tool for tool in self._tools.values()}
        return sorted(unique.values(), key=lambda t: t.name)

    def invoke(self, reference: str, args: Mapping[str, Any]) -> Any:
        """Call a tool with JSON arguments and return a JSON-able result (dataclasses become dicts)."""
        tool = self.resolve(reference)
        if tool is None:
            raise KeyError(f"unknown tool {reference!r}")
        unknown = set(args) - set(tool.arguments)
        if unknown:
            raise TypeError(f"{tool.name} takes no argument(s) {sorted(unknown)}")
        return to_jsonable(tool.func(**args))


REGISTRY = ToolRegistry()


def tool(*, platform: str, **declared: Any):
    """Decorator: register a connector function in the default registry, with what `register` takes:
    writes, guards, name, from_context (arguments the engine fills from the conversation, e.g.
    `{"helpdesk": "ticket.helpdesk"}`, which a policy neither writes nor can override) and aliases."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.register(func, platform=platform, **declared)
        return func

    return decorate


def load_all_tools() -> ToolRegistry:
    """Import every connector module that registers tools, then return the registry."""
    import importlib

    for module in TOOL_MODULES:
        importlib.import_module(module)
    return REGISTRY


# Every connector module that defines tools; importing one registers its tools.
TOOL_MODULES: tuple[str, ...] = (
    "connectors.helpdesk.tools",
    "connectors.helpdesk.builtins",
    "connectors.aftership",
    "connectors.shipengine",
    "connectors.tracking",
    "connectors.bigcommerce",
    "connectors.shopify",
    "connectors.smartrr",
)


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def arguments_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """JSON schema of a function's keyword arguments, from its type hints."""
    hints = typing.get_type_hints(func)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        properties[param.name] = _json_type(hints.get(param.name, str))
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _json_type(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _json_type(options[0]) if len(options) == 1 else {"anyOf": [_json_type(a) for a in options]}
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(hint)
        return {"type": "array", "items": _json_type(args[0]) if args else {}}
    if origin is dict or hint is dict:
        return {"type": "object"}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if hint in simple:
        return {"type": simple[hint]}
    if dataclasses.is_dataclass(hint):
        return {"type": "object"}
    return {}


def _description(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()
