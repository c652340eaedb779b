"""The agent's loop on its own: the fake LLM's scripted turns through respx, the tools carried out in a
fake E2B sandbox, the events recorded instead of stored. Its ends (finish, a plain answer, each cap),
what goes back to the model, and the events the board would follow."""

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.agent.loop import AgentLimits, AgentLoop, AgentStopped, Spend, _MessageStream
from app.agent.pricing import Price, price_of
from app.agent.prompt import AgentTask
from app.agent.tools import Toolbox
from app.services.errors import LLMAuthError
from app.services.llm import LLMService
from fixtures import http
from fixtures.credentials import CANARY_E2B_API_KEY, CANARY_GITHUB_TOKEN, CANARY_LLM_API_KEY
from mocks.llm import ToolCall, Turn
from mocks.llm.router import LLM_API_URL

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

SECRETS = (CANARY_E2B_API_KEY, CANARY_GITHUB_TOKEN, CANARY_LLM_API_KEY)


@dataclass
class Recorder:
    """The loop's reporter: every event, with the task changes stored with it, and what each transaction held."""

    events: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    transactions: list[list[str]] = field(default_factory=list)

    async def emit_all(self, events: list[tuple[str, dict[str, Any]]], **task_changes: Any) -> None:
        self.transactions.append([type for type, _ in events])
        self.events += [(type, data, task_changes) for type, data in events]

    def of(self, type: str) -> list[dict[str, Any]]:
        return [data for kind, data, _ in self.events if kind == type]

    @property
    def types(self) -> list[str]:
        return [kind for kind, _, _ in self.events]


@pytest.fixture(scope="module")
async def llm_client():
    async with http.AsyncClient(
        base_url=LLM_API_URL, headers={"Authorization": f"Bearer {CANARY_LLM_API_KEY}"}
    ) as client:
        yield client


@pytest.fixture
def task() -> AgentTask:
    task_id = uuid.uuid4().hex
    return AgentTask(
        task_id=task_id,
        title="Fix the adder",
        description="add() subtracts.",
        repository="acme/widgets",
        branch=f"agent/{task_id[:8]}-fix-the-adder",
        base_branch="main",
        resumed=False,
        agent_name="ada-bot",
    )


@pytest.fixture
async def repo_sandbox(sandbox, sh):
    await sh(sandbox, "mkdir -p repo", cwd="/home/user")
    return sandbox


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_loop(llm_client, retry_policy, sandboxes, repo_sandbox, task, recorder, fake_llm):
    def make(
        price: Price | None = None, spent_before: Spend | None = None, clock=None, told=task, **limits: Any
    ) -> AgentLoop:
        llm = LLMService(llm_client, model="gpt-4o-mini", retry=retry_policy)
        toolbox = Toolbox(sandboxes, repo_sandbox, secrets=SECRETS, output_chars=2000, command_timeout_s=20.0)
        # The clock only paces the message's streamed pieces (one every 0.1 s): it stands still unless a
        # test moves it, so a busy machine does not add pieces to the events a test expects.
        options: dict[str, Any] = {"clock": clock or (lambda: 0.0)}
        return AgentLoop(
            llm,
            toolbox,
            told,
            recorder,
            limits=AgentLimits(**limits),
            price=price or price_of("gpt-4o-mini"),
            secrets=SECRETS,
            spent_before=spent_before,
            **options,
        )

    return make


def tool_messages(fake_llm, task: AgentTask) -> list[str]:
    return [m["content"] for m in fake_llm.conversation(task.task_id).messages if m["role"] == "tool"]


async def test_the_model_works_with_the_tools_until_it_calls_finish(
    make_loop, fake_llm, task, recorder, sh, repo_sandbox
):
    fake_llm.script(
        task.task_id,
        [
            Turn.call("write_file", path="calc.py", content="def add(a, b):\n    return a + b\n"),
            Turn.call("run_command", command="python3 -c 'import calc; print(calc.add(2, 3))'"),
            Turn.finish_with("Fixed add(); 2 + 3 is 5."),
        ],
    )

    outcome = await make_loop().run()

    assert (outcome.summary, outcome.steps) == ("Fixed add(); 2 + 3 is 5.", 3)
    assert tool_messages(fake_llm, task) == ["wrote 32 bytes to /home/user/repo/calc.py", "exit code: 0\n5\n"]
    assert await sh(repo_sandbox, "cat calc.py") == "def add(a, b):\n    return a + b"
    assert recorder.types == ["agent.usage", "agent.tool_call", "agent.tool_result"] * 3


