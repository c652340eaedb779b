"""The fault matrix, end to end through the live stack (uvicorn platform, fake E2B and GitHub servers).

For every fault: the task ends in a defined state (review with one pull request, or failed with a
reason), the stream replayed from Last-Event-ID 0 equals the events stored in the database, no pull
request is opened twice, and no sandbox is left running in the fake E2B. Faults are injected through
the fakes' admin HTTP API (`/_fake/faults`, rate limits), narrowed to the test's task or repository.
The worker killed mid-pipeline is backend_tests/e2e/test_worker_restart.py, with the same assertions.
"""

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from fixtures.outcomes import (
    SECONDARY_RATE_LIMIT_ONCE,
    TIMEOUT_LATENCY_MS,
    Scene,
    assert_clean_end,
)
from fixtures.postgres import terminate_connections
from fixtures.sse import SseRecorder
from fixtures.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.errors, pytest.mark.slow]


@dataclass(frozen=True)
class Fault:
    inject: Callable[[Scene], Any]
    outcome: str  # "review" or "failed"
    reason: str | None = None  # a part of the failure reason
    # Sandbox creations of the task the fake E2B carries out, a late one included: the check that no
    # sandbox is left waits for them all, or it could pass before a late creation lands.
    creations: int | None = None


FAULTS = {
    "e2b-create-5xx-always-fails-the-task": Fault(
        lambda s: s.e2b_fault(operation="create_sandbox", status=500), "failed", "E2B had a server error"
    ),
    "e2b-create-timeout-once-is-retried": Fault(
        lambda s: s.e2b_fault(operation="create_sandbox", kind="latency", latency_ms=TIMEOUT_LATENCY_MS, times=1),
        "review",
        creations=2,
    ),
    "e2b-create-reset-once-is-retried": Fault(
        lambda s: s.e2b_fault(operation="create_sandbox", kind="reset", times=1), "review"
    ),
    "e2b-create-reset-always-fails-the-task": Fault(
        lambda s: s.e2b_fault(operation="create_sandbox", kind="reset"), "failed", "cannot reach E2B"
    ),
    "envd-command-5xx-once-is-retried": Fault(
        lambda s: s.e2b_fault(operation="process_start", status=502, after=1, times=1), "review"
    ),
    "e2b-destroy-reset-once-still-destroys": Fault(
        lambda s: s.e2b_fault(operation="kill_sandbox", kind="reset", times=1), "review"
    ),
    "github-create-pull-timeout-opens-one-pull-request": Fault(
        lambda s: s.github_fault(
            operation="create_pull_request", kind="latency", latency_ms=TIMEOUT_LATENCY_MS, times=1
        ),
        "review",
    ),
    "github-primary-rate-limit-is-waited-out": Fault(
        lambda s: s.github.set_rate_limit(s.stack.github_token, remaining=0, reset=int(time.time()) + 2),
        "review",
    ),
    "github-primary-rate-limit-past-the-cap-fails-the-task": Fault(
        lambda s: s.github.set_rate_limit(s.stack.github_token, remaining=0, reset=int(time.time()) + 7200),
        "failed",
        "rate limit",
    ),
    "github-secondary-rate-limit-on-pull-request-is-waited-out": Fault(
        lambda s: s.github_fault(operation="create_pull_request", **SECONDARY_RATE_LIMIT_ONCE),
        "review",
    ),
}
CENTRAL = {"e2b-create-timeout-once-is-retried", "github-create-pull-timeout-opens-one-pull-request"}


PARAMS = [
    pytest.param(fault, id=name, marks=[pytest.mark.priority_p0 if name in CENTRAL else pytest.mark.priority_p1])
    for name, fault in FAULTS.items()
]


@pytest.mark.parametrize("fault", PARAMS)
def test_a_service_fault_ends_the_task_cleanly_with_every_event_and_one_pull_request_at_most(scene: Scene, fault):
    fault.inject(scene)

    with scene.stream() as live:
        scene.assign()
        task, received = scene.wait_for_the_end(live)
    scene.restore_rate_limit()  # a rate-limit fault must not keep the checks below from reading GitHub

    if fault.creations is not None:
        eventually(lambda: _sandboxes_created(scene, fault.creations), description="every sandbox creation to land")
    assert_clean_end(scene, task, received, fault.outcome, fault.reason)


def _sandboxes_created(scene: Scene, expected: int) -> None:
    created = [
        call
        for call in scene.e2b.journal()
        if call["operation"] == "create_sandbox"
        and call["status"] == 201
        and (call["body"] or {}).get("metadata", {}).get("task_id") == scene.task_id
    ]
    assert len(created) == expected, f"the fake E2B created {len(created)} sandboxes of the task, expected {expected}"


