"""The LLM provider failing in the middle of an agent's loop, through the live stack: the fake LLM
server scripted (through its admin API) to refuse one turn of the task's conversation. What is
transient is retried and the task ends in review; what lasts fails the task with a reason naming
the provider, with no pull request and no sandbox left."""

from typing import Any

import pytest

from fixtures.factories import task_data
from fixtures.outcomes import assert_no_sandbox_left, assert_replay_equals_database
from fixtures.platform_client import FakeE2BAdmin
from fixtures.squads import PIPELINE_TIMEOUT_S, task_finished
from fixtures.sse import SseRecorder
from mocks.llm import Turn

pytestmark = [pytest.mark.errors, pytest.mark.priority_p1]


def run_with_a_failing_turn(live_stack, squad, fake_llm_admin, failure: Turn) -> tuple[dict[str, Any], list[dict]]:
    """The task's agent writes a file, meets `failure` on its second turn, then checks the file and finishes."""
    task = squad.client.create_task(**task_data())
    fake_llm_admin.script(
        task["id"],
        [
            Turn.call("write_file", path="NOTES.md", content="notes\n"),
            failure,
            Turn.call("run_command", command="cat NOTES.md"),
            Turn.finish_with("Wrote the notes."),
        ],
        name=task["id"],
    )
    with SseRecorder(live_stack.base_url, squad.token, params={"task_id": task["id"]}) as stream:
        squad.client.assign(task["id"], squad.agent["id"])
        stream.wait_for(task_finished(task["id"]), timeout=PIPELINE_TIMEOUT_S, what="the task to finish")
        events = list(stream.events)
    return squad.client.get_task(task["id"]), events


@pytest.mark.parametrize(
    "failure",
    [Turn.fail(429, headers={"retry-after-ms": "50"}), Turn.fail(503, times=2)],
    ids=["429", "503-twice"],
)
def test_a_transient_llm_failure_mid_loop_is_retried_and_the_pull_request_opens(
    live_stack, new_squad, fake_llm_admin, fake_github_admin, failure
):
    task, events = run_with_a_failing_turn(live_stack, new_squad, fake_llm_admin, failure)

    assert task["status"] == "review", task["error"]
    statuses = [a["status"] for a in fake_llm_admin.conversation(task["id"])["answers"]]
    assert statuses == [200] + [failure.error.status] * (failure.error.times or 1) + [200, 200], statuses
    pulls = fake_github_admin.pulls(new_squad.owner, new_squad.repo_name, live_stack.github_token, state="all")
    assert [p["html_url"] for p in pulls] == [task["pr_url"]]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (
            Turn.fail(401, code="invalid_api_key", times=None),
            "work step: LLM: the LLM provider refused the API key (HTTP 401: ",
        ),
        (
            Turn.fail(502, times=None),
            "work step: LLM: the LLM provider failed to answer (HTTP 502: ",
        ),
    ],
    ids=["401", "502-for-good"],
)
def test_a_lasting_llm_failure_mid_loop_fails_the_task_saying_so_and_cleans_up(
    live_stack, new_squad, fake_llm_admin, fake_github_admin, failure, reason
):
    task, events = run_with_a_failing_turn(live_stack, new_squad, fake_llm_admin, failure)

    assert task["status"] == "failed" and task["error"].startswith(reason), task["error"]
    assert [e["data"]["name"] for e in events if e["type"] == "agent.tool_result"] == ["write_file"]
    assert fake_github_admin.pulls(new_squad.owner, new_squad.repo_name, live_stack.github_token, state="all") == []
    assert_replay_equals_database(live_stack, new_squad.token, task["id"])
    assert_no_sandbox_left(FakeE2BAdmin(live_stack.e2b_url, live_stack.e2b_api_key), task["id"])
