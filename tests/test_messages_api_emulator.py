"""The sandbox's Messages API, driven by the real anthropic SDK over HTTPS: what the agent and the
classifiers rely on (tool loops, errors as the SDK's exception types, retries, prompt-cache usage)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
import requests

from connectors.claude import claude_client

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

MODEL = "claude-sonnet-4-6"
LOOKUP_TOOL = {
    "name": "get_order_status",
    "description": "Look up an order's status by its number.",
    "input_schema": {
        "type": "object",
        "properties": {"order_number": {"type": "string"}},
        "required": ["order_number"],
    },
}


def script(api: requests.Session, match: str, *steps: dict[str, Any]) -> None:
    api.post(f"{api.base_url}/_sandbox/anthropic/scripts", json={"match": match, "steps": list(steps)})
    response = api.get(f"{api.base_url}/_sandbox/anthropic/scripts")
    assert any(s["match"] == match for s in response.json())


def received(api: requests.Session) -> list[dict[str, Any]]:
    """Every request the server saw, with the status it answered and the SDK's retry-count header."""
    return api.get(f"{api.base_url}/_sandbox/anthropic/requests", params={"meta": 1}).json()


@pytest.fixture
def client(sandbox, sandbox_api) -> anthropic.Anthropic:
    """The SDK with its own retries off, so each test sees exactly the requests it makes."""
    made = claude_client(sandbox.env(claude=True), max_retries=0)
    assert made is not None
    return made


def ask(client: anthropic.Anthropic, text: str, **extra: Any) -> anthropic.types.Message:
    return client.messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": text}], **extra
    )


def test_text_reply_has_the_message_shape(client, sandbox_api):
    script(sandbox_api, "opening hours", {"text": "We answer every day from 9 to 5."})

    message = ask(client, "What are your opening hours?", system="You are a shop assistant.")

    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert [(b.type, b.text) for b in message.content] == [("text", "We answer every day from 9 to 5.")]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_creation_input_tokens == 0 and message.usage.cache_read_input_tokens == 0
    [seen] = received(sandbox_api)
    assert seen["body"]["system"] == "You are a shop assistant."
    assert seen["status"] == 200 and seen["request_id"].startswith("req_")


def test_tool_loop_with_tool_results(client, sandbox_api):
    script(
        sandbox_api,
        "where is order 1043",
        {
            "text": "Let me look that up.",
            "tool_use": {"name": "get_order_status", "input": {"order_number": "1043"}},
        },
        {"text": "Order 1043 is in transit and arrives Friday."},
    )
    history: list[dict[str, Any]] = [{"role": "user", "content": "Hi, where is order 1043?"}]

    first = client.messages.create(model=MODEL, max_tokens=256, tools=[LOOKUP_TOOL], messages=history)
    assert first.stop_reason == "tool_use"
    text, call = first.content
    assert text.type == "text" and call.type == "tool_use"
    assert call.id.startswith("toolu_") and call.name == "get_order_status"
    assert call.input == {"order_number": "1043"}

    history += [
        first.to_param(),
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": '{"status": "in_transit"}'}
            ],
        },
    ]
    second = client.messages.create(model=MODEL, max_tokens=256, tools=[LOOKUP_TOOL], messages=history)

    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "Order 1043 is in transit and arrives Friday."
    bodies = [r["body"] for r in received(sandbox_api)]
    assert bodies[1]["messages"][2]["content"][0]["tool_use_id"] == call.id


def test_parallel_tool_uses_get_unique_ids(client, sandbox_api):
    script(
        sandbox_api,
        "two orders",
        {
            "tool_use": [
                {"name": "get_order_status", "input": {"order_number": "1"}},
                {"name": "get_order_status", "input": {"order_number": "2"}},
            ]
        },
    )

    message = ask(client, "check my two orders", tools=[LOOKUP_TOOL])

    ids = [block.id for block in message.content]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_tool_results_must_answer_the_previous_tool_uses(client, sandbox_api):
    script(sandbox_api, "order 7", {"tool_use": {"name": "get_order_status", "input": {"order_number": "7"}}})
    first = ask(client, "order 7 please", tools=[LOOKUP_TOOL])
    turn = first.to_param()

    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use_id`"):
        client.messages.create(
            model=MODEL,
            max_tokens=256,
            tools=[LOOKUP_TOOL],
            messages=[
                {"role": "user", "content": "order 7 please"},
                turn,
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "?"}],
                },
            ],
        )
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result`"):
        client.messages.create(
            model=MODEL,
            max_tokens=256,
            tools=[LOOKUP_TOOL],
            messages=[
                {"role": "user", "content": "order 7 please"},
                turn,
                {"role": "user", "content": "well?"},
            ],
        )


