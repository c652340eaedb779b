"""The pipeline's work step as an agent loop, in process: the fake LLM's scripted turns through respx,
the tools carried out in the fake E2B's sandbox, the change committed to the fake GitHub.

A multi-step change with a failing then passing check; the model's mistakes and the caps that stop
it, each failing the task with its reason and leaving no sandbox; the provider's transient failures
retried mid-loop and its refusals reported; what the loop costs, on the task and in /metrics; and the
credentials the agent's commands cannot find."""

import json
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.agent.pricing import price_of
from app.models import Event, Task
from app.pipeline import branch_name
from fixtures.credentials import CANARY_E2B_API_KEY, CANARY_GITHUB_TOKEN, CANARY_LLM_API_KEY
from fixtures.squads import make_squad
from mocks.llm import ToolCall, Turn

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

SECRETS = (CANARY_E2B_API_KEY, CANARY_GITHUB_TOKEN, CANARY_LLM_API_KEY)
BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
CHECK = (
    "from calc import add\n\n"
    "if add(2, 3) != 5:\n"
    "    raise SystemExit(f'add(2, 3) is {add(2, 3)}, not 5')\n"
    "print('add works')\n"
)


@pytest.fixture
async def runtime_with(db_connection, runtime) -> AsyncIterator[Callable[..., Any]]:
    """`runtime_with(**settings)`: a runtime on the test's transaction with some settings changed."""
    from app.runtime import Runtime

    made: list[Runtime] = []

    def make(**changes: Any) -> Runtime:
        made.append(Runtime(runtime.settings.model_copy(update=changes), bind=db_connection))
        return made[-1]

    yield make
    for each in made:
        await each.__aexit__(None, None, None)


@pytest.fixture
async def squad(app_client, fake_e2b, fake_github, fake_llm):
    return await make_squad(app_client, fake_github)


async def run(squad, runtime, task: dict[str, Any]) -> None:
    await squad.assign(task["id"])
    assert await runtime.worker().run_once()


async def stored(db_session, task: dict[str, Any]) -> tuple[Task, list[Event]]:
    db_session.expire_all()
    row = await db_session.get(Task, task["id"])
    events = list(await db_session.scalars(select(Event).where(Event.task_id == task["id"]).order_by(Event.id)))
    return row, events


def of(events: list[Event], type: str) -> list[dict[str, Any]]:
    return [event.data for event in events if event.type == type]


def told(fake_llm, task: dict[str, Any]) -> list[str]:
    """The tool results the model was sent, in order."""
    return [m["content"] for m in fake_llm.conversation(task["id"]).messages if m["role"] == "tool"]


def assert_failed_cleanly(row: Task, events: list[Event], fake_e2b, fake_github, squad, reason: str) -> None:
    assert row.status == "failed", f"expected a failed task, got {row.status}"
    assert row.error == reason, row.error
    assert of(events, "task.status")[-1] == {"status": "failed", "pr_url": None, "error": reason}
    assert fake_e2b.running_sandboxes() == [], "the run left a sandbox running"
    assert fake_github.pull_requests(squad.owner, squad.repo_name) == []


