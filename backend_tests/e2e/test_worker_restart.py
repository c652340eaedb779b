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

from app.runtime import migrate
from fixtures.databases import worker_database_url
from fixtures.factories import agent_data, squad_data, task_data
from fixtures.outcomes import assert_no_sandbox_left, assert_replay_equals_database
from fixtures.platform_client import FakeE2BAdmin, FakeGitHubAdmin, PlatformClient
from fixtures.sse import SseRecorder
from fixtures.stack import ROOT, Stack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.errors, pytest.mark.slow, pytest.mark.priority_p1]

LEASE_S = "1.0"


class Workers:
    """`python -m app.worker` processes of the worker stack."""

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

    def running(self) -> list[subprocess.Popen]:
        return [process for process in self.processes if process.poll() is None]

    def stop(self, processes: list[subprocess.Popen]) -> None:
        for process in processes:
            process.terminate()  # SIGTERM, so a coverage run keeps what the worker measured
        for process in processes:
            process.wait()


@pytest.fixture(scope="module")
def workers(live_stack, worker_id_label, tmp_path_factory) -> Iterator[Workers]:
    """A platform of its own, with the in-app worker off, on the live stack's fakes, and its workers.

    The first worker starts up alongside the platform. Each test adds faults for its own task or
    repository and removes only those, so sharing the fakes changes nothing for other tests.
    """
    database_url = worker_database_url(f"{worker_id_label}_workers", tmp_path_factory.mktemp("workers-db"))
    migrate(database_url)  # made once, here: the platform and the first worker would both make it at once
    environ = {k: v for k, v in os.environ.items() if k != "SQUAD_BASE_URL"}
    environ |= {"FAKE_E2B_URL": live_stack.e2b_url, "FAKE_GITHUB_URL": live_stack.github_url}
    pools: list[Workers] = []

    def start_the_first_worker(stack: Stack) -> None:
        pools.append(Workers(stack))
        pools[0].start()

    try:
        stack = start_stack(
            environ=environ,
            database_url=database_url,
            log_dir=ROOT / "reports" / "stack" / f"{worker_id_label}-workers",
            announce=lambda line: None,
            extra_platform_env={
                "SQUAD_RUN_WORKER": "false",
                "JOB_LEASE_S": LEASE_S,
                "WORKER_POLL_INTERVAL_S": "0.1",
                # The workers' events reach the platform's streams through the database: look often.
                "SSE_POLL_INTERVAL_S": "0.1",
            },
            while_starting=start_the_first_worker,
        )
    except BaseException:
        for pool in pools:  # a worker already started must not outlive a stack that did not
            pool.stop(pool.running())
        raise
    (pool,) = pools
    yield pool
    pool.stop(pool.running())
    stack.stop()


@pytest.fixture
def first_worker(workers) -> subprocess.Popen:
    """The one idle worker a test starts with: the module's first, or the one that took over the test before.

    Starting a worker costs about a second; a test leaves its surviving worker idle, so only the
    worker that takes over has to start during a test.
    """
    running = workers.running()
    workers.stop(running[1:])
    return running[0] if running else workers.start()


@pytest.mark.parametrize("kill_after", ["clone", "pull_request"])
def test_a_job_whose_worker_was_killed_is_taken_over_and_opens_one_pull_request(workers, first_worker, kill_after):
    worker_stack = workers.stack
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

    with SseRecorder(worker_stack.base_url, squad["token"], params={"task_id": task["id"]}) as stream:
        client.assign(task["id"], agent["id"])
        stream.wait_for(lambda e: e["type"] == "pipeline.step", what="the first worker to take the job")
        # The second worker starts now, while the first holds the job's lease: it waits, idle, until
        # the lease runs out, and its start-up does not add to the test's time.
        workers.start()
        stream.wait_for(
            lambda e: e["type"] == "pipeline.step" and e["data"]["step"] == kill_after, what=f"the {kill_after} step"
        )
        first_worker.kill()
        first_worker.wait()
        if kill_after == "clone":
            e2b.remove_fault(slowed["id"])  # the second run goes at full speed
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
