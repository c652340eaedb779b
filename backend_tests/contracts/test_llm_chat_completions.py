"""The fake LLM on the wire, as OpenAI answers: chat completions plain and streamed, tool calls, usage,
headers, models, and OpenAI's refusals (bodies, statuses, `param` and `code`).

Every answer is also checked against OpenAI's official description by the suite's observer
(fixtures/openapi_contract.py), stream chunks one by one.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import httpx
import pytest
import respx

from fixtures import http
from fixtures.openapi_contract import event_stream_data
from mocks.llm import FakeLLM, ToolCall, Turn
from mocks.llm.router import LLM_API_URL, llm_router

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

MODEL = "gpt-4o-mini"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The platform's {name}",
            "parameters": {"type": "object", "properties": {key: {"type": "string"} for key in keys}},
        },
    }
    for name, keys in (
        ("run_command", ["command", "cwd"]),
        ("read_file", ["path"]),
        ("write_file", ["path", "content"]),
        ("finish", ["summary"]),
    )
]
WRITE = ToolCall("write_file", {"path": "src/calc.py", "content": "def add(a, b):\n    return a + b\n"})
RUN = ToolCall("run_command", {"command": "python -m pytest -q"})


def prompt(marker: str, text: str = "Make the tests pass") -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": f"{marker}: {text}"},
    ]


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """The chunks of a streamed answer, after checking it ends with `data: [DONE]`."""
    datas = event_stream_data(response.text)
    assert datas and datas[-1] == "[DONE]", f"the stream does not end with [DONE]: {response.text[-200:]!r}"
    return [json.loads(data) for data in datas[:-1]]


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]


async def complete(llm_api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await llm_api.post("/chat/completions", json={"model": MODEL, **body})


# -- answers ------------------------------------------------------------------------------------------
async def test_a_plain_completion_is_openais_chat_completion_object(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script("task-1", [Turn.say("Hello there")])

    response = await complete(llm_api, messages=prompt("task-1"))

    body = response.json()
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", body["id"]), body["id"]
    assert (body["object"], body["model"]) == ("chat.completion", MODEL)
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]


async def test_usage_follows_the_documented_token_rule(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    """4 characters a token; 3 to prime the reply and 3 of framing per message; tools by their JSON."""
    fake_llm.script("abcd", [Turn.say("first turn"), Turn.say("x" * 10)])  # the request is at turn 2
    messages = [
        {"role": "system", "content": "abcd" * 5},  # 20 characters: 5 tokens
        {"role": "user", "content": [{"type": "text", "text": "abcd" * 2}, {"type": "text", "text": "a"}]},  # 9: 3
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "fn", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},  # 2 characters: 1 token
    ]
    tools_json = json.dumps(TOOLS, separators=(",", ":"), sort_keys=True)

    response = await complete(llm_api, messages=messages, tools=TOOLS)

    expected_prompt = 3 + (3 + 5) + (3 + 3) + (3 + 1) + (3 + 1) + math.ceil(len(tools_json) / 4)  # "fn{}": 1 token
    assert response.json()["usage"] == {
        "prompt_tokens": expected_prompt,
        "completion_tokens": 3,  # 10 characters
        "total_tokens": expected_prompt + 3,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


async def test_tool_calls_are_answered_with_finish_reason_tool_calls(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script("task-2", [Turn.calls(WRITE, RUN)])

    response = await complete(llm_api, messages=prompt("task-2"), tools=TOOLS)

    choice = response.json()["choices"][0]
    calls = choice["message"]["tool_calls"]
    assert (choice["finish_reason"], choice["message"]["content"]) == ("tool_calls", None)
    assert [(call["type"], call["function"]["name"], json.loads(call["function"]["arguments"])) for call in calls] == [
        ("function", "write_file", WRITE.arguments),
        ("function", "run_command", RUN.arguments),
    ]
    assert all(re.fullmatch(r"call_[0-9a-f]{24}", call["id"]) for call in calls) and calls[0]["id"] != calls[1]["id"]
    usage = response.json()["usage"]
    assert usage["completion_tokens"] == sum(
        math.ceil(len(call["function"]["name"]) / 4) + math.ceil(len(call["function"]["arguments"]) / 4)
        for call in calls
    )


async def test_a_stream_sends_the_role_then_a_token_a_chunk_then_the_finish_then_done(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script("task-3", [Turn.say("Hello world!")])

    response = await complete(llm_api, messages=prompt("task-3"), stream=True)

    chunks = events(response)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.text.startswith("data: {") and response.text.endswith("\n\ndata: [DONE]\n\n")
    assert deltas(chunks) == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "Hell"},
        {"content": "o wo"},
        {"content": "rld!"},
        {},
    ]
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks] == [None, None, None, None, "stop"]
    assert {(chunk["id"], chunk["created"], chunk["model"], chunk["object"]) for chunk in chunks} == {
        (chunks[0]["id"], chunks[0]["created"], MODEL, "chat.completion.chunk")
    }
    assert all("usage" not in chunk for chunk in chunks), "usage only comes with stream_options.include_usage"


async def test_streamed_tool_calls_arrive_in_pieces_by_index(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    """As OpenAI streams them: each call opened by a chunk with its index, id, type and name (empty
    arguments), continued by chunks with the same index and the next piece of the arguments."""
    fake_llm.script("task-4", [Turn.calls(WRITE, RUN)])

    chunks = events(await complete(llm_api, messages=prompt("task-4"), tools=TOOLS, stream=True))

    pieces = [call for delta in deltas(chunks) for call in delta.get("tool_calls", [])]
    openings = [call for call in pieces if "id" in call]
    assert deltas(chunks)[0] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [openings[0]],  # the first call opens in the role's chunk
        "refusal": None,
    }
    assert [(call["index"], call["type"], call["function"]) for call in openings] == [
        (0, "function", {"name": "write_file", "arguments": ""}),
        (1, "function", {"name": "run_command", "arguments": ""}),
    ]
    for index, expected in enumerate((WRITE, RUN)):
        rest = [call for call in pieces if call["index"] == index and "id" not in call]
        assert all(set(call) == {"index", "function"} and set(call["function"]) == {"arguments"} for call in rest)
        assert all(1 <= len(call["function"]["arguments"]) <= 4 for call in rest), "a token (4 characters) a chunk"
        assert "".join(call["function"]["arguments"] for call in rest) == expected.arguments_json
    assert pieces.index(openings[1]) > max(i for i, call in enumerate(pieces) if call["index"] == 0)
    assert (deltas(chunks)[-1], chunks[-1]["choices"][0]["finish_reason"]) == ({}, "tool_calls")


async def test_text_before_tool_calls_streams_first_and_the_call_opens_in_its_own_chunk(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script("task-5", [Turn.calls(RUN, content="Running the tests")])

    chunk_deltas = deltas(events(await complete(llm_api, messages=prompt("task-5"), tools=TOOLS, stream=True)))

    assert chunk_deltas[0] == {"role": "assistant", "content": "", "refusal": None}
    assert "".join(delta.get("content", "") for delta in chunk_deltas) == "Running the tests"
    first_call = next(i for i, delta in enumerate(chunk_deltas) if "tool_calls" in delta)
    assert all("content" not in delta for delta in chunk_deltas[first_call:])
    assert chunk_deltas[first_call]["tool_calls"][0]["function"] == {"name": "run_command", "arguments": ""}


async def test_include_usage_adds_a_last_chunk_with_the_usage_and_no_choices(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script("task-6", [Turn.say("Done and dusted")])
    plain = (await complete(llm_api, messages=prompt("task-6"))).json()

    chunks = events(
        await complete(llm_api, messages=prompt("task-6"), stream=True, stream_options={"include_usage": True})
    )

    assert [chunk["usage"] for chunk in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert (chunks[-1]["choices"], chunks[-1]["usage"]) == ([], plain["usage"])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


async def test_obfuscation_pads_each_chunk_unless_turned_off(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    padded = events(await complete(llm_api, messages=prompt("task-7"), stream=True))
    plain = events(
        await complete(llm_api, messages=prompt("task-7"), stream=True, stream_options={"include_obfuscation": False})
    )

    assert all(isinstance(chunk["obfuscation"], str) and chunk["obfuscation"] for chunk in padded)
    assert all("obfuscation" not in chunk for chunk in plain)


async def test_max_tokens_cuts_the_answer_with_finish_reason_length(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script("task-8", [Turn.say("0123456789" * 4)])

    plain = (await complete(llm_api, messages=prompt("task-8"), max_completion_tokens=3)).json()
    streamed = events(await complete(llm_api, messages=prompt("task-8"), max_tokens=3, stream=True))

    assert (plain["choices"][0]["message"]["content"], plain["choices"][0]["finish_reason"]) == (
        "012345678901",
        "length",
    )
    assert plain["usage"]["completion_tokens"] == 3
    assert "".join(delta.get("content") or "" for delta in deltas(streamed)) == "012345678901"
    assert streamed[-1]["choices"][0]["finish_reason"] == "length"


async def test_a_turn_cut_short_by_max_tokens_makes_no_tool_call(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("task-9", [Turn.calls(WRITE)])

    choice = (await complete(llm_api, messages=prompt("task-9"), tools=TOOLS, max_tokens=2)).json()["choices"][0]

    assert (choice["finish_reason"], choice["message"].get("tool_calls")) == ("length", None)


async def test_n_asks_for_that_many_choices(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("task-10", [Turn.say("abcdefgh")])

    body = (await complete(llm_api, messages=prompt("task-10"), n=2)).json()
    chunks = events(await complete(llm_api, messages=prompt("task-10"), n=2, stream=True))

    assert [choice["index"] for choice in body["choices"]] == [0, 1]
    assert body["choices"][0]["message"] == body["choices"][1]["message"]
    assert body["usage"]["completion_tokens"] == 4
    assert {chunk["choices"][0]["index"] for chunk in chunks} == {0, 1}


async def test_a_scripted_finish_reason_and_usage_are_answered_as_given(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        "task-11",
        [Turn(content='{"half', finish_reason="length", usage={"prompt_tokens": 1000, "completion_tokens": 7})],
    )

    body = (await complete(llm_api, messages=prompt("task-11"))).json()

    assert body["choices"][0]["finish_reason"] == "length"
    assert (body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"], body["usage"]["total_tokens"]) == (
        1000,
        7,
        1007,
    )


async def test_a_turn_that_says_nothing_is_an_empty_message(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("task-12", [Turn()])

    message = (await complete(llm_api, messages=prompt("task-12"))).json()["choices"][0]["message"]

    assert (message["content"], message.get("tool_calls")) == ("", None)


# -- headers ------------------------------------------------------------------------------------------
async def test_answers_carry_openais_request_id_version_and_rate_limit_headers(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At 10,000 requests a minute a request comes back every 6 ms: with the clock still, the second
    # answer counts the first however slowly the machine gets to it.
    monkeypatch.setattr(fake_llm.rate_limits, "clock", lambda: 1_000.0)
    first = await complete(llm_api, messages=prompt("task-12"))
    second = await complete(llm_api, messages=prompt("task-12"), stream=True)

    for response in (first, second):
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
        assert response.headers["openai-version"] == "2020-10-01"
        assert response.headers["openai-processing-ms"].isdigit()
        assert response.headers["x-ratelimit-limit-requests"] == "10000"
        assert response.headers["x-ratelimit-limit-tokens"] == "30000000"
        assert re.fullmatch(r"\d+(\.\d+)?(ms|s)", response.headers["x-ratelimit-reset-requests"])
        assert re.fullmatch(r"\d+(\.\d+)?(ms|s)", response.headers["x-ratelimit-reset-tokens"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert (first.headers["x-ratelimit-remaining-requests"], second.headers["x-ratelimit-remaining-requests"]) == (
        "9999",
        "9998",
    )
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < 30_000_000


# -- models -------------------------------------------------------------------------------------------
async def test_models_are_listed_and_retrieved(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.add_model("tiny-model", context_window=64, owned_by="squad")

    listed = (await llm_api.get("/models")).json()
    one = await llm_api.get("/models/tiny-model")
    missing = await llm_api.get("/models/gpt-17")

    assert listed["object"] == "list"
    assert {"gpt-4o-mini", "gpt-4o", "tiny-model"} <= {model["id"] for model in listed["data"]}
    assert one.json() == {"id": "tiny-model", "object": "model", "created": one.json()["created"], "owned_by": "squad"}
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "message": "The model 'gpt-17' does not exist",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


# -- refusals -----------------------------------------------------------------------------------------
async def test_a_request_without_a_key_is_refused_with_401(llm_routes: respx.MockRouter) -> None:
    async with http.AsyncClient(base_url=LLM_API_URL) as anonymous:
        response = await anonymous.post("/chat/completions", json={"model": MODEL, "messages": prompt("x")})

    error = response.json()["error"]
    assert response.status_code == 401
    assert error["message"].startswith("You didn't provide an API key.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)


async def test_an_unknown_key_is_refused_with_invalid_api_key_and_shown_masked(llm_routes: respx.MockRouter) -> None:
    key = "sk-proj-unknown-" + "9" * 30
    async with http.AsyncClient(base_url=LLM_API_URL, headers={"Authorization": f"Bearer {key}"}) as client:
        chat = await client.post("/chat/completions", json={"model": MODEL, "messages": prompt("x")})
        models = await client.get("/models")

    error = chat.json()["error"]
    assert (chat.status_code, models.status_code) == (401, 401)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "invalid_api_key")
    assert error["message"] == (
        f"Incorrect API key provided: sk-proj-{'*' * (len(key) - 12)}9999. "
        "You can find your API key at https://platform.openai.com/account/api-keys."
    )
    assert key not in chat.text


async def test_an_unknown_model_is_404_model_not_found(llm_api: httpx.AsyncClient) -> None:
    response = await llm_api.post("/chat/completions", json={"model": "gpt-17", "messages": prompt("x")})

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `gpt-17` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


async def test_a_prompt_over_the_context_window_is_400_context_length_exceeded(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.add_model("tiny-model", context_window=64)
    fits = [{"role": "user", "content": "x" * 232}]  # 3 + 3 + 58 = 64 tokens: exactly the window
    too_long = [{"role": "user", "content": "x" * 233}]  # 65

    at_the_window = await llm_api.post("/chat/completions", json={"model": "tiny-model", "messages": fits})
    over = await llm_api.post("/chat/completions", json={"model": "tiny-model", "messages": too_long})
    with_completion = await llm_api.post(
        "/chat/completions", json={"model": "tiny-model", "messages": fits, "max_tokens": 10}
    )

    assert at_the_window.status_code == 200
    assert (over.status_code, with_completion.status_code) == (400, 400)
    assert over.json()["error"] == {
        "message": "This model's maximum context length is 64 tokens. However, your messages resulted in 65 tokens. "
        "Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    assert (
        "you requested 74 tokens (64 in the messages, 10 in the completion)"
        in with_completion.json()["error"]["message"]
    )


TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "run_command", "arguments": "{}"}}
INVALID_REQUESTS = {
    "unknown-parameter": ({"temprature": 0.2}, "temprature", None, None),
    "no-model": ({"model": None}, "you must provide a model parameter", None, None),
    "no-messages": (
        {"messages": None},
        "Missing required parameter: 'messages'.",
        "messages",
        "missing_required_parameter",
    ),
    "empty-messages": ({"messages": []}, "empty array", "messages", "empty_array"),
    "messages-not-a-list": (
        {"messages": "hi"},
        "expected an array of objects, but got a string",
        "messages",
        "invalid_type",
    ),
    "no-role": (
        {"messages": [{"content": "hi"}]},
        "'messages[0].role'",
        "messages[0].role",
        "missing_required_parameter",
    ),
    "bad-role": (
        {"messages": [{"role": "bot", "content": "hi"}]},
        "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and "
        "'developer'.",
        "messages[0].role",
        "invalid_value",
    ),
    "content-not-text": (
        {"messages": [{"role": "user", "content": 7}]},
        "expected one of a string or array of objects, but got an integer instead",
        "messages[0].content",
        "invalid_type",
    ),
    "tool-without-a-call": (
        {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]},
        "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'",
        "messages.[1].role",
        None,
    ),
    "tool-answering-another-call": (
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [TOOL_CALL]},
                {"role": "tool", "tool_call_id": "call_2", "content": "x"},
            ]
        },
        "'tool_call_id' of 'call_2' not found in 'tool_calls' of previous message",
        "messages.[2].tool_call_id",
        None,
    ),
    "tool-without-tool-call-id": (
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [TOOL_CALL]},
                {"role": "tool", "content": "x"},
            ]
        },
        "Missing required parameter: 'messages[2].tool_call_id'.",
        "messages[2].tool_call_id",
        "missing_required_parameter",
    ),
    "unanswered-tool-call": (
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [TOOL_CALL]},
                {"role": "user", "content": "and?"},
            ]
        },
        "The following tool_call_ids did not have response messages: call_1",
        "messages.[1].role",
        None,
    ),
    "tool-choice-without-tools": (
        {"tool_choice": "auto"},
        "only allowed when 'tools' are specified",
        "tool_choice",
        None,
    ),
    "tool-choice-unknown-function": (
        {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "deploy"}}},
        "function 'deploy' was not found in 'tools'",
        "tool_choice",
        None,
    ),
    "bad-tool-name": (
        {"tools": [{"type": "function", "function": {"name": "run command"}}]},
        "string does not match pattern",
        "tools[0].function.name",
        "invalid_value",
    ),
    "stream-options-without-stream": (
        {"stream_options": {"include_usage": True}},
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        "stream_options",
        None,
    ),
    "zero-max-tokens": ({"max_tokens": 0}, "integer below minimum value", "max_tokens", "integer_below_min_value"),
    "too-many-choices": ({"n": 129}, "integer above maximum value", "n", "integer_above_max_value"),
}


@pytest.mark.parametrize(("change", "message", "param", "code"), INVALID_REQUESTS.values(), ids=INVALID_REQUESTS.keys())
async def test_invalid_requests_are_400_with_openais_param_and_code(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM, change: dict, message: str, param: str | None, code: str | None
) -> None:
    body = {
        key: value for key, value in {"model": MODEL, "messages": prompt("x"), **change}.items() if value is not None
    }

    response = await llm_api.post("/chat/completions", json=body)

    error = response.json()["error"]
    assert response.status_code == 400, response.text
    assert message in error["message"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert fake_llm.conversations() == [], "a refused request reaches no conversation"


async def test_a_body_that_is_no_json_is_400_could_not_parse(llm_api: httpx.AsyncClient) -> None:
    response = await llm_api.post(
        "/chat/completions", content=b'{"model": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")


async def test_an_answered_tool_call_conversation_is_accepted(llm_api: httpx.AsyncClient) -> None:
    messages = [
        *prompt("task-13"),
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL, {**TOOL_CALL, "id": "call_2"}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "second"},
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "first"}]},
        {"role": "user", "content": "go on"},
    ]

    response = await llm_api.post("/chat/completions", json={"model": MODEL, "messages": messages, "tools": TOOLS})

    assert response.status_code == 200, response.text


async def test_an_unknown_url_is_openais_invalid_url_404(
    llm_api: httpx.AsyncClient, llm_routes: respx.MockRouter
) -> None:
    response = await llm_api.post("/chat/completion", json={"model": MODEL, "messages": prompt("x")})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (POST /v1/chat/completion)"
    assert llm_routes["not_found"].call_count == 1


# -- in process ---------------------------------------------------------------------------------------
async def test_the_respx_router_names_its_routes_after_the_operations(
    llm_api: httpx.AsyncClient, llm_routes: respx.MockRouter
) -> None:
    await complete(llm_api, messages=prompt("x"))
    await llm_api.get("/models")

    assert llm_routes["create_chat_completion"].call_count == 1
    assert (llm_routes["list_models"].call_count, llm_routes["retrieve_model"].call_count) == (1, 0)


def test_the_router_wants_a_base_url_ending_in_v1(fake_llm: FakeLLM) -> None:
    with pytest.raises(ValueError, match="/v1"):
        llm_router(fake_llm, "https://llm.example.com/api")

    assert llm_router(fake_llm, "http://llm.internal:8003/v1/") is not None
