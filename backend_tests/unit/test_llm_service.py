"""LLMService, the agent's model: a streamed Chat Completions turn read piece by piece, tool calls
assembled from their pieces, the provider's usage, retries of what is transient (waiting what the
provider asks) and clear refusals of what is not. The fake LLM answers through respx (`fake_llm`);
a few tests answer with streams of their own to cut them or leave out what the fake always sends."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from app.services.errors import (
    LLMAuthError,
    LLMContextTooLong,
    LLMError,
    LLMModelNotFound,
    LLMRateLimited,
    LLMStreamCut,
    LLMTimeout,
    LLMUnreachable,
)
from app.services.llm import LLMService, parse_duration, requested_wait
from fixtures import http
from fixtures.credentials import CANARY_LLM_API_KEY
from mocks.llm import ToolCall, Turn
from mocks.llm.router import LLM_API_URL

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

TASK = "task-under-test-7"
OPENING = [
    {"role": "system", "content": "You are a careful engineer."},
    {"role": "user", "content": f"Fix the adder ({TASK})"},
]
TOOLS = [
    {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
    }
    for name in ("run_command", "read_file", "write_file", "finish")
]


@pytest.fixture(scope="module")
async def llm_client() -> AsyncIterator[httpx.AsyncClient]:
    async with http.AsyncClient(
        base_url=LLM_API_URL, headers={"Authorization": f"Bearer {CANARY_LLM_API_KEY}"}
    ) as client:
        yield client


@pytest.fixture
def outcomes() -> list[str]:
    return []


@pytest.fixture
def llm(llm_client, retry_policy, outcomes) -> LLMService:
    return LLMService(llm_client, model="gpt-4o-mini", retry=retry_policy, on_attempt=outcomes.append)


class Pieces:
    """An on_text callback keeping (text, attempt) pieces."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    async def __call__(self, text: str, attempt: int) -> None:
        self.seen.append((text, attempt))


def sse(*chunks: dict, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None) -> dict:
    choices = [] if delta is None and finish is None else [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    return {"id": "chatcmpl-1", "model": "gpt-4o-mini", "choices": choices, "usage": usage}


async def test_text_streams_piece_by_piece_and_the_usage_is_the_providers(llm, fake_llm):
    fake_llm.script(TASK, [Turn.say("The adder is fixed and its test passes.")])
    pieces = Pieces()

    completion = await llm.complete(OPENING, TOOLS, on_text=pieces)

    assert completion.content == "The adder is fixed and its test passes."
    assert len(pieces.seen) > 3 and "".join(text for text, _ in pieces.seen) == completion.content
    assert {attempt for _, attempt in pieces.seen} == {1}
    assert (completion.tool_calls, completion.finish_reason) == ([], "stop")
    counted = fake_llm.conversation(TASK).answers[-1].usage
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.reported) == (
        counted.prompt_tokens,
        counted.completion_tokens,
        True,
    )


async def test_a_tool_calls_arguments_are_put_together_from_their_pieces(llm, fake_llm):
    content = "def add(a, b):\n    return a + b\n" * 5
    fake_llm.script(TASK, [Turn.call("write_file", path="calc.py", content=content)])

    completion = await llm.complete(OPENING, TOOLS)

    (call,) = completion.tool_calls
    (sent,) = fake_llm.conversation(TASK).answers[-1].tool_calls
    assert (call.id, call.name) == (sent.id, "write_file")
    assert json.loads(call.arguments) == {"path": "calc.py", "content": content}
    assert completion.finish_reason == "tool_calls"


