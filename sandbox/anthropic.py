"""The Claude Messages API as the sandbox serves it, so the real anthropic SDK can be tested end to end.

Mounted at /anthropic, so ANTHROPIC_BASE_URL is https://host:port/anthropic and the SDK calls
POST /anthropic/v1/messages. Nothing here is a model: every answer comes from a script a test (or the
demo) posted, so a test never passes by accident. Faithful where a client can get it wrong:
- auth: the API key in `x-api-key` (the documented header) or `Authorization: Bearer` (what recent SDKs
  send); anything else is 401 authentication_error. `anthropic-version` is required (400 without it);
- request validation as the API does it, 400 invalid_request_error with a `path: reason` message:
  model and max_tokens present, roles alternating and starting with user, non-empty content, tool
  definitions (name, input_schema of type object, unique names), tool_choice auto|any|tool|none
  (a named tool must be offered), every tool_use of an assistant turn answered by a tool_result
  in the next user turn (and no tool_result without its tool_use), at most 4 cache_control breakpoints,
  no unknown top-level fields. A model that is not a Claude model id is 404 not_found_error;
- responses {id "msg_...", type "message", role, model, content [text / tool_use with unique
  "toolu_..." ids], stop_reason, stop_sequence null, usage}; `stream: true` is answered as
  server-sent events (message_start, content_block_*, message_delta, message_stop);
- usage counts about four characters per token. Prompt caching: the prefix (tools, then system, then
  messages) up to each block marked cache_control is a cache entry; the first request that shows a
  prefix writes it (cache_creation_input_tokens), later ones read the longest known prefix
  (cache_read_input_tokens) and refresh its lifetime (5 minutes, or 1 hour with ttl "1h"). There is
  no minimum cacheable length here, unlike the API;
- errors {type "error", error {type, message}, request_id} with a `request-id` header on every
  response; 429 rate_limit_error and 529 overloaded_error carry `retry-after` (whole seconds) when the
  script gives one, plus `retry-after-ms` for a fractional wait. Faults injected through /_sandbox/faults
  answer the same way.

Scripting (control API, tests and the demo only; not part of the vendor's API):
    POST   /_sandbox/anthropic/scripts   {"match": "<substring>", "steps": [STEP, ...]}
    GET    /_sandbox/anthropic/scripts   scripts with the steps they have left
    DELETE /_sandbox/anthropic/scripts   clears scripts and the request log
    GET    /_sandbox/anthropic/requests  every request body received, in order (?meta=1: with status,
                                         retry count header and request id)
A request is served by the FIRST script whose `match` occurs in its system prompt or messages and that
has steps left; it consumes that script's next step. STEP is one of
    {"tool_use": {"name", "input"} | [several], "text": "<optional text before it>"}  -> tool_use
    {"text": "<reply>"}                                                                -> end_turn
    {"error": 429|500|529|..., "retry_after": <seconds>, "message": "<optional>"}     -> that error
    {"max_tokens": true, "text": "<optional partial text>"}                          -> max_tokens
No script matches: 400 invalid_request_error "no scripted response". POST /_sandbox/reset clears all.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask.blueprints import BlueprintSetupState

from sandbox.app import sandbox_state, section
from sandbox.state import Fault

PLATFORM = "anthropic"
PREFIX = "/anthropic"
HELPDESK = False

API_KEY = "sandbox-anthropic-key"
CHARS_PER_TOKEN = 4
MAX_CACHE_BREAKPOINTS = 4
CACHE_TTLS = {"5m": 300.0, "1h": 3600.0}
MAX_OUTPUT_TOKENS = 128_000

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    529: "Overloaded",
}
REQUEST_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "tools",
        "tool_choice",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "metadata",
        "thinking",
        "service_tier",
        "container",
        "context_management",
        "mcp_servers",
        "output_config",
        "output_format",
        "inference_geo",
        "cache_control",
        "diagnostics",
        "speed",
        "user_profile_id",
        "workspace_id",
    }
)
BLOCK_TYPES = {
    "user": frozenset({"text", "image", "document", "tool_result", "search_result"}),
    "assistant": frozenset(
        {"text", "tool_use", "thinking", "redacted_thinking", "server_tool_use", "web_search_tool_result"}
    ),
}
MODEL_ID = re.compile(r"^claude-[a-z0-9][a-z0-9.\-@]*$")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")

blueprint = Blueprint(PLATFORM, __name__)


class InvalidRequest(Exception):
    """A request the API would refuse; `status` and `kind` pick the error it answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        self.kind = ERROR_TYPES.get(status, "invalid_request_error")