async def test_the_agent_writes_a_module_and_its_check_sees_it_fail_fixes_it_and_the_pull_request_holds_it(
    runtime, squad, db_session, fake_llm, fake_github, fake_e2b
):
    """1. the agent writes calc.py (with a bug) and a check of it, and runs the check: it fails;
    2. it reads the module, fixes it, runs the check again: it passes; it finishes;
    3. the pull request's branch holds exactly the two files, the body the summary;
    4. the events tell the story: each call and result with its exit code, the usage each turn."""
    task = await squad.new_task(title="Add an adder", description="calc.add(a, b) returns the sum.")
    fake_llm.script(
        task["id"],
        [
            Turn.calls(
                ToolCall("write_file", {"path": "calc.py", "content": BUGGY}),
                ToolCall("write_file", {"path": "test_calc.py", "content": CHECK}),
                content="I'll add the module and a check.",
            ),
            # -B: no __pycache__ beside the files (the commit takes whatever the agent's commands leave).
            Turn.call("run_command", command="python3 -B test_calc.py"),
            Turn.call("read_file", path="calc.py"),
            Turn.call("write_file", path="calc.py", content=FIXED),
            Turn.call("run_command", command="python3 -B test_calc.py"),
            Turn.finish_with("Added calc.add with a check; the check passes."),
        ],
    )

    await run(squad, runtime, task)

    row, events = await stored(db_session, task)
    assert (row.status, row.error) == ("review", None)
    results = told(fake_llm, task)
    assert results[2] == "exit code: 1\nadd(2, 3) is -1, not 5\n", "the first check fails"
    assert results[3] == BUGGY
    assert results[5] == "exit code: 0\nadd works\n", "the second check passes"
    repo = fake_github.get_repo(squad.owner, squad.repo_name)
    changed = repo.git.git("diff", "--name-status", f"main...{row.branch}").splitlines()
    assert sorted(changed) == ["A\tcalc.py", "A\ttest_calc.py"]
    assert repo.git.git("show", f"{row.branch}:calc.py") == FIXED
    (pull,) = fake_github.pull_requests(squad.owner, squad.repo_name)
    assert "Added calc.add with a check; the check passes." in pull.body
    assert [d["exit_code"] for d in of(events, "agent.tool_result")] == [None, None, 1, None, None, 0, None]
    assert [d["name"] for d in of(events, "agent.tool_call")] == [
        "write_file", "write_file", "run_command", "read_file", "write_file", "run_command", "finish",
    ]  # fmt: skip
    assert of(events, "agent.message")[0] == {
        "step": 1, "text": "I'll add the module and a check.", "offset": 0, "complete": True,
    }  # fmt: skip
    assert [d["step"] for d in of(events, "agent.usage")] == [1, 2, 3, 4, 5, 6]
    assert of(events, "agent.finished") == [{"step": 6, "summary": "Added calc.add with a check; the check passes."}]
    assert {e.agent_id for e in events if e.type.startswith("agent.")} == {squad.agent["id"]}
    steps = [d["step"] for d in of(events, "pipeline.step")]
    work, commit = steps.index("work"), steps.index("commit")
    agent_event_ids = [e.id for e in events if e.type.startswith("agent.")]
    step_ids = [e.id for e in events if e.type == "pipeline.step"]
    assert step_ids[work] < min(agent_event_ids) and max(agent_event_ids) < step_ids[commit]


async def test_the_task_api_shows_what_the_agent_spent_as_the_provider_counted_it(runtime, squad, fake_llm, app_client):
    task = await squad.new_task()
    fake_llm.script(task["id"], [Turn.call("write_file", path="a.txt", content="a\n"), Turn.finish_with("done")])

    await run(squad, runtime, task)

    shown = await squad.client.get_task(task["id"])
    answers = fake_llm.conversation(task["id"]).answers
    prompt = sum(a.usage.prompt_tokens for a in answers)
    completion = sum(a.usage.completion_tokens for a in answers)
    assert (shown["prompt_tokens"], shown["completion_tokens"]) == (prompt, completion)
    assert shown["cost_usd"] == pytest.approx(price_of("gpt-4o-mini").cost(prompt, completion))
    assert prompt > 0 and completion > 0


async def test_the_metrics_count_the_llm_calls_their_tokens_and_their_cost(runtime, squad, fake_llm, app_client):
    task = await squad.new_task()
    fake_llm.script(
        task["id"],
        [Turn.fail(429, headers={"retry-after-ms": "1"}), Turn.call("run_command", command="true"), Turn.say("ok")],
    )

    await run(squad, runtime, task)

    text = (await app_client.get("/metrics")).text
    answers = fake_llm.conversation(task["id"]).answers
    prompt = sum(a.usage.prompt_tokens for a in answers if a.usage)
    assert 'squad_llm_calls_total{outcome="rate_limited"} 1.0' in text
    assert 'squad_llm_calls_total{outcome="ok"} 2.0' in text
    assert f'squad_llm_tokens_total{{kind="prompt"}} {float(prompt)}' in text
    assert "squad_llm_cost_usd_total " in text and "squad_llm_cost_usd_total 0.0\n" not in text


