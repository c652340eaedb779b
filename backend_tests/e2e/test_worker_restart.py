"""A pipeline survives its worker dying mid-way: another worker takes the job over and runs it again.

The platform runs without its in-app worker; pipelines run in `python -m app.worker` processes.
One is killed with SIGKILL in the middle of a task; another takes the job over once its lease
runs out, and the task still ends as exactly one pull request, with no sandbox left running, and the
stream replays exactly the events the database holds (the fault matrix's checks, reliability_tests/faults).
"""

import subprocess

import pytest

from fixtures.factories import task_data
from fixtures.outcomes import assert_no_sandbox_left, assert_replay_equals_database
from fixtures.platform_client import FakeE2BAdmin, FakeGitHubAdmin, FakeLLMAdmin, PlatformClient
from fixtures.squads import SquadFactory
from fixtures.sse import SseRecorder
from fixtures.waiting import eventually
from mocks.llm import ToolCall, Turn

pytestmark = [pytest.mark.e2e, pytest.mark.errors, pytest.mark.slow, pytest.mark.priority_p1]


@pytest.fixture
def first_worker(worker_stack) -> subprocess.Popen:
    """The one idle worker a test starts with: the stack's first, or the one that took over the test before.

    Starting a worker costs about a second; a test leaves its surviving worker idle, so only the
    worker that takes over has to start during a test.
    """
    running = worker_stack.running_workers()
    worker_stack.stop_workers(running[1:])
    return running[0] if running else worker_stack.start_worker()


# On every pull request too: the tier holds at least one test of each capability of the platform.
@pytest.mark.priority_p0
@pytest.mark.parametrize("kill_after", ["clone", "pull_request"])
def test_a_job_whose_worker_was_killed_is_taken_over_and_opens_one_pull_request(worker_stack, first_worker, kill_after):
    stack = worker_stack.stack
    github = FakeGitHubAdmin(stack.github_url)
    made = SquadFactory(PlatformClient(stack.base_url, admin_token=stack.admin_token), github, stack.base_url)()
    squad, client, agent = made.squad, made.client, made.agent
    owner, name = made.owner, made.repo_name
    task = client.create_task(**task_data())
    e2b = FakeE2BAdmin(stack.e2b_url, stack.e2b_api_key)
    if kill_after == "clone":
        # Slow enough to die mid-pipeline: every E2B call of this task's sandboxes waits, until the kill.
        slowed = e2b.add_fault(
            operation="*", kind="latency", latency_ms=120, match={"metadata": {"task_id": task["id"]}}
        )
    else:
        # Hold the first request for the pull request long enough to kill its worker during it.
        github.add_fault(
            operation="create_pull_request",
            kind="latency",
            latency_ms=1500,
            times=1,
            match={"repository": f"{owner}/{name}"},
        )

    with SseRecorder(stack.base_url, squad["token"], params={"task_id": task["id"]}) as stream:
        client.assign(task["id"], agent["id"])
        stream.wait_for(lambda e: e["type"] == "pipeline.step", what="the first worker to take the job")
        # The second worker starts now, while the first holds the job's lease: it waits, idle, until
        # the lease runs out, and its start-up does not add to the test's time.
        worker_stack.start_worker()
        stream.wait_for(
            lambda e: e["type"] == "pipeline.step" and e["data"]["step"] == kill_after, what=f"the {kill_after} step"
        )
        first_worker.kill()
        first_worker.wait()
        if kill_after == "clone":
            e2b.remove_fault(slowed["id"])  # the second run goes at full speed
        final = stream.wait_for_run_to_end("the task to finish on the second worker")
        events = list(stream.events)

    assert final["data"]["status"] == "review", final["data"]["error"]
    steps = [e["data"]["step"] for e in events if e["type"] == "pipeline.step"]
    assert steps.count("sandbox") == 2, f"expected a second run from the start, saw steps {steps}"
    pulls = github.pulls(owner, name, stack.github_token, state="all")
    assert len(pulls) == 1, f"expected one pull request, got {[p['html_url'] for p in pulls]}"
    assert client.get_task(task["id"])["pr_url"] == pulls[0]["html_url"]
    commits = github.branch_log(owner, name, pulls[0]["head"]["ref"])
    assert len(commits) == 2, f"the branch should hold the initial commit and one agent commit: {commits}"
    assert_replay_equals_database(stack, squad["token"], task["id"], events)
    assert_no_sandbox_left(e2b, task["id"])