# ---- the Messages API ---------------------------------------------------------------------------


@blueprint.post("/v1/messages")
def create_message():
    body = request.get_json(silent=True)
    _log_request(body if body is not None else {"_unparsable": request.get_data(as_text=True)[:2000]})
    denied = _unauthorized()
    if denied:
        return denied
    try:
        if not isinstance(body, dict):
            raise InvalidRequest("request body must be a JSON object")
        _validate(body)
        step = _next_step(_haystack(body))
    except InvalidRequest as exc:
        return _error(exc.status, str(exc), kind=exc.kind)
    if step is None:
        return _error(
            400, "no scripted response for this request (sandbox: POST /_sandbox/anthropic/scripts)"
        )
    if "error" in step:
        status = int(step["error"])
        return _error(
            status, step.get("message") or ERROR_MESSAGES.get(status, "error"), step.get("retry_after")
        )
    message = _message(body["model"], step, _cache_usage(body))  # a failed request caches nothing
    if body.get("stream"):
        return _stream(message)
    return _reply(message)


def _unauthorized() -> Response | None:
    bearer = request.headers.get("Authorization", "")
    key = request.headers.get("x-api-key") or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
    if key != API_KEY:
        return _error(401, "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return _error(400, "anthropic-version: header is required")
    return None


def _validate(body: dict[str, Any]) -> None:
    extra = sorted(set(body) - REQUEST_FIELDS)
    if extra:
        raise InvalidRequest(f"{extra[0]}: Extra inputs are not permitted")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            raise InvalidRequest(f"{name}: Field required")
    model, max_tokens = body["model"], body["max_tokens"]
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Input should be a valid string")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise InvalidRequest("max_tokens: Input should be a positive integer")
    if max_tokens > MAX_OUTPUT_TOKENS:
        raise InvalidRequest(f"max_tokens: {max_tokens} > {MAX_OUTPUT_TOKENS}, the maximum allowed")
    if not MODEL_ID.match(model):
        raise InvalidRequest(f"model: {model}", status=404)
    _validate_system(body.get("system"))
    tool_names = _validate_tools(body.get("tools"))
    _validate_tool_choice(body.get("tool_choice"), tool_names, "tools" in body)
    _validate_messages(body["messages"])
    _check_cache_control(body.get("cache_control"), "cache_control")
    for index, block in enumerate(_blocks(body)):
        if isinstance(block, dict):
            _check_cache_control(block.get("cache_control"), f"block {index}: cache_control")
    marks = sum(1 for block in _cacheable(body) if isinstance(block, dict) and block.get("cache_control"))
    if marks > MAX_CACHE_BREAKPOINTS:
        raise InvalidRequest(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found {marks}."
        )


def _check_cache_control(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or value.get("type") != "ephemeral":
        raise InvalidRequest(f"{where}.type: Input should be 'ephemeral'")
    ttl = value.get("ttl", "5m")
    if not isinstance(ttl, str) or ttl not in CACHE_TTLS:
        raise InvalidRequest(f"{where}.ttl: Input should be '5m' or '1h'")


def _validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise InvalidRequest("system: Input should be a valid string or list of text blocks")
    for index, block in enumerate(system):
        if (
            not isinstance(block, dict)
            or block.get("type") != "text"
            or not isinstance(block.get("text"), str)
        ):
            raise InvalidRequest(f"system.{index}: Input should be a text block")
        if not block["text"]:
            raise InvalidRequest(f"system.{index}: text content blocks must be non-empty")


def _validate_tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise InvalidRequest("tools: Input should be a valid list")
    names: set[str] = set()
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise InvalidRequest(f"tools.{index}: Input should be an object")
        if tool.get("type") not in (None, "custom"):
            names.add(str(tool.get("name")))  # server tools (web search, ...) have their own shapes
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise InvalidRequest(
                f"tools.{index}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            )
        if name in names:
            raise InvalidRequest(f"tools: Tool names must be unique. Duplicate: {name}")
        if "description" in tool and not isinstance(tool["description"], str):
            raise InvalidRequest(f"tools.{index}.description: Input should be a valid string")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise InvalidRequest(f"tools.{index}.input_schema: Field required")
        if schema.get("type") != "object":
            raise InvalidRequest(f"tools.{index}.input_schema.type: Input should be 'object'")
        names.add(name)
    return names


def _validate_tool_choice(choice: Any, tool_names: set[str], has_tools: bool) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise InvalidRequest("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if not has_tools and choice["type"] != "none":
        raise InvalidRequest("tool_choice: tool_choice may only be specified while providing tools.")
    if choice["type"] == "tool":
        name = choice.get("name")
        if not isinstance(name, str):
            raise InvalidRequest("tool_choice.tool.name: Field required")
        if name not in tool_names:
            raise InvalidRequest(f"tool_choice.tool.name: Tool '{name}' not found in provided tools")
    if "disable_parallel_tool_use" in choice and not isinstance(choice["disable_parallel_tool_use"], bool):
        raise InvalidRequest(
            f"tool_choice.{choice['type']}.disable_parallel_tool_use: Input should be a boolean"
        )


def _validate_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: at least one message is required")
    pending: list[str] = []  # tool_use ids of the previous assistant turn, to be answered now
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where}: Input should be an object")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: Input should be 'user' or 'assistant'")
        if index == 0 and role != "user":
            raise InvalidRequest('messages: first message must use the "user" role')
        if index and messages[index - 1].get("role") == role:
            raise InvalidRequest(
                f'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        last = index == len(messages) - 1
        blocks = _content_blocks(
            message.get("content"), where, role, allow_empty=last and role == "assistant"
        )
        if role == "user":
            answered = [b.get("tool_use_id") for b in blocks if b["type"] == "tool_result"]
            unexpected = [i for i in answered if i not in pending]
            if unexpected:
                raise InvalidRequest(
                    f"{where}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{unexpected[0]}. Each `tool_result` block must have a corresponding `tool_use` "
                    "block in the previous message."
                )
            missing = [i for i in pending if i not in answered]
            if missing:
                raise InvalidRequest(
                    f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )
            first_other = next((i for i, b in enumerate(blocks) if b["type"] != "tool_result"), len(blocks))
            if any(b["type"] == "tool_result" for b in blocks[first_other:]):
                raise InvalidRequest(
                    f"{where}.content: tool_result blocks must come before any other content"
                )
            pending = []
        else:
            pending = [b["id"] for b in blocks if b["type"] == "tool_use"]
            if len(set(pending)) != len(pending):
                raise InvalidRequest(f"{where}.content: `tool_use` ids must be unique")
            if pending and last:
                pending = []  # a trailing assistant turn is a prefill; nothing answers it in this request


def _content_blocks(content: Any, where: str, role: str, *, allow_empty: bool) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content and not allow_empty:
            raise InvalidRequest(
                f"{where}: all messages must have non-empty content except for the optional final "
                "assistant message"
            )
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or (not content and not allow_empty):
        raise InvalidRequest(f"{where}.content: Input should be a non-empty string or list of content blocks")
    for position, block in enumerate(content):
        here = f"{where}.content.{position}"
        if (
            not isinstance(block, dict)
            or not isinstance(block.get("type"), str)
            or block["type"] not in BLOCK_TYPES[role]
        ):
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise InvalidRequest(f"{here}: block type {kind!r} is not allowed in a {role} message")
        kind = block["type"]
        if kind == "text" and (not isinstance(block.get("text"), str) or not block["text"]):
            raise InvalidRequest(f"{here}: text content blocks must be non-empty")
        if kind == "tool_use" and not (
            isinstance(block.get("id"), str)
            and isinstance(block.get("name"), str)
            and isinstance(block.get("input"), dict)
        ):
            raise InvalidRequest(f"{here}: tool_use blocks need an id, a name and an input object")
        if kind == "tool_result":
            if not isinstance(block.get("tool_use_id"), str):
                raise InvalidRequest(f"{here}.tool_use_id: Field required")
            result = block.get("content", "")
            if not isinstance(result, str | list):
                raise InvalidRequest(f"{here}.content: Input should be a string or a list of content blocks")
    return content


def _blocks(body: dict[str, Any]) -> Iterator[Any]:
    """Every cacheable unit in prompt order: tools, then system blocks, then message blocks."""
    yield from body.get("tools") or []
    system = body.get("system")
    if isinstance(system, str):
        yield {"type": "text", "text": system}
    elif isinstance(system, list):
        yield from system
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            yield {"type": "text", "text": content, "role": message.get("role")}
        elif isinstance(content, list):
            for block in content:
                yield {**block, "role": message.get("role")} if isinstance(block, dict) else block


def _cacheable(body: dict[str, Any]) -> list[Any]:
    """The prompt's blocks with their breakpoints; a top-level cache_control marks the last block."""
    blocks = list(_blocks(body))
    top = body.get("cache_control")
    if top and blocks and isinstance(blocks[-1], dict) and not blocks[-1].get("cache_control"):
        blocks[-1] = {**blocks[-1], "cache_control": top}
    return blocks


# ---- usage and prompt caching -------------------------------------------------------------------


def _tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def _cache_usage(body: dict[str, Any]) -> dict[str, Any]:
    """Input-side usage: what the request's cache_control breakpoints wrote to or read from the cache."""
    blocks = _cacheable(body)
    running, prefix_tokens = 0, []
    digest = hashlib.sha256(str(body["model"]).encode())
    keys = []
    for block in blocks:
        plain = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        running += _tokens(plain)
        prefix_tokens.append(running)
        digest.update(json.dumps(plain, sort_keys=True, ensure_ascii=False).encode())
        keys.append(digest.hexdigest())
    total = running
    marks = [i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")]
    now = time.time()
    with sandbox_state().lock:
        cache: dict[str, float] = section(PLATFORM).setdefault("cache", {})
        hit = next((i for i in reversed(marks) if cache.get(keys[i], 0) > now), None)
        read = prefix_tokens[hit] if hit is not None else 0
        written = prefix_tokens[marks[-1]] - read if marks and (hit is None or marks[-1] > hit) else 0
        written_1h = 0
        for i in marks:
            ttl_name = (blocks[i].get("cache_control") or {}).get("ttl", "5m")
            ttl = CACHE_TTLS.get(ttl_name, CACHE_TTLS["5m"])
            if ttl_name == "1h" and i == marks[-1]:
                written_1h = written
            cache[keys[i]] = max(cache.get(keys[i], 0), now + ttl)
    return {
        "input_tokens": total - read - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": written - written_1h,
            "ephemeral_1h_input_tokens": written_1h,
        },
    }


# ---- scripts ------------------------------------------------------------------------------------


def _haystack(body: dict[str, Any]) -> str:
    """The text a script's `match` is looked for in: the system prompt and the messages, both as
    plain text and as JSON (so a match can name a tool_use input or a tool_result)."""
    parts = [
        json.dumps(body.get("system"), ensure_ascii=False),
        json.dumps(body["messages"], ensure_ascii=False),
    ]
    system = body.get("system")
    parts.append(system if isinstance(system, str) else " ".join(_texts(system)))
    parts.extend(_texts(body["messages"]))
    return "\n".join(parts)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("type", "id", "tool_use_id", "cache_control", "role"):
                yield from _texts(item)


def _next_step(haystack: str) -> dict[str, Any] | None:
    with sandbox_state().lock:
        for script in section(PLATFORM).setdefault("scripts", []):
            if script["steps"] and script["match"] in haystack:
                return script["steps"].pop(0)
    return None


def _check_step(step: Any) -> str | None:
    """Why a posted step cannot be served, or None when it can."""
    if not isinstance(step, dict):
        return "a step must be an object"
    if "error" in step:
        if not isinstance(step["error"], int) or not 400 <= step["error"] <= 599:
            return "error must be an HTTP status from 400 to 599"
        wait = step.get("retry_after")
        if wait is not None and (isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0):
            return "retry_after must be a number of seconds"
        return None
    if "tool_use" in step:
        calls = step["tool_use"] if isinstance(step["tool_use"], list) else [step["tool_use"]]
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                return "tool_use needs a name"
            if not isinstance(call.get("input", {}), dict):
                return "tool_use input must be an object"
        return None
    if step.get("max_tokens") is True or isinstance(step.get("text"), str):
        return None
    return "a step needs one of tool_use, text, error or max_tokens"


def _message(model: str, step: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if step.get("text"):
        content.append({"type": "text", "text": step["text"]})
    stop_reason = "end_turn"
    if step.get("max_tokens") is True:
        stop_reason = "max_tokens"
    elif "tool_use" in step:
        calls = step["tool_use"] if isinstance(step["tool_use"], list) else [step["tool_use"]]
        for call in calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:24]}",
                    "name": call["name"],
                    "input": copy.deepcopy(call.get("input", {})),
                }
            )
        stop_reason = "tool_use"
    output = sum(_tokens(block.get("text") or block.get("input") or "") for block in content) or 1
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": output, "service_tier": "standard"},
    }