async def test_malformed_calls_are_answered_until_one_too_many_in_a_row_fails_the_task(
    runtime_with, squad, db_session, fake_llm, fake_github, fake_e2b
):
    task = await squad.new_task()
    fake_llm.script(
        task["id"],
        [
            Turn(tool_calls=[ToolCall("write_file", '{"path": "a.py", "content": "x = 1\\n"')]),
            Turn.call("write_file", path="a.py", content=1),
            Turn.call("run_command", command="true", shell="zsh"),
        ],
    )

    await run(squad, runtime_with(agent_max_tool_errors=2), task)

    row, events = await stored(db_session, task)
    reason = (
        "work step: agent stopped: 3 malformed tool calls in a row "
        "(last: run_command: unknown argument 'shell'; it takes command, cwd, timeout_s)"
    )
    assert_failed_cleanly(row, events, fake_e2b, fake_github, squad, reason)
    assert [d["error"] for d in of(events, "agent.tool_result")] == [True, True, True]
    assert of(events, "agent.stopped") == [
        {"step": 3, "reason": "tool_errors", "message": reason.removeprefix("work step: agent stopped: ")}
    ]


async def test_an_unknown_tool_is_told_to_the_model_which_carries_on(runtime, squad, db_session, fake_llm):
    task = await squad.new_task()
    fake_llm.script(
        task["id"],
        [
            Turn.call("open_browser", url="https://docs.python.org"),
            Turn.call("write_file", path="NOTES.md", content="no browser here\n"),
            Turn.finish_with("Noted."),
        ],
    )

    await run(squad, runtime, task)

    row, _ = await stored(db_session, task)
    assert row.status == "review", row.error
    assert told(fake_llm, task)[0] == (
        "error: there is no tool 'open_browser'; the tools are run_command, read_file, write_file, finish"
    )


@pytest.mark.parametrize(
    ("settings", "turns", "reason"),
    [
        pytest.param(
            {"agent_max_steps": 3},
            [Turn.call("run_command", command="true")] * 5,
            "step cap of 3 reached",
            id="steps",
        ),
        pytest.param(
            {"agent_max_seconds": 0.5},
            [Turn.call("run_command", command="sleep 30"), Turn.finish_with("never")],
            "ran for more than 0.5 s",
            id="seconds",
        ),
        pytest.param(
            {"agent_max_tokens": 1000},
            [Turn.call("run_command", command="true")] * 5,
            "token budget of 1000 tokens used up (",
            id="tokens",
        ),
        pytest.param(
            {"agent_max_cost_usd": 0.0002},
            [Turn.call("run_command", command="true")] * 5,
            "cost budget of $0.0002 used up ($0.000",
            id="cost",
        ),
    ],
)
async def test_each_cap_stops_the_agent_and_fails_the_task_with_its_reason(
    runtime_with, squad, db_session, fake_llm, fake_github, fake_e2b, settings, turns, reason
):
    task = await squad.new_task()
    fake_llm.script(task["id"], turns)

    await run(squad, runtime_with(**settings), task)

    row, events = await stored(db_session, task)
    assert row.status == "failed" and row.error.startswith(f"work step: agent stopped: {reason}"), row.error
    assert_failed_cleanly(row, events, fake_e2b, fake_github, squad, row.error)
    (stopped,) = of(events, "agent.stopped")
    assert stopped["message"].startswith(reason)
    assert of(events, "sandbox.status")[-1]["status"] == "failed"