async def test_a_turns_message_usage_and_first_call_are_stored_together_and_each_result_at_once(
    make_loop, fake_llm, task, recorder
):
    fake_llm.script(
        task.task_id,
        [
            Turn.calls(
                ToolCall("run_command", {"command": "true"}),
                ToolCall("run_command", {"command": "false"}),
                content="Go.",
            ),
            Turn.say("Done."),
        ],
    )

    await make_loop().run()

    assert recorder.transactions == [
        ["agent.message", "agent.usage", "agent.tool_call"],
        ["agent.tool_result", "agent.tool_call"],
        ["agent.tool_result"],
        ["agent.message", "agent.usage"],
    ]


async def test_each_tool_call_and_result_is_an_event_with_its_id(make_loop, fake_llm, task, recorder):
    fake_llm.script(
        task.task_id,
        [Turn.calls(ToolCall("run_command", {"command": "echo hi; exit 4"}, id="call_a")), Turn.finish_with("ok")],
    )

    await make_loop().run()

    assert recorder.of("agent.tool_call")[0] == {
        "step": 1,
        "id": "call_a",
        "name": "run_command",
        "arguments": {"command": "echo hi; exit 4"},
    }
    assert recorder.of("agent.tool_result")[0] == {
        "step": 1,
        "id": "call_a",
        "name": "run_command",
        "exit_code": 4,
        "error": False,
        "output": "exit code: 4\nhi\n",
    }


async def test_a_turn_without_tool_calls_ends_the_work_with_its_text_as_the_summary(
    make_loop, fake_llm, task, recorder
):
    fake_llm.script(task.task_id, [Turn.say("Nothing needed changing.")])

    outcome = await make_loop().run()

    assert (outcome.summary, outcome.steps) == ("Nothing needed changing.", 1)
    assert recorder.of("agent.message") == [
        {"step": 1, "text": "Nothing needed changing.", "offset": 0, "complete": True}
    ]


async def test_several_calls_of_one_turn_are_carried_out_in_order(make_loop, fake_llm, task):
    fake_llm.script(
        task.task_id,
        [
            Turn.calls(
                ToolCall("write_file", {"path": "a.txt", "content": "first\n"}),
                ToolCall("run_command", {"command": "cat a.txt"}),
                ToolCall("write_file", {"path": "a.txt", "content": "second\n"}),
                ToolCall("read_file", {"path": "a.txt"}),
            ),
            Turn.finish_with("done"),
        ],
    )

    await make_loop().run()

    assert tool_messages(fake_llm, task) == [
        "wrote 6 bytes to /home/user/repo/a.txt",
        "exit code: 0\nfirst\n",
        "wrote 7 bytes to /home/user/repo/a.txt",
        "second\n",
    ]


async def test_the_step_cap_stops_the_agent_before_another_turn(make_loop, fake_llm, task, recorder):
    fake_llm.script(task.task_id, [Turn.call("run_command", command="true")] * 5)

    with pytest.raises(AgentStopped) as raised:
        await make_loop(max_steps=2).run()

    assert str(raised.value) == "agent stopped: step cap of 2 reached"
    assert raised.value.reason == "step_cap"
    assert len(fake_llm.conversation(task.task_id).requests) == 2
    assert recorder.of("agent.stopped") == [{"step": 2, "reason": "step_cap", "message": "step cap of 2 reached"}]


async def test_the_time_cap_stops_the_agent_in_the_middle_of_a_command(make_loop, fake_llm, task, recorder):
    fake_llm.script(task.task_id, [Turn.call("run_command", command="sleep 30"), Turn.finish_with("never")])

    with pytest.raises(AgentStopped) as raised:
        await make_loop(max_seconds=0.5).run()

    assert str(raised.value) == "agent stopped: ran for more than 0.5 s"
    assert recorder.of("agent.stopped")[0]["reason"] == "time_cap"
    assert recorder.of("agent.tool_result") == [], "the command was cut short, not finished"