@pytest.mark.parametrize(
    ("messages", "extra", "expected"),
    [
        ([{"role": "assistant", "content": "hi"}], {}, "first message"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}, "alternate"),
        ([{"role": "user", "content": ""}], {}, "non-empty"),
        ([{"role": "user", "content": "x"}], {"tool_choice": {"type": "tool", "name": "nope"}}, "not found"),
        (
            [{"role": "user", "content": "x"}],
            {"tools": [{"name": "bad name!", "input_schema": {}}]},
            "pattern",
        ),
    ],
)
def test_invalid_requests_are_refused_like_the_api(client, sandbox_api, messages, extra, expected):
    script(sandbox_api, "", {"text": "must not be served"})
    if "tool_choice" in extra:
        extra = {**extra, "tools": [LOOKUP_TOOL]}

    with pytest.raises(anthropic.BadRequestError, match=expected) as caught:
        client.messages.create(model=MODEL, max_tokens=64, messages=messages, **extra)

    assert caught.value.type == "invalid_request_error"
    assert sandbox_api.get(f"{sandbox_api.base_url}/_sandbox/anthropic/scripts").json()[0]["steps"]


def test_headers_and_body_are_checked_for_raw_clients(sandbox, sandbox_api):
    url = f"{sandbox.url}/anthropic/v1/messages"
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    key = sandbox.env(claude=True)["ANTHROPIC_API_KEY"]

    no_version = sandbox_api.post(url, json=body, headers={"x-api-key": key})
    missing = sandbox_api.post(
        url,
        json={"model": MODEL, "messages": body["messages"]},
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
    )
    garbage = sandbox_api.post(
        url, data="{not json", headers={"x-api-key": key, "anthropic-version": "2023-06-01"}
    )

    assert no_version.status_code == 400 and "anthropic-version" in no_version.json()["error"]["message"]
    assert missing.status_code == 400 and missing.json()["error"]["message"] == "max_tokens: Field required"
    assert garbage.status_code == 400 and garbage.json()["type"] == "error"
    assert all(r.headers["request-id"].startswith("req_") for r in (no_version, missing, garbage))


def test_wrong_key_and_unknown_model(sandbox, sandbox_api):
    env = {**sandbox.env(claude=True), "ANTHROPIC_API_KEY": "sk-ant-wrong"}
    wrong = claude_client(env)
    assert wrong is not None
    with pytest.raises(anthropic.AuthenticationError) as caught:
        ask(wrong, "hello")
    assert caught.value.type == "authentication_error"

    right = claude_client(sandbox.env(claude=True))
    assert right is not None
    with pytest.raises(anthropic.NotFoundError):
        right.messages.create(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "x"}])


def test_no_matching_script_is_a_400_so_nothing_passes_by_accident(client, sandbox_api):
    script(sandbox_api, "something else entirely", {"text": "not for you"})

    with pytest.raises(anthropic.BadRequestError, match="no scripted response") as caught:
        ask(client, "hello")

    assert caught.value.request_id and caught.value.request_id.startswith("req_")


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_scripted_errors_surface_as_the_sdk_exception_types(
    client, sandbox_api, status, error_class, error_type
):
    script(sandbox_api, "boom", {"error": status, "retry_after": 7})

    with pytest.raises(error_class) as caught:
        ask(client, "boom")

    assert caught.value.status_code == status
    assert caught.value.type == error_type
    assert caught.value.response.headers["retry-after"] == "7"