async def test_a_conversation_outgrowing_the_models_context_window_fails_the_task_saying_so(
    runtime_with, squad, db_session, fake_llm, fake_github, fake_e2b
):
    fake_llm.add_model("small-context", context_window=1500)  # the opening fits; a long result does not
    task = await squad.new_task()
    fake_llm.script(task["id"], [Turn.call("run_command", command="seq 1 5000"), Turn.finish_with("never")])

    await run(squad, runtime_with(llm_model="small-context"), task)

    row, events = await stored(db_session, task)
    assert row.error.startswith(
        "work step: LLM: the conversation no longer fits the model's context window (small-context: "
        "This model's maximum context length is 1500 tokens."
    ), row.error
    assert_failed_cleanly(row, events, fake_e2b, fake_github, squad, row.error)


@pytest.mark.parametrize(
    "failure",
    [
        Turn.fail(429, headers={"retry-after-ms": "5"}),
        Turn.fail(429, headers={"retry-after": "0"}),
        Turn.fail(500),
        Turn.fail(503, times=2),
    ],
    ids=["429-retry-after-ms", "429-retry-after", "500", "503-twice"],
)
async def test_a_transient_llm_failure_mid_loop_is_retried_and_the_task_ends_in_review(
    runtime, squad, db_session, fake_llm, failure
):
    task = await squad.new_task()
    fake_llm.script(
        task["id"],
        [
            Turn.call("write_file", path="a.txt", content="a\n"),
            failure,
            Turn.call("run_command", command="cat a.txt"),
            Turn.finish_with("done"),
        ],
    )

    await run(squad, runtime, task)

    row, _ = await stored(db_session, task)
    assert row.status == "review", row.error
    statuses = [answer.status for answer in fake_llm.conversation(task["id"]).answers]
    assert statuses.count(200) == 3 and len(statuses) == 3 + (failure.error.times or 0)


async def test_an_llm_timeout_and_a_cut_stream_mid_loop_are_asked_again(
    runtime, squad, db_session, fake_llm, llm_routes
):
    task = await squad.new_task()
    fake_llm.script(
        task["id"],
        [
            Turn.call("write_file", path="a.txt", content="a\n"),
            Turn.call("run_command", command="true"),
            Turn.say("ok"),
        ],
    )
    route = llm_routes["create_chat_completion"]
    forward = route.side_effect
    calls = 0

    def second_times_out_third_is_cut(request: httpx.Request):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise httpx.ReadTimeout("the provider is slow")
        if calls == 3:
            return httpx.Response(200, content=b'data: {"choices": [{"index": 0, "delta": {"content": "par"}}]}\n\n')
        return forward(request)

    route.side_effect = second_times_out_third_is_cut

    await run(squad, runtime, task)

    row, _ = await stored(db_session, task)
    assert row.status == "review", row.error
    assert calls == 5, "three turns, one of them asked three times"


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Turn.fail(401, code="invalid_api_key", times=None), "work step: LLM: the LLM provider refused the API key"),
        (
            Turn.fail(429, code="insufficient_quota", message="You exceeded your current quota.", times=None),
            "work step: LLM: the LLM provider's quota for this key is used up (HTTP 429: You exceeded",
        ),
        (Turn.fail(503, times=None), "work step: LLM: the LLM provider failed to answer (HTTP 503: "),
    ],
    ids=["bad-key", "quota", "503-for-good"],
)
async def test_a_lasting_llm_failure_mid_loop_fails_the_task_with_a_clear_reason(
    runtime, squad, db_session, fake_llm, fake_github, fake_e2b, failure, reason
):
    task = await squad.new_task()
    fake_llm.script(task["id"], [Turn.call("write_file", path="a.txt", content="a\n"), failure, Turn.say("never")])

    await run(squad, runtime, task)

    row, events = await stored(db_session, task)
    assert row.error.startswith(reason), row.error
    assert_failed_cleanly(row, events, fake_e2b, fake_github, squad, row.error)