async def test_the_token_budget_stops_the_agent_as_soon_as_a_turn_goes_over_it(make_loop, fake_llm, task, recorder):
    fake_llm.script(
        task.task_id,
        [Turn.call("write_file", path="a.txt", content="a"), Turn.call("write_file", path="b.txt", content="b")],
    )
    budget = 1000  # a turn's prompt (system prompt, task, tools) is about 750 tokens by the fake's rule: two go over

    with pytest.raises(AgentStopped) as raised:
        await make_loop(max_tokens=budget).run()

    used = recorder.of("agent.usage")[-1]["total_tokens"]
    assert used > budget and len(recorder.of("agent.usage")) == 2
    assert str(raised.value) == f"agent stopped: token budget of {budget} tokens used up ({used} tokens used)"
    assert [data["name"] for data in recorder.of("agent.tool_call")] == ["write_file"], (
        "the call of the turn that went over the budget is not carried out"
    )


async def test_the_cost_budget_stops_the_agent_at_the_turn_that_spends_past_it(make_loop, fake_llm, task, recorder):
    fake_llm.script(task.task_id, [Turn.call("run_command", command="true")] * 3)
    dollar_per_thousand = Price(input_per_mtok=1000.0, output_per_mtok=1000.0)

    with pytest.raises(AgentStopped) as raised:
        await make_loop(price=dollar_per_thousand, max_cost_usd=1.0).run()

    spent = recorder.of("agent.usage")[-1]["cost_usd"]
    assert spent > 1.0 and raised.value.reason == "cost_budget"
    assert str(raised.value) == f"agent stopped: cost budget of $1 used up (${spent:.4f} spent)"


async def test_usage_is_reported_each_turn_and_the_task_totals_go_on_from_earlier_runs(
    make_loop, fake_llm, task, recorder
):
    fake_llm.script(task.task_id, [Turn.call("run_command", command="true"), Turn.finish_with("done")])
    earlier = Spend(prompt_tokens=1000, completion_tokens=100, cost_usd=0.5)

    outcome = await make_loop(spent_before=earlier).run()

    answers = fake_llm.conversation(task.task_id).answers
    prompt = sum(a.usage.prompt_tokens for a in answers)
    completion = sum(a.usage.completion_tokens for a in answers)
    cost = price_of("gpt-4o-mini").cost(prompt, completion)
    (_, last, changes) = [event for event in recorder.events if event[0] == "agent.usage"][-1]
    assert last == {
        "step": 2,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost_usd": round(cost, 6),
        "estimated": False,
    }
    assert changes == {
        "prompt_tokens": 1000 + prompt,
        "completion_tokens": 100 + completion,
        "cost_usd": pytest.approx(0.5 + cost),
    }
    assert (outcome.spend.prompt_tokens, outcome.spend.completion_tokens) == (prompt, completion)


async def test_malformed_calls_go_back_to_the_model_which_may_correct_them(make_loop, fake_llm, task, recorder):
    fake_llm.script(
        task.task_id,
        [
            Turn(tool_calls=[ToolCall("write_file", '{"path": "a.txt", "content": ')]),
            Turn.call("write_file", path="a.txt"),
            Turn.call("launch_rockets", count=3),
            Turn.call("write_file", path="a.txt", content="fixed\n"),
            Turn.finish_with("done"),
        ],
    )

    outcome = await make_loop(max_tool_errors=3).run()

    told = tool_messages(fake_llm, task)
    assert outcome.summary == "done"
    assert told[0].startswith("error: write_file: the arguments are not valid JSON (")
    assert told[1:] == [
        "error: write_file: the argument 'content' is required",
        "error: there is no tool 'launch_rockets'; the tools are run_command, read_file, write_file, finish",
        "wrote 6 bytes to /home/user/repo/a.txt",
    ]
    assert [data["error"] for data in recorder.of("agent.tool_result")] == [True, True, True, False, False]
    assert recorder.of("agent.tool_call")[0]["arguments"] == '{"path": "a.txt", "content": '