async def test_several_tool_calls_of_one_turn_keep_their_order_ids_and_arguments(llm, fake_llm):
    fake_llm.script(
        TASK,
        [
            Turn.calls(
                ToolCall("write_file", {"path": "a.py", "content": "A = 1\n"}, id="call_first"),
                ToolCall("run_command", {"command": "python3 a.py"}, id="call_second"),
                ToolCall("finish", {"summary": "done"}, id="call_third"),
                content="Three things at once.",
            )
        ],
    )

    completion = await llm.complete(OPENING, TOOLS)

    assert completion.content == "Three things at once."
    assert [(c.id, c.name, json.loads(c.arguments)) for c in completion.tool_calls] == [
        ("call_first", "write_file", {"path": "a.py", "content": "A = 1\n"}),
        ("call_second", "run_command", {"command": "python3 a.py"}),
        ("call_third", "finish", {"summary": "done"}),
    ]
    assert completion.assistant_message()["tool_calls"][1] == {
        "id": "call_second",
        "type": "function",
        "function": {"name": "run_command", "arguments": '{"command": "python3 a.py"}'},
    }


async def test_the_request_is_a_streamed_completion_with_usage_tools_and_the_key(llm, fake_llm, llm_routes):
    await llm.complete(OPENING, TOOLS)

    request = llm_routes["create_chat_completion"].calls.last.request
    body = json.loads(request.content)
    assert request.headers["authorization"] == f"Bearer {CANARY_LLM_API_KEY}"
    assert (body["model"], body["stream"], body["stream_options"]) == ("gpt-4o-mini", True, {"include_usage": True})
    assert (body["messages"], body["tools"]) == (OPENING, TOOLS)


async def test_a_rate_limited_turn_waits_the_retry_after_ms_it_was_told_then_is_answered(
    llm, fake_llm, sleeps, outcomes
):
    fake_llm.script(TASK, [Turn.fail(429, headers={"retry-after-ms": "250", "retry-after": "9"}), Turn.say("ok")])

    completion = await llm.complete(OPENING, TOOLS)

    assert completion.content == "ok"
    assert sleeps.waits == [0.25], "retry-after-ms is the more precise wait and wins"
    assert outcomes == ["rate_limited", "ok"]


async def test_a_rate_limited_turn_without_retry_after_ms_waits_its_retry_after(llm, fake_llm, sleeps):
    fake_llm.script(TASK, [Turn.fail(429, headers={"retry-after": "2"}), Turn.say("ok")])

    await llm.complete(OPENING, TOOLS)

    assert sleeps.waits == [2.0]


async def test_a_rate_limit_saying_only_when_its_window_resets_is_waited_until_then(llm, fake_llm, llm_routes, sleeps):
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1.5s",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    body = {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}
    route = llm_routes["create_chat_completion"]
    forward = route.side_effect
    answers = iter([httpx.Response(429, json=body, headers=headers)])
    route.side_effect = lambda request: next(answers, None) or forward(request)

    await llm.complete(OPENING, TOOLS)

    assert sleeps.waits == [1.5], "the requests limit ran out; the tokens one did not"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_retried_with_backoff(llm, fake_llm, sleeps, outcomes, status):
    fake_llm.script(TASK, [Turn.fail(status), Turn.say("ok")])

    assert (await llm.complete(OPENING, TOOLS)).content == "ok"

    assert len(sleeps.waits) == 1 and 0 < sleeps.waits[0] <= 0.004
    assert outcomes == ["server_error", "ok"]


async def test_a_server_error_that_lasts_gives_up_after_the_policys_attempts(llm, fake_llm, outcomes):
    fake_llm.script(TASK, [Turn.fail(503, times=None), Turn.say("never")])

    with pytest.raises(LLMError) as raised:
        await llm.complete(OPENING, TOOLS)

    assert "HTTP 503" in raised.value.message and "gave up after 3 attempts" in raised.value.message
    assert outcomes == ["server_error"] * 3


async def test_a_turn_that_times_out_is_asked_again(llm, fake_llm, llm_routes, fail_first, outcomes):
    fake_llm.script(TASK, [Turn.say("ok")])
    fail_first(llm_routes["create_chat_completion"], httpx.ReadTimeout("slow"))

    assert (await llm.complete(OPENING, TOOLS)).content == "ok"

    assert outcomes == ["timeout", "ok"]


