"""Scripting the fake LLM's turns for a conversation, the default agent for the rest, and what the fake
records of each conversation (mocks.llm.scripts, mocks.llm.agent)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx
import pytest

from mocks.llm import FakeLLM, ToolCall, Turn, TurnError

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

MODEL = "gpt-4o-mini"
TOOL_NAMES = ("run_command", "read_file", "write_file", "finish")


def tools(*names: str) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}} for name in names]


ALL_TOOLS = tools(*TOOL_NAMES)


def opening(marker: str, title: str = "Fix the failing test") -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a coding agent working in a sandbox."},
        {"role": "user", "content": f"Task {marker}: {title}\n\nThe repository is cloned in /home/user/repo."},
    ]


class Agent:
    """A minimal agent loop, as the platform runs one: send, run the tool calls, send their results."""

    def __init__(self, client: httpx.AsyncClient, messages: list[dict[str, Any]], offered: list[dict] | None) -> None:
        self.client = client
        self.messages = list(messages)
        self.tools = offered

    async def ask(self) -> httpx.Response:
        body: dict[str, Any] = {"model": MODEL, "messages": self.messages}
        if self.tools:
            body["tools"] = self.tools
        return await self.client.post("/chat/completions", json=body)

    async def step(self) -> dict[str, Any]:
        """One turn: the assistant's message, then a tool result for each call; returns the message."""
        response = await self.ask()
        assert response.status_code == 200, response.text
        message = response.json()["choices"][0]["message"]
        self.messages.append({key: value for key, value in message.items() if key in ("role", "content", "tool_calls")})
        for call in message.get("tool_calls") or []:
            self.messages.append(
                {"role": "tool", "tool_call_id": call["id"], "content": f"ran {call['function']['name']}"}
            )
        return message


def called(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (call["function"]["name"], json.loads(call["function"]["arguments"]))
        for call in message.get("tool_calls") or []
    ]