async def test_an_unknown_model_fails_the_task_naming_llm_model(
    runtime_with, squad, db_session, fake_llm, fake_github, fake_e2b
):
    task = await squad.new_task()

    await run(squad, runtime_with(llm_model="gpt-7-turbo"), task)

    row, events = await stored(db_session, task)
    assert row.error.startswith("work step: LLM: the LLM provider has no model 'gpt-7-turbo'"), row.error
    assert row.error.endswith("check LLM_MODEL")
    assert_failed_cleanly(row, events, fake_e2b, fake_github, squad, row.error)


LOOKS_FOR_CREDENTIALS = [
    "env",
    "cat .git/config",
    "git config -l --show-origin",
    "cat ~/.git-credentials; ls -la ~ ~/.config 2>&1",
    "git remote -v",
    "grep -rs -e ghp_ -e sk- -e e2b_ ~ /tmp; true",
]


async def run_credential_hunt(squad, runtime, fake_llm, task) -> None:
    fake_llm.script(
        task["id"],
        [
            *[Turn.call("run_command", command=command) for command in LOOKS_FOR_CREDENTIALS],
            Turn.call("read_file", path=".git/config"),
            Turn.call("write_file", path="FOUND.md", content="nothing\n"),
            Turn.finish_with("Found no credentials."),
        ],
    )
    await run(squad, runtime, task)


def assert_no_credential_anywhere(fake_llm, task, events: list[Event]) -> None:
    results = told(fake_llm, task)
    assert len(results) == len(LOOKS_FOR_CREDENTIALS) + 2
    sent = fake_llm.conversation(task["id"]).sent_text()
    assert [secret for secret in SECRETS if secret in sent] == []
    # Nothing was there to clean: output cleaned of a secret would show the redaction mark.
    assert [result for result in results if "***" in result] == []
    assert "AGENT_SQUAD_GIT_TOKEN" not in sent, "git's credential variable reached the agent's environment"
    stored_text = json.dumps([event.data for event in events])
    assert [secret for secret in SECRETS if secret in stored_text] == []


async def test_the_agents_commands_find_no_credential_in_the_sandbox(runtime, squad, db_session, fake_llm):
    task = await squad.new_task()

    await run_credential_hunt(squad, runtime, fake_llm, task)

    row, events = await stored(db_session, task)
    assert row.status == "review", row.error
    assert_no_credential_anywhere(fake_llm, task, events)
    assert "url = " in told(fake_llm, task)[1], "the hunt really read .git/config"


async def test_after_fetching_a_pushed_branch_the_agents_commands_find_no_credential(
    runtime, squad, db_session, fake_llm, fake_github
):
    task = await squad.new_task()
    branch = branch_name(SimpleNamespace(id=task["id"], title=task["title"]))  # type: ignore[arg-type]
    fake_github.commit(squad.owner, squad.repo_name, branch, {"FIRST.md": "first attempt\n"}, "First attempt")

    await run_credential_hunt(squad, runtime, fake_llm, task)

    row, events = await stored(db_session, task)
    assert row.status == "review", row.error
    assert of(events, "task.branch") == [{"branch": branch, "resumed": True}]
    assert_no_credential_anywhere(fake_llm, task, events)


async def test_a_resumed_branch_is_named_to_the_model_and_needs_no_new_change(
    runtime, squad, db_session, fake_llm, fake_github
):
    task = await squad.new_task()
    branch = branch_name(SimpleNamespace(id=task["id"], title=task["title"]))  # type: ignore[arg-type]
    fake_github.commit(squad.owner, squad.repo_name, branch, {"FIRST.md": "first attempt\n"}, "First attempt")
    fake_llm.script(task["id"], [Turn.call("read_file", path="FIRST.md"), Turn.finish_with("The work was done.")])

    await run(squad, runtime, task)

    row, _ = await stored(db_session, task)
    assert row.status == "review", row.error
    opening = fake_llm.conversation(task["id"]).opening[1]["content"]
    assert f"Branch: {branch} (it already holds what an earlier attempt at this task pushed" in opening
    assert told(fake_llm, task) == ["first attempt\n"]
    assert len(fake_github.pull_requests(squad.owner, squad.repo_name)) == 1