async def test_a_provider_that_cannot_be_reached_is_retried_then_named(llm, fake_llm, llm_routes, outcomes):
    llm_routes["create_chat_completion"].side_effect = httpx.ConnectError("connection refused")

    with pytest.raises(LLMUnreachable) as raised:
        await llm.complete(OPENING, TOOLS)

    assert f"cannot reach the LLM provider at {LLM_API_URL}" in raised.value.message
    assert outcomes == ["connection_error"] * 3


async def test_a_stream_cut_before_its_end_is_asked_again_whole_and_streams_again_from_the_start(
    llm, fake_llm, llm_routes, fail_first, outcomes
):
    fake_llm.script(TASK, [Turn.say("All done here.")])
    cut = sse(chunk({"role": "assistant", "content": "All "}), chunk({"content": "do"}), done=False)
    fail_first(llm_routes["create_chat_completion"], httpx.Response(200, content=cut))
    pieces = Pieces()

    completion = await llm.complete(OPENING, TOOLS, on_text=pieces)

    assert completion.content == "All done here.", "the cut attempt's pieces are not kept"
    assert pieces.seen[:2] == [("All ", 1), ("do", 1)] and {a for _, a in pieces.seen[2:]} == {2}
    assert outcomes == ["stream_cut", "ok"]


async def test_a_stream_that_keeps_being_cut_fails_saying_so(llm, llm_routes):
    cut = sse(chunk({"role": "assistant", "content": "Hal"}), done=False)
    llm_routes["create_chat_completion"].side_effect = lambda request: httpx.Response(200, content=cut)

    with pytest.raises(LLMStreamCut) as raised:
        await llm.complete(OPENING, TOOLS)

    assert "ended before the answer was complete" in raised.value.message
    assert "gave up after 3 attempts" in raised.value.message


async def test_a_garbled_chunk_counts_as_a_cut_stream(llm, fake_llm, llm_routes, fail_first, outcomes):
    fake_llm.script(TASK, [Turn.say("fine")])
    fail_first(llm_routes["create_chat_completion"], httpx.Response(200, content=b'data: {"choices": [\n\n'))

    assert (await llm.complete(OPENING, TOOLS)).content == "fine"
    assert outcomes == ["stream_cut", "ok"]