def _step(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["type"] == "pipeline.step" and event["data"]["step"] == name


@contextlib.contextmanager
def _held_at_the_clone(scene: Scene, latency_ms: int) -> Iterator[SseRecorder]:
    """The task assigned, with its stream open, once its pipeline reaches the clone step; the clone's first
    git request stalls `latency_ms` in the fake GitHub, so the pipeline is mid-command meanwhile."""
    scene.github_fault(operation="git_info_refs", kind="latency", latency_ms=latency_ms, times=1)
    with scene.stream() as live:
        scene.assign()
        live.wait_for(_step("clone"), what="the clone step")
        yield live


def _held_request_arrived(admin) -> None:
    assert admin.faults() == [], f"expected the held request to have taken the fault rule, rules left: {admin.faults()}"


@pytest.mark.priority_p0
def test_a_sandbox_killed_mid_command_fails_the_task_saying_the_sandbox_is_gone(scene: Scene):
    with _held_at_the_clone(scene, latency_ms=3000) as live:
        eventually(lambda: _held_request_arrived(scene.github), description="git clone to reach the fake GitHub")
        sandbox_id = next(
            e["data"]["sandbox_id"] for e in live.events if e["type"] == "sandbox.status" and e["data"]["sandbox_id"]
        )
        scene.e2b.kill_sandbox(sandbox_id)
        task, received = scene.wait_for_the_end(live)

    assert_clean_end(scene, task, received, "failed", "clone step")


@pytest.mark.priority_p1
def test_a_push_rejected_by_the_remote_fails_the_task_and_opens_no_pull_request(scene: Scene, tmp_path):
    """Someone else pushes to the agent's branch while the agent's push is on its way."""
    scene.github_fault(
        operation="git_info_refs", kind="latency", latency_ms=2500, times=1, match={"query": "git-receive-pack"}
    )

    with scene.stream() as live:
        scene.assign()
        branch = live.wait_for(lambda e: e["type"] == "task.branch", what="the branch")["data"]["branch"]
        live.wait_for(_step("push"), what="the push step")
        eventually(lambda: _held_request_arrived(scene.github), description="the agent's push to reach GitHub")
        _rival_push(scene, branch, tmp_path)
        task, received = scene.wait_for_the_end(live)

    assert_clean_end(scene, task, received, "failed", "rejected")


def _rival_push(scene: Scene, branch: str, workdir) -> None:
    url = scene.squad.repository["clone_url"].replace("://", f"://x-access-token:{scene.stack.github_token}@", 1)
    git = ["git", "-c", "user.name=rival", "-c", "user.email=rival@example.invalid", "-C", str(workdir)]
    subprocess.run([*git, "clone", "--quiet", url, "rival"], check=True, timeout=30)
    (workdir / "rival" / "RIVAL.md").write_text("someone else was here\n")
    rival = [*git[:-1], str(workdir / "rival")]
    for command in (["checkout", "--quiet", "-b", branch], ["add", "RIVAL.md"], ["commit", "--quiet", "-m", "rival"]):
        subprocess.run([*rival, *command], check=True, timeout=30)
    subprocess.run([*rival, "push", "--quiet", "origin", branch], check=True, timeout=30)


@pytest.mark.priority_p0
def test_a_platform_restart_under_connected_streams_loses_no_event_and_the_job_is_finished(scene: Scene):
    """The client's stream drops with the server; it resumes with Last-Event-ID and misses nothing."""

    with _held_at_the_clone(scene, latency_ms=2000) as before:
        scene.stack.restart_platform()
        received = list(before.events)
    with _resumed(scene, received[-1]["id"]) as resumed:
        task = scene.wait_until_finished()
        resumed.wait_for_final_sandbox_status(timeout=15, what="the final sandbox status after the restart")
        received += list(resumed.events)

    assert_clean_end(scene, task, received, "review")


def _resumed(scene: Scene, last_event_id: int) -> SseRecorder:
    return SseRecorder(
        scene.stack.base_url,
        scene.squad.token,
        params={"task_id": scene.task_id},
        **{"Last-Event-ID": str(last_event_id)},
    )


@pytest.mark.priority_p1
def test_database_connections_terminated_mid_pipeline_lose_nothing_and_the_task_finishes(scene: Scene):
    url = make_url(scene.stack.database_url or "")
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (run under `python -m tools.postgres --`): SQLite has no connections to kill")

    with _held_at_the_clone(scene, latency_ms=1500) as live:
        terminated = asyncio.run(terminate_connections(url))
        task, received = scene.wait_for_the_end(live)

    assert terminated > 0, "the platform held no database connection to terminate"
    assert_clean_end(scene, task, received, "review")