async def test_one_malformed_call_too_many_in_a_row_stops_the_agent(make_loop, fake_llm, task):
    fake_llm.script(
        task.task_id,
        [
            Turn.call("run_command"),
            Turn.call("run_command", command="true"),  # a good call: the count starts again
            Turn.call("run_command"),
            Turn.call("run_command"),
            Turn.call("run_command", cwd=7),
        ],
    )

    with pytest.raises(AgentStopped) as raised:
        await make_loop(max_tool_errors=2).run()

    assert raised.value.reason == "tool_errors"
    assert str(raised.value) == (
        "agent stopped: 3 malformed tool calls in a row (last: run_command: the argument 'command' is required)"
    )


async def test_streamed_text_is_reported_in_deltas_no_more_often_than_the_interval(make_loop, fake_llm, task, recorder):
    text = "Looking at the adder first, then its tests. " * 4
    fake_llm.script(task.task_id, [Turn.say(text)])
    ticks = iter(i * 0.04 for i in range(10_000))  # every read of the clock is 40 ms later

    await make_loop(clock=lambda: next(ticks)).run()

    messages = recorder.of("agent.message")
    deltas, complete = messages[:-1], messages[-1]
    assert complete == {"step": 1, "text": text, "offset": 0, "complete": True}
    assert 1 < len(deltas) < len(text) // 4, "pieces of 4 characters, grouped"
    assert [d["offset"] for d in deltas] == [sum(len(p["text"]) for p in deltas[:i]) for i in range(len(deltas))]
    assert text.startswith("".join(d["text"] for d in deltas))


async def test_a_secret_the_model_streams_across_deltas_is_in_no_event(make_loop, fake_llm, task, recorder):
    # The model cannot know the platform's keys; a model that echoes one anyway (from a file it read, say)
    # streams it in pieces of 4 characters, and the deltas are cut every 100 ms wherever the text is.
    text = f"The deploy key is {CANARY_GITHUB_TOKEN}, and the other one {CANARY_E2B_API_KEY}. " * 3
    fake_llm.script(task.task_id, [Turn.say(text)])
    ticks = iter(i * 0.04 for i in range(10_000))  # every read of the clock is 40 ms later

    await make_loop(clock=lambda: next(ticks)).run()

    stored = json.dumps([data for _, data, _ in recorder.events])
    assert [secret for secret in SECRETS if secret in stored] == [], "a secret in an event"
    messages = recorder.of("agent.message")
    deltas, complete = messages[:-1], messages[-1]
    assembled = "".join(d["text"] for d in deltas)
    assert [secret for secret in SECRETS if secret in assembled] == [], "a secret in the deltas, put together"
    assert complete["text"] == text.replace(CANARY_GITHUB_TOKEN, "***").replace(CANARY_E2B_API_KEY, "***")
    # Deltas of about 20 characters: each secret (about 50) was streamed across several.
    assert len(deltas) > len(text) // 30, f"expected short deltas, got {len(deltas)}"
    assert [d["offset"] for d in deltas] == [sum(len(p["text"]) for p in deltas[:i]) for i in range(len(deltas))]
    assert complete["text"].startswith(assembled), "the deltas assemble into the message"


async def test_a_retried_turns_deltas_start_again_at_offset_zero():
    stored: list[dict[str, Any]] = []

    async def emit(data: dict[str, Any]) -> None:
        stored.append(data)

    stream = _MessageStream(emit, step=1, clock=iter(range(100)).__next__, secrets=SECRETS)
    await stream.add("Hel", 1)
    await stream.add("lo", 1)
    await stream.add("Hi", 2)

    assert [(d["text"], d["offset"]) for d in stored] == [("Hel", 0), ("lo", 3), ("Hi", 0)]


