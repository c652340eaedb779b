"""With the platform's default lease, a worker killed with SIGKILL mid-pipeline has its job taken over by
another worker within 15 s, and the task still ends as one pull request with no sandbox left.

The worker-restart stack runs its workers on a 1 s lease, to keep its tests short; here its workers are
stopped and two are started on the defaults (`JOB_LEASE_S` unset). The takeover is timed from the kill to
the first event of the second run, and reported as the test's `takeover_s` property.
"""

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import pytest

from fixtures.factories import agent_data, squad_data, task_data
from fixtures.outcomes import assert_no_sandbox_left, assert_replay_equals_database
from fixtures.platform_client import FakeE2BAdmin, FakeGitHubAdmin, PlatformClient
from fixtures.sse import SseRecorder
from fixtures.stack import ROOT, stop_processes
from fixtures.waiting import eventually
from fixtures.worker_stack import WorkerStack

pytestmark = [pytest.mark.e2e, pytest.mark.errors, pytest.mark.slow, pytest.mark.priority_p1]

TAKEOVER_LIMIT_S = 15.0


class DefaultLeaseWorkers:
    """`python -m app worker` processes of the worker stack's platform, on the platform's default lease."""

    def __init__(self, stack: WorkerStack) -> None:
        assert stack.stack.platform.env is not None and stack.stack.platform.log_path is not None
        self._env = {name: value for name, value in stack.stack.platform.env.items() if name != "JOB_LEASE_S"}
        self._log_dir = stack.stack.platform.log_path.parent
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log_path = self.log_path(len(self.processes))
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "app", "worker"], cwd=ROOT, env=self._env, stdout=log, stderr=log
            )
        self.processes.append(process)

        def started() -> None:
            assert process.poll() is None, f"the worker exited with {process.returncode}; see {log_path}"
            assert " started, running up to " in log_path.read_text(), f"not started yet; see {log_path}"

        eventually(started, timeout=30, interval=0.1, description="a default-lease worker to start")
        return process

    def running_task(self, task_id: str, candidates: list[subprocess.Popen]) -> subprocess.Popen:
        """The one of `candidates` that runs the task (each worker logs the jobs it starts)."""
        mentions = f"(task {task_id}, attempt"

        def holder() -> subprocess.Popen:
            found = [p for p in candidates if mentions in self.log_path(self.processes.index(p)).read_text()]
            assert len(found) == 1, f"{len(found)} of the workers say they run task {task_id}"
            return found[0]

        return eventually(holder, timeout=10, interval=0.05, description=f"the worker of task {task_id}")

    def log_path(self, index: int) -> Path:
        return self._log_dir / f"default-lease-worker-{index}.log"

    def stop(self) -> None:
        stuck = stop_processes(self.processes)
        assert stuck == [], f"{len(stuck)} worker(s) did not stop on SIGTERM; see {self._log_dir}"


@pytest.fixture
def default_lease_workers(worker_stack) -> Iterator[DefaultLeaseWorkers]:
    worker_stack.stop_workers(worker_stack.running_workers())  # none of the 1 s lease may take the job
    workers = DefaultLeaseWorkers(worker_stack)
    yield workers
    workers.stop()


@pytest.fixture
def clients() -> Iterator[ExitStack]:
    """Closes the HTTP clients a test opens."""
    with ExitStack() as opened:
        yield opened


def test_a_killed_workers_job_is_taken_over_within_15_s_on_the_default_lease(
    worker_stack, default_lease_workers, clients, record_property
):
    stack = worker_stack.stack
    platform = clients.enter_context(closing(PlatformClient(stack.base_url, admin_token=stack.admin_token)))
    github = FakeGitHubAdmin(stack.github_url)
    e2b = FakeE2BAdmin(stack.e2b_url, stack.e2b_api_key)
    clients.enter_context(github.http)
    clients.enter_context(e2b.http)
    squad_body = squad_data()
    owner, name = squad_body["repository"].split("/")
    github.create_repo(owner, name)
    squad = platform.create_squad(**squad_body)
    client = clients.enter_context(closing(platform.as_squad(squad["token"])))
    agent = client.create_agent(**agent_data())
    task = client.create_task(**task_data())
    # Slow enough to die mid-pipeline: every E2B call of this task's sandboxes waits, until the kill.
    slowed = e2b.add_fault(operation="*", kind="latency", latency_ms=250, match={"metadata": {"task_id": task["id"]}})
    # Both up before the job exists: the one that does not take it waits, warm, for the lease to run out.
    workers = [default_lease_workers.start(), default_lease_workers.start()]

    with SseRecorder(stack.base_url, squad["token"], params={"task_id": task["id"]}) as stream:
        client.assign(task["id"], agent["id"])
        clone = stream.wait_for(
            lambda e: e["type"] == "pipeline.step" and e["data"]["step"] == "clone", what="the clone step"
        )
        holder = default_lease_workers.running_task(task["id"], workers)
        holder.kill()
        holder.wait()
        killed_at = time.monotonic()
        e2b.remove_fault(slowed["id"])
        stream.wait_for(
            lambda e: e["id"] > clone["id"] and e["type"] == "sandbox.status" and e["data"]["status"] == "creating",
            timeout=TAKEOVER_LIMIT_S + 15,
            what="the second run to start",
        )
        takeover_s = time.monotonic() - killed_at
        record_property("takeover_s", round(takeover_s, 2))
        final = stream.wait_for_run_to_end("the task to finish on the second worker")
        events = list(stream.events)

    assert takeover_s < TAKEOVER_LIMIT_S, f"the job was taken over {takeover_s:.1f} s after the kill"
    assert final["data"]["status"] == "review", final["data"]["error"]
    pulls = github.pulls(owner, name, stack.github_token, state="all")
    assert len(pulls) == 1, f"expected one pull request, got {[p['html_url'] for p in pulls]}"
    assert_replay_equals_database(stack, squad["token"], task["id"], events)
    assert_no_sandbox_left(e2b, task["id"])