def test_the_sdks_own_retries_reach_the_server(sandbox, sandbox_api):
    retrying = claude_client(sandbox.env(claude=True), max_retries=2)
    assert retrying is not None
    script(
        sandbox_api,
        "flaky",
        {"error": 529, "retry_after": 0.01},
        {"error": 429, "retry_after": 0.01},
        {"text": "third time lucky"},
    )

    message = ask(retrying, "flaky service?")

    assert message.content[0].text == "third time lucky"
    seen = received(sandbox_api)
    assert [r["status"] for r in seen] == [529, 429, 200]
    assert [r["retry_count"] for r in seen] == ["0", "1", "2"]


def test_the_sdk_gives_up_when_its_retries_are_spent(sandbox, sandbox_api):
    retrying = claude_client(sandbox.env(claude=True), max_retries=1)
    assert retrying is not None
    script(sandbox_api, "down", *[{"error": 529, "retry_after": 0.01}] * 3)

    with pytest.raises(anthropic.OverloadedError):
        ask(retrying, "down again")

    assert len(received(sandbox_api)) == 2


def test_injected_faults_answer_like_the_api(client, sandbox_api):
    sandbox_api.post(
        f"{sandbox_api.base_url}/_sandbox/faults", json={"platform": "anthropic", "status": 529}
    ).raise_for_status()

    with pytest.raises(anthropic.OverloadedError):
        ask(client, "anything")

    assert [r["status"] for r in received(sandbox_api)] == [529]


def test_prompt_cache_is_written_once_then_read(client, sandbox_api):
    script(sandbox_api, "cache me", *[{"text": "ok"}] * 3)
    policy = [
        {
            "type": "text",
            "text": "Refund policy: " + "be kind. " * 300,
            "cache_control": {"type": "ephemeral"},
        }
    ]

    first = ask(client, "cache me once", system=policy, tools=[LOOKUP_TOOL])
    second = ask(client, "cache me twice", system=policy, tools=[LOOKUP_TOOL])
    other = ask(
        client,
        "cache me thrice",
        system=[{**policy[0], "text": "Another policy. " * 300}],
        tools=[LOOKUP_TOOL],
    )

    assert first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens < first.usage.cache_creation_input_tokens
    assert other.usage.cache_read_input_tokens == 0 and other.usage.cache_creation_input_tokens > 0
    assert received(sandbox_api)[0]["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_more_than_four_cache_breakpoints_are_refused(client, sandbox_api):
    script(sandbox_api, "", {"text": "unused"})
    marked = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]

    with pytest.raises(anthropic.BadRequestError, match="maximum of 4"):
        ask(client, "hi", system=marked)


def test_max_tokens_stop(client, sandbox_api):
    script(sandbox_api, "long story", {"max_tokens": True, "text": "Once upon a"})

    message = ask(client, "tell me a long story")

    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == "Once upon a"


def test_streaming_gives_the_same_message(client, sandbox_api):
    script(
        sandbox_api,
        "stream it",
        {"text": "Checking.", "tool_use": {"name": "get_order_status", "input": {"order_number": "9"}}},
    )

    with client.messages.stream(
        model=MODEL, max_tokens=256, tools=[LOOKUP_TOOL], messages=[{"role": "user", "content": "stream it"}]
    ) as stream:
        message = stream.get_final_message()

    assert message.stop_reason == "tool_use"
    assert message.content[0].text == "Checking."
    assert message.content[1].input == {"order_number": "9"}


def test_scripts_are_consumed_in_order_and_cleared(client, sandbox_api):
    script(sandbox_api, "ticket", {"text": "first"})
    script(sandbox_api, "ticket", {"text": "second"})

    replies = [ask(client, "ticket here").content[0].text for _ in range(2)]
    sandbox_api.delete(f"{sandbox_api.base_url}/_sandbox/anthropic/scripts").raise_for_status()

    assert replies == ["first", "second"]
    assert received(sandbox_api) == []
    with pytest.raises(anthropic.BadRequestError):
        ask(client, "ticket here")


def test_bad_scripts_are_refused(sandbox_api):
    url = f"{sandbox_api.base_url}/_sandbox/anthropic/scripts"

    assert sandbox_api.post(url, json={"match": "x", "steps": []}).status_code == 400
    assert sandbox_api.post(url, json={"match": "x", "steps": [{"nonsense": 1}]}).status_code == 400
    assert sandbox_api.post(url, data="not json").status_code == 400