# -- scripts ------------------------------------------------------------------------------------------
async def test_a_script_answers_its_conversation_turn_by_turn(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    """Write a file, run the tests, see them fail, fix, run again, finish."""
    fake_llm.script(
        "t-41",
        [
            Turn.call("write_file", path="calc.py", content="def add(a, b):\n    return a - b\n"),
            Turn.call("run_command", command="python -m pytest -q"),
            Turn.calls(ToolCall("write_file", {"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"})),
            Turn.call("run_command", command="python -m pytest -q"),
            Turn.finish_with("Fixed add()"),
        ],
        name="fix add",
    )
    agent = Agent(llm_api, opening("t-41"), ALL_TOOLS)

    turns = [called(await agent.step()) for _ in range(5)]

    assert [name for turn in turns for name, _ in turn] == [
        "write_file",
        "run_command",
        "write_file",
        "run_command",
        "finish",
    ]
    assert turns[2][0][1]["content"].endswith("return a + b\n")
    conversation = fake_llm.conversation("t-41")
    assert conversation.script_name == "fix add"
    assert [(answer.turn, answer.status, answer.finish_reason) for answer in conversation.answers] == [
        (turn, 200, "tool_calls") for turn in range(5)
    ]
    assert conversation.messages == agent.messages[:-2], "the latest request: all but the last answer and its result"


async def test_the_same_request_asked_again_gets_the_same_answer(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("t-42", [Turn.call("run_command", command="ls"), Turn.say("done")])
    agent = Agent(llm_api, opening("t-42"), ALL_TOOLS)

    first = (await agent.ask()).json()["choices"][0]["message"]
    retried = (await agent.ask()).json()["choices"][0]["message"]
    await agent.step()
    after = await agent.step()

    assert first["tool_calls"] == retried["tool_calls"], "a retry must see the same tool call ids and arguments"
    assert after["content"] == "done"
    assert [answer.turn for answer in fake_llm.conversation("t-42").answers] == [0, 0, 0, 1]


async def test_a_script_matches_only_conversations_opening_with_its_marker(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    script = fake_llm.script("t-43", [Turn.say("scripted")])
    later_mention = [*opening("t-44"), {"role": "assistant", "content": "ok"}, {"role": "user", "content": "see t-43"}]

    mine = await Agent(llm_api, opening("t-43"), None).step()
    other = await Agent(llm_api, opening("t-44"), None).step()
    mentioned_later = await Agent(llm_api, later_mention, None).step()

    assert mine["content"] == "scripted"
    assert other["content"] != "scripted" and mentioned_later["content"] != "scripted"
    # the later mention goes on with t-44's conversation: it opens the same way
    assert [c.script_name for c in fake_llm.conversations()] == [f"script {script.id}", None]


async def test_the_oldest_matching_script_wins_and_a_conversation_keeps_its_script(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    older = fake_llm.script("t-45", [Turn.say("older 1"), Turn.say("older 2"), Turn.say("older 3")])
    fake_llm.script("Task t-45", [Turn.say("newer 1"), Turn.say("newer 2"), Turn.say("newer 3")])
    agent = Agent(llm_api, opening("t-45"), None)

    first = await agent.step()
    fake_llm.script("t-4", [Turn.say("newest 1"), Turn.say("newest 2"), Turn.say("newest 3")])
    second = await agent.step()
    fake_llm.remove_script(older)
    third = await agent.step()

    assert [first["content"], second["content"], third["content"]] == ["older 1", "older 2", "newer 3"]


async def test_an_error_turn_refuses_the_next_turns_request_then_lets_its_retry_through(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        "t-46",
        [Turn.fail(429, times=2, headers={"retry-after-ms": "250"}), Turn.say("answered")],
    )
    agent = Agent(llm_api, opening("t-46"), None)

    refusals = [await agent.ask() for _ in range(2)]
    retried = await agent.ask()

    assert [r.status_code for r in refusals] == [429, 429]
    assert refusals[0].json()["error"]["type"] == "requests"
    assert refusals[0].json()["error"]["message"].startswith("Rate limit reached")
    assert (refusals[0].headers["retry-after-ms"], refusals[0].headers["retry-after"]) == ("250", "1")
    assert "x-ratelimit-remaining-requests" in refusals[0].headers
    assert retried.json()["choices"][0]["message"]["content"] == "answered"
    assert [answer.status for answer in fake_llm.conversation("t-46").answers] == [429, 429, 200]


async def test_an_error_given_always_refuses_every_try(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("t-47", [Turn.fail(500, times=None, message="kaput", code="server_is_down")])
    agent = Agent(llm_api, opening("t-47"), None)

    answers = [await agent.ask() for _ in range(3)]

    assert [a.status_code for a in answers] == [500] * 3
    assert answers[0].json() == {
        "error": {"message": "kaput", "type": "server_error", "param": None, "code": "server_is_down"}
    }


async def test_a_turn_with_an_error_and_an_answer_gives_both_in_turn(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script("t-48", [Turn.say("first"), Turn(content="second", error=TurnError(503))])
    agent = Agent(llm_api, opening("t-48"), None)

    await agent.step()
    overloaded = await agent.ask()
    second = await agent.step()

    assert overloaded.status_code == 503
    assert overloaded.json()["error"]["message"].startswith("That model is currently overloaded")
    assert second["content"] == "second"


async def test_past_its_last_turn_a_script_says_so(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("t-49", [Turn.say("only")], name="short")
    agent = Agent(llm_api, opening("t-49"), ALL_TOOLS)

    await agent.step()
    past = await agent.step()

    assert past["content"] == "[fake LLM] short has no turn 2: it scripts 1."


async def test_scripted_arguments_given_as_a_string_are_sent_verbatim(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        "t-50", [Turn(tool_calls=[ToolCall("write_file", '{"path": "a.py", "cont')], finish_reason="length")]
    )

    response = await Agent(llm_api, opening("t-50"), ALL_TOOLS).ask()

    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["tool_calls"][0]["function"]["arguments"] == '{"path": "a.py", "cont'


async def test_a_turn_delay_is_added_before_the_answer(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script("t-51", [Turn(content="slow", delay_ms=200)])

    began = time.monotonic()
    response = await Agent(llm_api, opening("t-51"), None).ask()

    assert response.status_code == 200 and time.monotonic() - began >= 0.2


async def test_looking_a_conversation_up_wants_exactly_one(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    with pytest.raises(LookupError, match="0 conversations open with 't-52'"):
        fake_llm.conversation("t-52")
    await Agent(llm_api, opening("t-52", "one"), None).ask()
    await Agent(llm_api, opening("t-52", "two"), None).ask()

    with pytest.raises(LookupError, match="2 conversations"):
        fake_llm.conversation("t-52")
    assert fake_llm.conversation("t-52: one").requests[0]["messages"] == opening("t-52", "one")


async def test_the_conversation_records_what_the_model_was_sent(llm_api: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    """What a test of the platform asserts on: e.g. that no secret reached the prompt."""
    agent = Agent(llm_api, opening("t-53"), ALL_TOOLS)
    await agent.step()
    await agent.step()

    conversation = fake_llm.conversation("t-53")
    journal = fake_llm.requests("create_chat_completion")

    assert conversation.opening == opening("t-53")
    assert len(conversation.requests) == 2 and conversation.requests[1]["messages"] == agent.messages[:-2]
    assert "Task t-53" in conversation.sent_text() and "ghp_" not in conversation.sent_text()
    assert [entry.body["messages"][-1]["role"] for entry in journal] == ["user", "tool"]
    copy = fake_llm.conversations()[0]
    copy.requests.clear()
    assert len(fake_llm.conversations()[0].requests) == 2, "conversations() hands out copies"


# -- the default agent --------------------------------------------------------------------------------
async def test_the_default_agent_writes_a_note_checks_it_and_finishes(llm_api: httpx.AsyncClient) -> None:
    agent = Agent(llm_api, opening("t-60", "Add a changelog entry"), ALL_TOOLS)

    turns = [await agent.step() for _ in range(4)]

    (write,), (check,), (finish,) = (called(turn) for turn in turns[:3])
    assert write[0] == "write_file" and write[1]["path"] == "AGENT_NOTES.md"
    assert "Task: Task t-60: Add a changelog entry" in write[1]["content"]
    assert check == ("run_command", {"command": "cat AGENT_NOTES.md"})
    assert finish == (
        "finish",
        {"summary": "Added AGENT_NOTES.md with a short note on the task: Task t-60: Add a changelog entry"},
    )
    assert (turns[3].get("tool_calls"), turns[3]["content"]) == (None, finish[1]["summary"])


async def test_the_default_agent_answers_plain_text_when_offered_no_tools(
    llm_api: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    response = await Agent(llm_api, opening("t-61"), None).ask()

    choice = response.json()["choices"][0]
    assert (choice["finish_reason"], choice["message"].get("tool_calls")) == ("stop", None)
    assert "Task t-61: Fix the failing test" in choice["message"]["content"]
    assert fake_llm.conversation("t-61").answers[0].source == "default agent"


@pytest.mark.parametrize(
    "offered",
    [combo for size in range(1, 5) for combo in itertools.combinations(TOOL_NAMES, size)],
    ids=lambda combo: "+".join(combo),
)
async def test_the_default_agent_only_calls_the_tools_offered(
    llm_api: httpx.AsyncClient, offered: tuple[str, ...]
) -> None:
    agent = Agent(llm_api, opening("t-62"), tools(*offered))

    turns = [await agent.step() for _ in range(4)]

    names = [name for turn in turns for name, _ in called(turn)]
    assert set(names) <= set(offered)
    assert turns[-1]["content"] and not turns[-1].get("tool_calls"), "it ends with plain text once the plan is done"
    if "finish" in offered:
        assert names[-1] == "finish"


async def test_the_default_agent_without_write_file_looks_around_and_finishes(llm_api: httpx.AsyncClient) -> None:
    agent = Agent(llm_api, opening("t-63"), tools("run_command", "finish"))

    first, second = called(await agent.step()), called(await agent.step())

    assert first == [("run_command", {"command": "git status --short"})]
    assert second[0][0] == "finish" and "changed nothing" in second[0][1]["summary"]


async def test_the_default_agent_follows_tool_choice(llm_api: httpx.AsyncClient) -> None:
    async def ask(tool_choice: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"model": MODEL, "messages": messages, "tools": ALL_TOOLS, "tool_choice": tool_choice}
        return (await llm_api.post("/chat/completions", json=body)).json()["choices"][0]["message"]

    past_the_plan = opening("t-64") + [{"role": "assistant", "content": "x"}, {"role": "user", "content": "go on"}] * 3

    none = await ask("none", opening("t-64"))
    named = await ask({"type": "function", "function": {"name": "read_file"}}, opening("t-64"))
    required = await ask("required", past_the_plan)

    assert none.get("tool_calls") is None and none["content"]
    assert called(named) == [("read_file", {"path": "AGENT_NOTES.md"})]
    assert called(required)[0][0] == "finish"


async def test_the_default_agents_note_names_the_latest_request(llm_api: httpx.AsyncClient) -> None:
    messages = [*opening("t-65"), {"role": "user", "content": "Review: please also mention the date\nthanks"}]

    (write,) = called(await Agent(llm_api, messages, ALL_TOOLS).step())

    assert "Latest request: Review: please also mention the date\n" in write[1]["content"]