def _asked_for_turns(llm: FakeLLMAdmin, script_name: str, turns: int) -> None:
    asked = len(llm.conversation(script_name)["answers"])
    assert asked >= turns, f"the model was asked for {asked} turns so far, not {turns}"


def test_a_worker_killed_in_the_middle_of_the_agents_loop_is_taken_over_and_the_loop_starts_again(
    worker_stack, first_worker
):
    """1. the agent writes a file, then waits on its model's slow second turn: its worker is killed then;
    2. the next worker takes the job over: a new sandbox, a fresh clone (nothing was pushed yet), and
       the conversation from its first turn again (the fake answers the same turns to the same opening);
    3. the task ends as one pull request whose branch holds the agent's one commit, no sandbox left."""
    stack = worker_stack.stack
    github = FakeGitHubAdmin(stack.github_url)
    made = SquadFactory(PlatformClient(stack.base_url, admin_token=stack.admin_token), github, stack.base_url)()
    client, agent = made.client, made.agent
    task = client.create_task(**task_data())
    llm = FakeLLMAdmin(stack.llm_url)
    llm.script(
        task["id"],
        [
            Turn.call("write_file", path="WORK.md", content="the agent's work\n"),
            Turn(tool_calls=[ToolCall("run_command", {"command": "cat WORK.md"})], delay_ms=2500),
            Turn.finish_with("Wrote WORK.md"),
        ],
        name=task["id"],
    )
    try:
        with SseRecorder(stack.base_url, made.token, params={"task_id": task["id"]}) as stream:
            client.assign(task["id"], agent["id"])
            stream.wait_for(lambda e: e["type"] == "pipeline.step", what="the first worker to take the job")
            worker_stack.start_worker()
            stream.wait_for(lambda e: e["type"] == "agent.tool_result", what="the agent's first tool call to end")
            eventually(
                lambda: _asked_for_turns(llm, task["id"], 2),
                timeout=30,
                description="the agent to ask its model for the second turn",
            )
            first_worker.kill()  # while the model "thinks" about its second turn
            first_worker.wait()
            final = stream.wait_for_run_to_end("the task to finish on the second worker")
            events = list(stream.events)
        conversation = llm.conversation(task["id"])
    finally:
        llm.remove_added()

    assert final["data"]["status"] == "review", final["data"]["error"]
    steps = [e["data"]["step"] for e in events if e["type"] == "pipeline.step"]
    assert steps.count("sandbox") == 2 and steps.count("work") == 2, f"expected a second run, saw steps {steps}"
    calls = [(e["data"]["step"], e["data"]["name"]) for e in events if e["type"] == "agent.tool_call"]
    assert calls == [(1, "write_file"), (1, "write_file"), (2, "run_command"), (3, "finish")], calls
    # The first run asked for turns 1 and 2 (killed waiting for the second); the second run from turn 1 again.
    assert [a["turn"] for a in conversation["answers"]] == [0, 1, 0, 1, 2]
    pulls = github.pulls(made.owner, made.repo_name, stack.github_token, state="all")
    assert len(pulls) == 1, f"expected one pull request, got {[p['html_url'] for p in pulls]}"
    commits = github.branch_log(made.owner, made.repo_name, pulls[0]["head"]["ref"])
    assert len(commits) == 2, f"the branch should hold the initial commit and one agent commit: {commits}"
    assert_replay_equals_database(stack, made.token, task["id"], events)
    assert_no_sandbox_left(FakeE2BAdmin(stack.e2b_url, stack.e2b_api_key), task["id"])