# ---- responses ----------------------------------------------------------------------------------


def _request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"


def _reply(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.headers["request-id"] = _request_id()
    _note_status(200, response.headers["request-id"])
    return response


def _error(
    status: int, message: str, retry_after: float | None = None, *, kind: str | None = None
) -> Response:
    request_id = _request_id()
    response = jsonify(
        {
            "type": "error",
            "error": {"type": kind or ERROR_TYPES.get(status, "api_error"), "message": message},
            "request_id": request_id,
        }
    )
    response.status_code = status
    response.headers["request-id"] = request_id
    if retry_after is not None:
        seconds = max(0.0, float(retry_after))
        response.headers["retry-after"] = str(math.ceil(seconds))
        if seconds != int(seconds):  # sub-second waits (fast tests): the SDK reads retry-after-ms first
            response.headers["retry-after-ms"] = str(round(seconds * 1000))
    _note_status(status, request_id)
    return response


def _stream(message: dict[str, Any]) -> Response:
    """The same message as server-sent events, in the order the API sends them."""

    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    def events() -> Iterator[str]:
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**message["usage"], "output_tokens": 1},
        }
        yield event("message_start", {"message": start})
        yield event("ping", {})
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                yield event(
                    "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
                )
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                opening = {**block, "input": {}}
                yield event("content_block_start", {"index": index, "content_block": opening})
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            yield event("content_block_delta", {"index": index, "delta": delta})
            yield event("content_block_stop", {"index": index})
        yield event(
            "message_delta",
            {
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
        yield event("message_stop", {})

    request_id = _request_id()
    _note_status(200, request_id)
    return Response(events(), mimetype="text/event-stream", headers={"request-id": request_id})


def _log_request(body: Any) -> None:
    entry = {
        "body": copy.deepcopy(body),
        "path": request.path,
        "retry_count": request.headers.get("x-stainless-retry-count"),
        "at": time.time(),
        "status": None,
        "request_id": None,
    }
    with sandbox_state().lock:
        section(PLATFORM).setdefault("requests", []).append(entry)
    g.anthropic_request = entry


def _note_status(status: int, request_id: str) -> None:
    """The answer a logged request got, for tests that count retries and failures."""
    entry = g.get("anthropic_request")
    if entry is not None:
        with sandbox_state().lock:
            entry.update(status=status, request_id=request_id)


def fault_response(fault: Fault) -> Response:
    """Faults injected through /_sandbox/faults: the API's own error body, `retry-after` when given."""
    _log_request(request.get_json(silent=True))
    status = fault.status
    if fault.body is not None:
        response = jsonify(fault.body)
        response.status_code = status
        response.headers["request-id"] = _request_id()
        _note_status(status, response.headers["request-id"])
        return response
    retry_after = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
    return _error(status, ERROR_MESSAGES.get(status, "Injected fault"), retry_after)


OPT_IN = True  # not in the default sandbox env: a key would switch the demo and the stack to Claude


def client_env(base_url: str) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": f"{base_url}{PREFIX}"}


def seed(data: dict[str, Any]) -> None:
    data.clear()
    data.update(scripts=[], requests=[], cache={})


# ---- control API (tests and demo only) ----------------------------------------------------------


def _add_script():
    spec = request.get_json(silent=True)
    if not isinstance(spec, dict) or not isinstance(spec.get("match"), str):
        return {"error": "body must be {match: string, steps: [step, ...]}"}, 400
    steps = spec.get("steps")
    if not isinstance(steps, list) or not steps:
        return {"error": "steps must be a non-empty list"}, 400
    for index, step in enumerate(steps):
        problem = _check_step(step)
        if problem:
            return {"error": f"steps.{index}: {problem}"}, 400
    with sandbox_state().lock:
        scripts = section(PLATFORM).setdefault("scripts", [])
        scripts.append({"match": spec["match"], "steps": copy.deepcopy(steps)})
        return {"ok": True, "script": len(scripts) - 1}, 201


def _list_scripts():
    with sandbox_state().lock:
        return jsonify(copy.deepcopy(section(PLATFORM).get("scripts", [])))


def _clear_scripts():
    with sandbox_state().lock:
        data = section(PLATFORM)
        data["scripts"] = []
        data["requests"] = []
    return {"ok": True}


def _list_requests():
    with sandbox_state().lock:
        log = copy.deepcopy(section(PLATFORM).get("requests", []))
    if request.args.get("meta"):
        return jsonify(log)
    return jsonify([entry["body"] for entry in log])


@blueprint.record_once
def _register_control_api(setup: BlueprintSetupState) -> None:
    """The control routes live under /_sandbox like every other platform's, not under this blueprint's
    prefix, so they are added to the app itself when the blueprint is registered."""
    app = setup.app
    base = f"/_sandbox/{PLATFORM}"
    app.add_url_rule(f"{base}/scripts", "anthropic_add_script", _add_script, methods=["POST"])
    app.add_url_rule(f"{base}/scripts", "anthropic_list_scripts", _list_scripts, methods=["GET"])
    app.add_url_rule(f"{base}/scripts", "anthropic_clear_scripts", _clear_scripts, methods=["DELETE"])
    app.add_url_rule(f"{base}/requests", "anthropic_requests", _list_requests, methods=["GET"])
