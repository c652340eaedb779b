"""The official `openai` SDK, pointed at the fake LLM server, works unchanged: completions plain and
streamed, tool calls assembled from a stream, usage, models, each refusal as the SDK's own exception,
and its retries waiting what `retry-after-ms` / `retry-after` said."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from mocks.llm import FakeLLM, ToolCall, Turn

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

MODEL = "gpt-4o-mini"
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
    for name in ("run_command", "read_file", "write_file", "finish")
]
WRITE = ToolCall("write_file", {"path": "notes.md", "content": "# Notes\n\nSome text that spans chunks.\n"})
RUN = ToolCall("run_command", {"command": "git status --short", "cwd": "/home/user/repo"})


def opening(marker: str) -> list[Any]:
    return [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": f"Task {marker}: tidy the notes"},
    ]


@pytest.fixture
def sdk(llm_url: str, llm_api_key: str) -> Iterator[OpenAI]:
    """An SDK client of the fake that does not retry (the retry tests make their own)."""
    with OpenAI(base_url=f"{llm_url}/v1", api_key=llm_api_key, max_retries=0) as client:
        yield client


# -- answers ------------------------------------------------------------------------------------------
def test_a_plain_completion(sdk: OpenAI, fake_llm: FakeLLM) -> None:
    fake_llm.script("s-1", [Turn.say("Hello from the fake")])

    completion = sdk.chat.completions.create(model=MODEL, messages=opening("s-1"))

    choice = completion.choices[0]
    assert (choice.message.role, choice.message.content, choice.finish_reason) == (
        "assistant",
        "Hello from the fake",
        "stop",
    )
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 5  # 19 characters
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 5
    assert completion._request_id is not None and completion._request_id.startswith("req_")


def test_a_streamed_completion(sdk: OpenAI, fake_llm: FakeLLM) -> None:
    fake_llm.script("s-2", [Turn.say("Streaming, one token at a time.")])

    chunks = list(sdk.chat.completions.create(model=MODEL, messages=opening("s-2"), stream=True))

    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "Streaming, one token at a time."
    assert [chunk.choices[0].finish_reason for chunk in chunks][-1] == "stop"
    assert len({chunk.id for chunk in chunks}) == 1


def test_tool_calls_are_assembled_from_a_stream_by_the_sdks_stream_helper(sdk: OpenAI, fake_llm: FakeLLM) -> None:
    fake_llm.script("s-3", [Turn.calls(WRITE, RUN)])

    with sdk.chat.completions.stream(model=MODEL, messages=opening("s-3"), tools=TOOLS) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()

    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(call.function.name, json.loads(call.function.arguments)) for call in message.tool_calls or []] == [
        ("write_file", WRITE.arguments),
        ("run_command", RUN.arguments),
    ]
    assert kinds.count("tool_calls.function.arguments.done") == 2
    assert kinds.count("tool_calls.function.arguments.delta") > 10, "arguments arrive in many pieces"


def test_stream_options_include_usage_ends_the_stream_with_the_usage(sdk: OpenAI, fake_llm: FakeLLM) -> None:
    fake_llm.script("s-4", [Turn.say("Counted.")])

    chunks = list(
        sdk.chat.completions.create(
            model=MODEL, messages=opening("s-4"), stream=True, stream_options={"include_usage": True}
        )
    )

    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 2


def test_models_are_listed_and_retrieved(sdk: OpenAI) -> None:
    listed = [model.id for model in sdk.models.list()]
    retrieved = sdk.models.retrieve("gpt-4o")

    assert {"gpt-4o-mini", "gpt-4o"} <= set(listed)
    assert (retrieved.id, retrieved.object) == ("gpt-4o", "model")


async def test_the_async_client_streams_a_tool_call(llm_url: str, llm_api_key: str, fake_llm: FakeLLM) -> None:
    fake_llm.script("s-5", [Turn.calls(RUN, content="Checking first.")])
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    text = []

    async with AsyncOpenAI(base_url=f"{llm_url}/v1", api_key=llm_api_key, max_retries=0) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=opening("s-5"), tools=TOOLS, stream=True)
        async for chunk in stream:
            delta = chunk.choices[0].delta
            text.append(delta.content or "")
            for call in delta.tool_calls or []:
                if call.function and call.function.name:
                    names[call.index] = call.function.name
                arguments[call.index] = arguments.get(call.index, "") + (
                    call.function and call.function.arguments or ""
                )

    assert "".join(text) == "Checking first."
    assert (names, {index: json.loads(value) for index, value in arguments.items()}) == (
        {0: "run_command"},
        {0: RUN.arguments},
    )


# -- refusals as the SDK's exceptions -----------------------------------------------------------------
def test_an_unknown_key_raises_authentication_error(llm_url: str, fake_llm: FakeLLM) -> None:
    with OpenAI(base_url=f"{llm_url}/v1", api_key="sk-not-a-key-of-the-fake", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            client.chat.completions.create(model=MODEL, messages=opening("s-6"))

    assert (raised.value.status_code, raised.value.code) == (401, "invalid_api_key")


def test_an_unknown_model_raises_not_found_error(sdk: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.chat.completions.create(model="gpt-17", messages=opening("s-7"))

    assert raised.value.code == "model_not_found"


def test_a_prompt_over_the_context_window_raises_bad_request_error(sdk: OpenAI, fake_llm: FakeLLM) -> None:
    fake_llm.add_model("tiny-model", context_window=16)

    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="tiny-model", messages=opening("s-8"))

    assert (raised.value.code, raised.value.param, raised.value.type) == (
        "context_length_exceeded",
        "messages",
        "invalid_request_error",
    )


def test_an_invalid_message_raises_bad_request_error(sdk: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "bot", "content": "hi"}])

    assert (raised.value.code, raised.value.param) == ("invalid_value", "messages[0].role")


def test_a_rate_limit_raises_rate_limit_error(sdk: OpenAI, fake_llm: FakeLLM) -> None:
    fake_llm.set_rate_limits(requests_per_minute=1)
    sdk.chat.completions.create(model=MODEL, messages=opening("s-9"))

    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model=MODEL, messages=opening("s-9"))

    assert (raised.value.code, raised.value.type) == ("rate_limit_exceeded", "requests")
    assert raised.value.response.headers["retry-after"] == "60"


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_raise_internal_server_error(sdk: OpenAI, fake_llm: FakeLLM, status: int) -> None:
    fake_llm.add_fault("create_chat_completion", status, times=1)

    with pytest.raises(openai.InternalServerError) as raised:
        sdk.chat.completions.create(model=MODEL, messages=opening("s-10"))

    assert (raised.value.status_code, raised.value.type) == (status, "server_error")


# -- retries ------------------------------------------------------------------------------------------
def waits_between_tries(fake: FakeLLM) -> tuple[list[int | None], list[float]]:
    entries = fake.requests("create_chat_completion")
    return [entry.status for entry in entries], [
        later.at - earlier.at for earlier, later in zip(entries, entries[1:], strict=False)
    ]


def test_the_sdk_retries_a_429_after_the_retry_after_ms_it_was_given(
    llm_url: str, llm_api_key: str, fake_llm: FakeLLM
) -> None:
    """1.2 s: the SDK's own first backoff (0.5 s less up to 25% jitter) would be far shorter."""
    fake_llm.add_fault("create_chat_completion", 429, times=1, headers={"retry-after-ms": "1200"})

    with OpenAI(base_url=f"{llm_url}/v1", api_key=llm_api_key, max_retries=2) as client:
        completion = client.chat.completions.create(model=MODEL, messages=opening("s-11"))

    statuses, waits = waits_between_tries(fake_llm)
    assert completion.choices[0].finish_reason == "stop"
    assert statuses == [429, 200]
    assert 1.2 <= waits[0] < 1.7, f"the retry came {waits[0]:.3f}s after the 429"


def test_the_sdk_retries_a_scripted_503_after_the_retry_after_seconds_it_was_given(
    llm_url: str, llm_api_key: str, fake_llm: FakeLLM
) -> None:
    fake_llm.script("s-12", [Turn.fail(503, headers={"retry-after": "1"}), Turn.say("back")])

    with OpenAI(base_url=f"{llm_url}/v1", api_key=llm_api_key, max_retries=2) as client:
        completion = client.chat.completions.create(model=MODEL, messages=opening("s-12"))

    statuses, waits = waits_between_tries(fake_llm)
    assert completion.choices[0].message.content == "back"
    assert statuses == [503, 200]
    assert 1.0 <= waits[0] < 1.5, f"the retry came {waits[0]:.3f}s after the 503"


def test_the_sdk_gives_up_after_its_max_retries(llm_url: str, llm_api_key: str, fake_llm: FakeLLM) -> None:
    fake_llm.add_fault("create_chat_completion", 500, headers={"retry-after-ms": "10"})

    with OpenAI(base_url=f"{llm_url}/v1", api_key=llm_api_key, max_retries=2) as client:
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model=MODEL, messages=opening("s-13"))

    assert waits_between_tries(fake_llm)[0] == [500, 500, 500]
