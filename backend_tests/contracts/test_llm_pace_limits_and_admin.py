"""The fake LLM's pace (time to the first token, time per token), its rate limits, and its admin API,
over a real server: a stream's timing can only be seen on a socket."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from backend_tests.contracts.openapi_contract import client_side_problems
from fixtures import http
from mocks.llm import FakeLLM, Turn
from mocks.llm.router import LLM_API_URL, llm_router

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

MODEL = "gpt-4o-mini"


def opening(marker: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": f"Task {marker}"}]


@pytest.fixture
def client(llm_url: str, llm_api_key: str) -> Iterator[httpx.Client]:
    with http.Client(base_url=llm_url, headers={"Authorization": f"Bearer {llm_api_key}"}, timeout=10) as client:
        yield client


def chat(client: httpx.Client, marker: str, **body: Any) -> httpx.Response:
    return client.post("/v1/chat/completions", json={"model": MODEL, "messages": opening(marker), **body})


def timed_stream(client: httpx.Client, marker: str) -> tuple[float, list[tuple[float, str]]]:
    """(seconds until the headers, [(seconds until each event, its data)]), from sending the request."""
    began = time.monotonic()
    body = {"model": MODEL, "messages": opening(marker), "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        headers_at = time.monotonic() - began
        arrivals = [(time.monotonic() - began, line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    return headers_at, arrivals


# -- pace ---------------------------------------------------------------------------------------------
def test_a_stream_waits_for_its_first_token_and_between_tokens(client: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.script("p-1", [Turn.say("abcd" * 5)])  # 5 tokens, so 5 content chunks after the role's
    set_pace = client.post("/_fake/latency", json={"time_to_first_token_ms": 300, "per_token_ms": 60})

    headers_at, arrivals = timed_stream(client, "p-1")

    assert set_pace.json() == {"time_to_first_token_ms": 300, "per_token_ms": 60}
    first_at = arrivals[0][0]
    tokens_at = [at for at, data in arrivals[1:6]]
    assert headers_at < 0.25 <= 0.3 <= first_at, f"headers at {headers_at:.3f}s, first token at {first_at:.3f}s"
    gaps = [later - earlier for earlier, later in zip([first_at, *tokens_at], tokens_at, strict=False)]
    assert all(gap >= 0.05 for gap in gaps), f"gaps between tokens: {gaps}"
    assert arrivals[-1][1] == "[DONE]"


def test_a_plain_answer_comes_once_all_its_tokens_are_generated(client: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.script("p-2", [Turn.say("abcd" * 5)])
    fake_llm.set_latency(time_to_first_token_ms=100, per_token_ms=40)

    began = time.monotonic()
    response = chat(client, "p-2")
    took = time.monotonic() - began

    assert response.status_code == 200
    assert took >= 0.1 + 5 * 0.04, f"answered after {took:.3f}s"
    assert int(response.headers["openai-processing-ms"]) >= 300


def test_a_script_sets_its_own_pace(client: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.set_latency(time_to_first_token_ms=2000, per_token_ms=200)
    fake_llm.script("p-3", [Turn.say("abcd" * 5)], time_to_first_token_ms=0, per_token_ms=0)

    began = time.monotonic()
    chat(client, "p-3")

    assert time.monotonic() - began < 1.0


def test_reset_restores_the_pace_the_fake_was_built_with() -> None:
    fake = FakeLLM(time_to_first_token_ms=5, per_token_ms=1)
    fake.set_latency(time_to_first_token_ms=900)

    fake.reset()

    assert (fake.time_to_first_token_ms, fake.per_token_ms) == (5, 1)


# -- rate limits ----------------------------------------------------------------------------------------
def test_past_the_requests_per_minute_the_answer_is_429_with_retry_after(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    limits = client.post("/_fake/rate_limits", json={"requests_per_minute": 2})
    allowed = [chat(client, "r-1") for _ in range(2)]

    refused = chat(client, "r-1")
    fake_llm.advance_time(29)
    still_refused = chat(client, "r-1")
    fake_llm.advance_time(1.1)
    let_through = chat(client, "r-1")

    assert limits.json() == {"requests_per_minute": 2, "tokens_per_minute": 30_000_000}
    assert [r.status_code for r in allowed] == [200, 200]
    assert (refused.status_code, still_refused.status_code, let_through.status_code) == (429, 429, 200)
    error = refused.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("requests", "rate_limit_exceeded", None)
    assert error["message"].startswith(
        "Rate limit reached for gpt-4o-mini in organization org-fakellm on requests per min (RPM): Limit 2, Used 2, "
        "Requested 1. Please try again in "
    )
    wait_ms = int(refused.headers["retry-after-ms"])
    assert 29_000 < wait_ms <= 30_000
    assert refused.headers["retry-after"] == str(math.ceil(wait_ms / 1000)) == "30"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-limit-requests"] == "2"
    assert client_side_problems("openai", refused) == []


def test_past_the_tokens_per_minute_the_answer_is_429_of_type_tokens(client: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.set_rate_limits(tokens_per_minute=100)
    prompt_tokens = chat(client, "r-2").json()["usage"]["prompt_tokens"]
    fake_llm.advance_time(60)  # the bucket empties again

    first = chat(client, "r-2", max_tokens=50)
    second = chat(client, "r-2", max_tokens=50)
    too_large = chat(client, "r-2", max_tokens=100)

    assert (first.status_code, second.status_code, too_large.status_code) == (200, 429, 429)
    assert int(first.headers["x-ratelimit-remaining-tokens"]) == 100 - (prompt_tokens + 50)
    assert second.json()["error"]["type"] == "tokens"
    assert (
        f"on tokens per min (TPM): Limit 100, Used {prompt_tokens + 50}, Requested {prompt_tokens + 50}."
        in (second.json()["error"]["message"])
    )
    assert too_large.json()["error"]["message"].startswith("Request too large for gpt-4o-mini")
    assert "retry-after" not in too_large.headers, "no wait makes a request larger than the limit fit"


async def test_each_api_key_has_its_own_limits() -> None:
    fake = FakeLLM(["sk-first-key-000000", "sk-second-key-00000"], requests_per_minute=1)
    body = {"model": MODEL, "messages": opening("r-3")}

    with llm_router(fake):
        async with http.AsyncClient(base_url=LLM_API_URL) as client:
            statuses = [
                (
                    await client.post("/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
                ).status_code
                for key in ("sk-first-key-000000", "sk-second-key-00000", "sk-first-key-000000")
            ]

    assert statuses == [200, 200, 429]


# -- the admin API ------------------------------------------------------------------------------------
SCRIPT = {
    "match": "a-1",
    "name": "over http",
    "turns": [
        {"tool_calls": [{"name": "run_command", "arguments": {"command": "ls"}}]},
        {"error": {"status": 503, "times": 1}},
        {"content": "done", "usage": {"completion_tokens": 9}},
    ],
}


def test_scripts_through_the_admin_api(client: httpx.Client, fake_llm: FakeLLM) -> None:
    added = client.post("/_fake/scripts", json=SCRIPT)
    listed = client.get("/_fake/scripts").json()
    messages = opening("a-1")

    first = client.post("/v1/chat/completions", json={"model": MODEL, "messages": messages}).json()
    call = first["choices"][0]["message"]["tool_calls"][0]
    messages += [first["choices"][0]["message"], {"role": "tool", "tool_call_id": call["id"], "content": "x"}]
    overloaded = client.post("/v1/chat/completions", json={"model": MODEL, "messages": messages})
    last = client.post("/v1/chat/completions", json={"model": MODEL, "messages": messages}).json()
    conversations = client.get("/_fake/conversations").json()

    assert added.status_code == 201
    assert (added.json()["name"], added.json()["turns"][0]["finish_reason"]) == ("over http", "tool_calls")
    assert [script["id"] for script in listed] == [added.json()["id"]]
    assert (call["function"]["name"], overloaded.status_code) == ("run_command", 503)
    assert (last["choices"][0]["message"]["content"], last["usage"]["completion_tokens"]) == ("done", 9)
    (conversation,) = conversations
    assert (conversation["script"], conversation["requests"]) == ("over http", 3)
    assert [(a["turn"], a["status"]) for a in conversation["answers"]] == [(0, 200), (1, 503), (1, 200)]


def test_scripts_are_removed_one_by_one_or_all_at_once(client: httpx.Client) -> None:
    first = client.post("/_fake/scripts", json=SCRIPT).json()
    client.post("/_fake/scripts", json={**SCRIPT, "match": "a-2"})

    removed = client.delete(f"/_fake/scripts/{first['id']}")
    removed_again = client.delete(f"/_fake/scripts/{first['id']}")
    remaining = [script["match"] for script in client.get("/_fake/scripts").json()]
    cleared = client.delete("/_fake/scripts")

    assert (removed.status_code, removed_again.status_code, remaining) == (204, 404, ["a-2"])
    assert (cleared.status_code, client.get("/_fake/scripts").json()) == (204, [])


def test_models_can_be_added_through_the_admin_api(client: httpx.Client) -> None:
    added = client.post("/_fake/models", json={"id": "squad-tiny", "context_window": 32})

    answer = client.post(
        "/v1/chat/completions", json={"model": "squad-tiny", "messages": [{"role": "user", "content": "x" * 200}]}
    )

    assert added.status_code == 201 and added.json()["context_window"] == 32
    assert answer.json()["error"]["code"] == "context_length_exceeded"


def test_the_state_dump_shows_scripts_conversations_pace_and_limits(client: httpx.Client) -> None:
    client.post("/_fake/scripts", json=SCRIPT)
    chat(client, "a-1")

    state = client.get("/_fake/state").json()

    assert [script["name"] for script in state["scripts"]] == ["over http"]
    assert [conversation["script"] for conversation in state["conversations"]] == ["over http"]
    assert state["latency"] == {"time_to_first_token_ms": 0, "per_token_ms": 0}
    assert state["rate_limits"] == {"requests_per_minute": 10_000, "tokens_per_minute": 30_000_000}
    assert {"gpt-4o-mini", "gpt-4o"} <= {model["id"] for model in state["models"]}


BAD_ADMIN_CALLS = {
    "script-no-match": ("/_fake/scripts", {"turns": [{"content": "x"}]}),
    "script-no-turns": ("/_fake/scripts", {"match": "x", "turns": []}),
    "script-unknown-field": ("/_fake/scripts", {"match": "x", "turns": [{"content": "x"}], "colour": "red"}),
    "turn-unknown-field": ("/_fake/scripts", {"match": "x", "turns": [{"text": "x"}]}),
    "bad-finish-reason": ("/_fake/scripts", {"match": "x", "turns": [{"content": "x", "finish_reason": "done"}]}),
    "bad-tool-name": ("/_fake/scripts", {"match": "x", "turns": [{"tool_calls": [{"name": "run command"}]}]}),
    "error-not-an-error": ("/_fake/scripts", {"match": "x", "turns": [{"error": {"status": 200}}]}),
    "negative-delay": ("/_fake/scripts", {"match": "x", "turns": [{"content": "x", "delay_ms": -1}]}),
    "bad-usage": ("/_fake/scripts", {"match": "x", "turns": [{"content": "x", "usage": {"cost": 1}}]}),
    "latency-negative": ("/_fake/latency", {"per_token_ms": -5}),
    "latency-unknown": ("/_fake/latency", {"ttft": 5}),
    "limits-zero": ("/_fake/rate_limits", {"requests_per_minute": 0}),
    "limits-unknown": ("/_fake/rate_limits", {"rpm": 5}),
    "model-no-window": ("/_fake/models", {"id": "x"}),
    "model-with-slash": ("/_fake/models", {"id": "a/b", "context_window": 5}),
}


@pytest.mark.parametrize(("path", "body"), BAD_ADMIN_CALLS.values(), ids=BAD_ADMIN_CALLS.keys())
def test_the_admin_api_refuses_bad_input_with_400(client: httpx.Client, path: str, body: dict) -> None:
    response = client.post(path, json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]
