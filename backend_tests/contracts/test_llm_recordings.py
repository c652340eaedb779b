"""The fake LLM against chat completions recorded from OpenAI's API (recordings/openai/): the same
kind of answer from the fake has the recorded body's keys, nested objects and array items included.
What the fake adds or leaves out on purpose is listed with its reason (and in docs/fakes.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from fixtures import http
from fixtures.recorded_responses import key_paths
from mocks.llm import FakeLLM, Turn
from mocks.llm.router import LLM_API_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

RECORDED = json.loads((Path(__file__).parent / "recordings" / "openai" / "chat-completions.json").read_text())
# The fake answers with every key the recordings (September 2024) have; it leaves none out.
DELIBERATELY_WITHOUT: set[str] = set()
# Keys the fake adds on purpose: fields OpenAI's answers gained after these recordings, which its
# current OpenAPI description (the fake's other contract, test_official_specs.py) has.
DELIBERATELY_ADDED = {
    "service_tier",
    "choices.[].message.annotations",
    "usage.prompt_tokens_details",
    "usage.prompt_tokens_details.audio_tokens",
    "usage.prompt_tokens_details.cached_tokens",
    "usage.completion_tokens_details.accepted_prediction_tokens",
    "usage.completion_tokens_details.audio_tokens",
    "usage.completion_tokens_details.rejected_prediction_tokens",
}


@pytest.fixture
async def llm(llm_routes: respx.MockRouter, llm_api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with http.AsyncClient(base_url=LLM_API_URL, headers={"Authorization": f"Bearer {llm_api_key}"}) as client:
        yield client


def differences(recorded: dict[str, Any], response: httpx.Response) -> list[str]:
    problems = []
    if response.status_code != recorded["status"]:
        problems.append(f"status {response.status_code}, recorded {recorded['status']}")
    if not response.headers.get("content-type", "").startswith("application/json"):
        problems.append(f"content-type {response.headers.get('content-type')!r}")
    expected, got = key_paths(recorded["response"]), key_paths(response.json())
    if missing := sorted(expected - got - DELIBERATELY_WITHOUT):
        problems.append(f"keys the real answer has and the fake's lacks: {missing}")
    if extra := sorted(got - expected - DELIBERATELY_ADDED):
        problems.append(f"keys only the fake's answer has: {extra}")
    return problems


async def test_a_plain_answer_has_the_recorded_keys(llm: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("recorded-plain", [Turn.say("I cannot look up the weather.")])
    response = await llm.post(
        "/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "recorded-plain: weather in SF?"}]},
    )
    problems = differences(RECORDED["plain"], response)
    assert problems == [], "\n".join(problems)


async def test_a_tool_call_has_the_recorded_keys(llm: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("recorded-tool", [Turn.call("get_weather", city="Edinburgh")])
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    response = await llm.post(
        "/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "recorded-tool: weather in Edinburgh?"}],
            "tools": [tool],
        },
    )
    problems = differences(RECORDED["tool_call"], response)
    assert problems == [], "\n".join(problems)