async def test_a_provider_that_sends_no_usage_is_counted_by_the_four_characters_rule(llm, llm_routes):
    stream = sse(chunk({"role": "assistant", "content": "12345678"}), chunk(finish="stop"))
    llm_routes["create_chat_completion"].side_effect = lambda request: httpx.Response(200, content=stream)

    completion = await llm.complete(OPENING, TOOLS)

    sent = json.dumps(OPENING) + json.dumps(TOOLS)
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (-(-len(sent) // 4), 2)
    assert completion.usage.reported is False


async def test_an_error_sent_inside_the_stream_is_retried(llm, fake_llm, llm_routes, fail_first):
    fake_llm.script(TASK, [Turn.say("recovered")])
    failure = sse({"error": {"message": "The server had an error processing your request."}}, done=False)
    fail_first(llm_routes["create_chat_completion"], httpx.Response(200, content=failure))

    assert (await llm.complete(OPENING, TOOLS)).content == "recovered"


async def test_a_refused_key_fails_at_once_naming_the_setting(retry_policy, fake_llm):
    async with http.AsyncClient(base_url=LLM_API_URL, headers={"Authorization": "Bearer sk-wrong-key"}) as client:
        llm = LLMService(client, model="gpt-4o-mini", retry=retry_policy)
        with pytest.raises(LLMAuthError) as raised:
            await llm.complete(OPENING, TOOLS)

    assert raised.value.message.startswith("the LLM provider refused the API key (HTTP 401: Incorrect API key")
    assert raised.value.message.endswith("; check LLM_API_KEY")
    assert not raised.value.transient
    assert len(fake_llm.requests("create_chat_completion")) == 1


async def test_a_provider_echoing_the_key_in_its_refusal_never_gets_it_into_the_message(llm, llm_routes):
    echo = {"error": {"message": f"Incorrect API key provided: {CANARY_LLM_API_KEY}.", "code": "invalid_api_key"}}
    llm_routes["create_chat_completion"].side_effect = lambda request: httpx.Response(401, json=echo)

    with pytest.raises(LLMAuthError) as raised:
        await llm.complete(OPENING, TOOLS)

    assert CANARY_LLM_API_KEY not in raised.value.message
    assert "Incorrect API key provided: ***." in raised.value.message


async def test_a_refused_key_is_not_asked_again(llm, fake_llm):
    fake_llm.script(TASK, [Turn.fail(401, code="invalid_api_key", times=None), Turn.say("never")])

    with pytest.raises(LLMAuthError):
        await llm.complete(OPENING, TOOLS)

    assert len(fake_llm.requests("create_chat_completion")) == 1


async def test_an_unknown_model_fails_at_once_naming_llm_model(llm_client, retry_policy, fake_llm):
    llm = LLMService(llm_client, model="gpt-9-imaginary", retry=retry_policy)

    with pytest.raises(LLMModelNotFound) as raised:
        await llm.complete(OPENING, TOOLS)

    assert "'gpt-9-imaginary'" in raised.value.message and "check LLM_MODEL" in raised.value.message


async def test_a_conversation_too_long_for_the_model_fails_saying_it_no_longer_fits(llm_client, retry_policy, fake_llm):
    fake_llm.add_model("tiny", context_window=40)
    llm = LLMService(llm_client, model="tiny", retry=retry_policy)

    with pytest.raises(LLMContextTooLong) as raised:
        await llm.complete(OPENING, TOOLS)

    assert raised.value.message.startswith("the conversation no longer fits the model's context window (tiny: ")
    assert "maximum context length is 40 tokens" in raised.value.message
    assert len(fake_llm.requests("create_chat_completion")) == 1


async def test_a_quota_used_up_is_not_a_rate_limit_worth_waiting_for(llm, fake_llm, outcomes):
    fake_llm.script(TASK, [Turn.fail(429, code="insufficient_quota", message="You exceeded your current quota")])

    with pytest.raises(LLMRateLimited) as raised:
        await llm.complete(OPENING, TOOLS)

    assert "quota for this key is used up" in raised.value.message and not raised.value.transient
    assert outcomes == ["refused"]


async def test_a_refusal_of_the_request_itself_is_not_retried(llm, fake_llm):
    fake_llm.script(TASK, [Turn.fail(400, message="Invalid value for 'temperature'", code="invalid_value")])

    with pytest.raises(LLMError) as raised:
        await llm.complete(OPENING, TOOLS)

    assert raised.value.message == ("the LLM provider refused the request (HTTP 400: Invalid value for 'temperature')")


async def test_a_404_that_is_not_about_the_model_points_at_the_api_url(llm_client, retry_policy, llm_routes):
    llm_routes["create_chat_completion"].side_effect = lambda request: httpx.Response(404, text="404 page not found")
    llm = LLMService(llm_client, model="gpt-4o-mini", retry=retry_policy)

    with pytest.raises(LLMError) as raised:
        await llm.complete(OPENING, TOOLS)

    assert "check LLM_API_URL" in raised.value.message


async def test_a_timeout_that_lasts_is_a_timeout_error(llm, llm_routes):
    llm_routes["create_chat_completion"].side_effect = httpx.ReadTimeout("slow")

    with pytest.raises(LLMTimeout) as raised:
        await llm.complete(OPENING, TOOLS)

    assert "did not answer in time" in raised.value.message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20ms", 0.02), ("1.5s", 1.5), ("6m0s", 360.0), ("1h2m3s", 3723.0), ("0s", 0.0), ("", None), ("soon", None)],
)
def test_openais_reset_durations_are_read_as_seconds(text, seconds):
    assert parse_duration(text) == seconds


def test_the_wait_asked_for_prefers_milliseconds_then_seconds_then_the_exhausted_limits_reset():
    resets = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "7.5s",
    }
    assert requested_wait(httpx.Headers({"retry-after-ms": "120", "retry-after": "3", **resets})) == 0.12
    assert requested_wait(httpx.Headers({"retry-after": "3", **resets})) == 3.0
    assert requested_wait(httpx.Headers(resets)) == 7.5
    assert requested_wait(httpx.Headers({"x-ratelimit-reset-requests": "2s"})) is None, "nothing ran out"
    assert requested_wait(httpx.Headers({"retry-after-ms": "soon", "retry-after": "4"})) == 4.0


