"""A pipeline survives its worker dying mid-way (seed 000: recycle the worker, run again).

The platform runs without its in-app worker; pipelines run in `python -m app.worker` processes.
One is killed with SIGKILL in the middle of a task; another takes the job over once its lease
runs out, and the task still ends as exactly one pull request, with no sandbox left running, and the
stream replays exactly the events the database holds (the fault matrix's checks, reliability_tests/faults).
"""

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from fixtures.databases import worker_database_url
from fixtures.factories import agent_data, squad_data, task_data
from fixtures.outcomes import assert_no_sandbox_left, assert_replay_equals_database
from fixtures.platform_client import FakeE2BAdmin, FakeGitHubAdmin, PlatformClient
from fixtures.sse import SseRecorder
from fixtures.stack import ROOT, Stack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.errors, pytest.mark.slow, pytest.mark.priority_p1]

LEASE_S = "1.5"


@pytest.fixture(scope="module")
def worker_stack(worker_id_label, tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own, with the in-app worker off."""
    environ = {k: v for k, v in os.environ.items() if k not in ("SQUAD_BASE_URL", "FAKE_E2B_URL", "FAKE_GITHUB_URL")}
    stack = start_stack(
        environ=environ,
        database_url=worker_database_url(f"{worker_id_label}_workers", tmp_path_factory.mktemp("workers-db")),
        log_dir=ROOT / "reports" / "stack" / f"{worker_id_label}-workers",
        announce=lambda line: None,
        extra_platform_env={
            "SQUAD_RUN_WORKER": "false",
            "JOB_LEASE_S": LEASE_S,
            "WORKER_POLL_INTERVAL_S": "0.2",
            # The workers' events reach the platform's streams through the database: look often.
            "SSE_POLL_INTERVAL_S": "0.2",
        },
    )
    yield stack
    stack.stop()


class Workers:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        assert self.stack.platform.env is not None
        log = (self.stack.platform.log_path.parent / f"worker-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "app.worker"], cwd=ROOT, env=self.stack.platform.env, stdout=log, stderr=log
        )
        log.close()
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.terminate()  # SIGTERM, so a coverage run keeps what the worker measured
        for process in self.processes:
            process.wait()


@pytest.fixture
def workers(worker_stack) -> Iterator[Workers]:
    pool = Workers(worker_stack)
    yield pool
    pool.stop_all()


@pytest.mark.parametrize("kill_after", ["clone", "pull_request"])
def test_a_job_whose_worker_was_killed_is_taken_over_and_opens_one_pull_request(worker_stack, workers, kill_after):
    platform = PlatformClient(worker_stack.base_url)
    github = FakeGitHubAdmin(worker_stack.github_url)
    squad_body = squad_data()
    owner, name = squad_body["repository"].split("/")
    github.create_repo(owner, name)
    squad = platform.create_squad(**squad_body)
    client = platform.as_squad(squad["token"])
    agent = client.create_agent(**agent_data())
    task = client.create_task(**task_data())
    e2b = FakeE2BAdmin(worker_stack.e2b_url, worker_stack.e2b_api_key)
    # Slow enough to die mid-pipeline: every E2B call of this task's sandboxes waits, until the kill.
    e2b.add_fault(operation="*", kind="latency", latency_ms=120, match={"metadata": {"task_id": task["id"]}})
    if kill_after == "pull_request":
        # Hold the first request for the pull request long enough to kill its worker during it.
        github.add_fault(
            operation="create_pull_request",
            kind="latency",
            latency_ms=1500,
            times=1,
            match={"repository": f"{owner}/{name}"},
        )
    first = workers.start()

    with SseRecorder(worker_stack.base_url, squad["token"], params={"task_id": task["id"]}) as stream:
        client.assign(task["id"], agent["id"])
        stream.wait_for(lambda e: e["type"] == "pipeline.step", what="the first worker to take the job")
        # The second worker starts now, while the first holds the job's lease: it waits, idle, until
        # the lease runs out, and its start-up does not add to the test's time.
        workers.start()
        stream.wait_for(
            lambda e: e["type"] == "pipeline.step" and e["data"]["step"] == kill_after, what=f"the {kill_after} step"
        )
        first.kill()
        first.wait()
        e2b.clear_faults()  # the second run goes at full speed
        final = stream.wait_for(
            lambda e: e["type"] == "task.status" and e["data"]["status"] in ("review", "failed"),
            timeout=60,
            what="the task to finish on the second worker",
        )
        stream.wait_for(
            lambda e: e["type"] == "sandbox.status" and e["data"]["status"] in ("done", "failed"),
            what="the final sandbox status",
        )
        events = list(stream.events)

    assert final["data"]["status"] == "review", final["data"]["error"]
    steps = [e["data"]["step"] for e in events if e["type"] == "pipeline.step"]
    assert steps.count("sandbox") == 2, f"expected a second run from the start, saw steps {steps}"
    pulls = github.pulls(owner, name, worker_stack.github_token, state="all")
    assert len(pulls) == 1, f"expected one pull request, got {[p['html_url'] for p in pulls]}"
    assert client.get_task(task["id"])["pr_url"] == pulls[0]["html_url"]
    commits = github.branch_log(owner, name, pulls[0]["head"]["ref"])
    assert len(commits) == 2, f"the branch should hold the initial commit and one agent commit: {commits}"
    assert_replay_equals_database(worker_stack, squad["token"], task["id"], events)
    assert_no_sandbox_left(e2b, task["id"])