async def test_text_that_streams_in_while_a_delta_is_stored_goes_into_the_next_delta_not_one_each():
    now = 0.0
    stored: list[tuple[float, str]] = []

    async def slow_store(data: dict[str, Any]) -> None:
        nonlocal now
        stored.append((now, data["text"]))
        now += 0.5  # the database takes half a second to store it

    stream = _MessageStream(slow_store, step=1, clock=lambda: now, secrets=SECRETS)
    for _ in range(40):
        now += 0.01  # a piece of text every 10 ms, as a model streams
        await stream.add("abcd", 1)

    sizes = [len(text) for _, text in stored]
    assert len(sizes) == 3 and min(sizes) >= 40, (
        f"expected a delta of ten pieces or more a 100 ms past each store, got {sizes}"
    )


async def test_the_model_is_told_the_task_the_repository_and_the_branch(make_loop, fake_llm, task):
    fake_llm.script(task.task_id, [Turn.finish_with("done")])

    await make_loop().run()

    system, user = fake_llm.conversation(task.task_id).requests[0]["messages"]
    assert system["role"] == "system" and "You are ada-bot" in system["content"]
    assert all(name in system["content"] for name in ("run_command", "read_file", "write_file", "finish"))
    assert user["content"].splitlines()[0] == "Fix the adder", "the fake's default agent takes the first line"
    for told in ("add() subtracts.", f"Task: {task.task_id}", "acme/widgets", task.branch, "new, from main"):
        assert told in user["content"], told


async def test_a_secret_in_the_task_or_a_result_never_reaches_the_model(
    make_loop, fake_llm, task, recorder, sandboxes, repo_sandbox
):
    leaky = AgentTask(**{**task.__dict__, "description": f"the token is {CANARY_GITHUB_TOKEN}"})
    leak = f"{CANARY_E2B_API_KEY} {CANARY_LLM_API_KEY}".encode()
    await sandboxes.write_file(repo_sandbox, "/home/user/leak.txt", leak)
    fake_llm.script(
        task.task_id,
        [
            Turn.calls(
                ToolCall("run_command", {"command": "cat ../leak.txt"}), ToolCall("read_file", {"path": "../leak.txt"})
            ),
            Turn.finish_with("ok"),
        ],
    )
    await make_loop(told=leaky).run()

    sent = fake_llm.conversation(task.task_id).sent_text()
    assert not [secret for secret in SECRETS if secret in sent]
    assert tool_messages(fake_llm, task) == ["exit code: 0\n*** ***", "*** ***"], "the results were sent, cleaned"
    assert not [secret for secret in SECRETS if secret in json.dumps([e[1] for e in recorder.events])]


async def test_a_providers_refusal_ends_the_loop_as_the_providers_error(make_loop, fake_llm, task):
    fake_llm.script(task.task_id, [Turn.call("run_command", command="true"), Turn.fail(401, times=None)])

    with pytest.raises(LLMAuthError) as raised:
        await make_loop().run()

    assert "check LLM_API_KEY" in raised.value.message


async def test_arguments_that_are_json_but_no_object_are_shown_as_the_model_sent_them(
    make_loop, fake_llm, task, recorder
):
    fake_llm.script(task.task_id, [Turn(tool_calls=[ToolCall("run_command", '["ls", "-la"]')]), Turn.say("ok")])

    await make_loop().run()

    assert recorder.of("agent.tool_call")[0]["arguments"] == '["ls", "-la"]'
    assert recorder.of("agent.tool_result")[0]["output"] == "error: run_command: the arguments must be a JSON object"


async def test_a_timeout_of_something_else_than_the_loop_is_not_taken_for_the_time_cap(
    llm_client, retry_policy, task, recorder, fake_llm
):
    class TimingOut:
        async def call(self, name: str, arguments: str):
            raise TimeoutError("a timeout of the tool's own")

    fake_llm.script(task.task_id, [Turn.call("run_command", command="true")])
    loop = AgentLoop(
        LLMService(llm_client, model="gpt-4o-mini", retry=retry_policy),
        TimingOut(),  # type: ignore[arg-type]
        task,
        recorder,
        limits=AgentLimits(max_seconds=60),
        price=price_of("gpt-4o-mini"),
        secrets=SECRETS,
    )

    with pytest.raises(TimeoutError, match="a timeout of the tool's own"):
        await loop.run()

    assert recorder.of("agent.stopped") == []