class BrokenStream(httpx.AsyncByteStream):
    """A body that sends `first`, then loses the connection."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    async def __aiter__(self):
        yield self.first
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


async def test_a_connection_lost_in_the_middle_of_the_answer_is_a_cut_stream_asked_again(
    llm, fake_llm, llm_routes, fail_first, outcomes
):
    fake_llm.script(TASK, [Turn.say("whole")])
    first = sse(chunk({"role": "assistant", "content": "who"}), done=False)
    fail_first(llm_routes["create_chat_completion"], httpx.Response(200, stream=BrokenStream(first)))

    assert (await llm.complete(OPENING, TOOLS)).content == "whole"
    assert outcomes == ["stream_cut", "ok"]


async def test_comments_other_fields_other_choices_and_odd_pieces_of_a_stream_are_passed_over(llm, llm_routes):
    stream = (
        b": keep-alive\n\n"
        b"event: message\n"
        + sse(
            chunk({"role": "assistant", "content": "A"}),
            {"choices": [{"index": 1, "delta": {"content": "from another choice"}}]},
            chunk({"tool_calls": ["not a piece", {"index": 0, "id": "call_x", "function": {"name": "finish"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": None}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"summary": "B"}'}}]}),
            chunk(finish="tool_calls"),
            done=False,
        )
        + b"data: [DONE]"  # the last event without its blank line
    )
    llm_routes["create_chat_completion"].side_effect = lambda request: httpx.Response(200, content=stream)

    completion = await llm.complete(OPENING)

    assert completion.content == "A"
    assert [(c.id, c.name, c.arguments) for c in completion.tool_calls] == [("call_x", "finish", '{"summary": "B"}')]
    assert "tools" not in json.loads(llm_routes["create_chat_completion"].calls.last.request.content)


async def test_a_chunk_that_is_json_but_no_object_counts_as_a_garbled_stream(llm, llm_routes):
    llm_routes["create_chat_completion"].side_effect = lambda request: httpx.Response(200, content=b"data: [1, 2]\n\n")

    with pytest.raises(LLMStreamCut, match="not a JSON object"):
        await llm.complete(OPENING, TOOLS)


async def test_a_key_that_may_not_use_the_model_is_refused_naming_the_model(llm, fake_llm):
    fake_llm.script(TASK, [Turn.fail(403, message="You are not allowed to sample from this model", times=None)])

    with pytest.raises(LLMAuthError) as raised:
        await llm.complete(OPENING, TOOLS)

    assert "HTTP 403" in raised.value.message and "check that LLM_API_KEY may use the model 'gpt-4o-mini'" in (
        raised.value.message
    )


def test_an_answer_without_text_or_calls_goes_back_as_an_empty_message():
    from app.services.llm import Completion, Usage

    empty = Completion("", [], "stop", Usage(1, 0), "gpt-4o-mini")

    assert empty.assistant_message() == {"role": "assistant", "content": ""}
