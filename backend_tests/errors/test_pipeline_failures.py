"""Each way the pipeline's services fail (sandbox creation, clone, push, GitHub's limits...), run
through the whole pipeline in-process.

Every failure must end the same way: the task failed with a reason a person can act on, an error
event on the stream, and no sandbox left running.
"""

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.models import Sandbox
from fixtures.credentials import CANARY_GITHUB_TOKEN

pytestmark = [pytest.mark.errors, pytest.mark.priority_p0]


async def assert_failed_cleanly(run, fake_e2b, reason_part: str) -> None:
    task = await run.assign_and_run()
    assert task.status == "failed"
    assert reason_part in task.error, task.error
    events = await run.events()
    final = [e for e in events if e.type == "task.status"][-1]
    assert (final.data["status"], final.data["error"]) == ("failed", task.error)
    assert events[-1].type == "sandbox.status" and events[-1].data["status"] == "failed"
    assert fake_e2b.running_sandboxes() == []
    rows = (await run.db_session.scalars(select(Sandbox).where(Sandbox.task_id == task.id))).all()
    assert all(row.destroyed_at is not None for row in rows), [(r.id, r.status) for r in rows]
    assert CANARY_GITHUB_TOKEN not in task.error and all(CANARY_GITHUB_TOKEN not in str(e.data) for e in events)


async def test_sandbox_creation_failing_fails_the_task_and_leaves_nothing(pipeline_run, fake_e2b, e2b_routes, runtime):
    fake_e2b.add_fault("create_sandbox", status=500)

    await assert_failed_cleanly(pipeline_run, fake_e2b, "E2B")

    assert e2b_routes["create_sandbox"].call_count == runtime.settings.retry_attempts
    assert fake_e2b.killed_sandboxes() == []


async def test_a_sandbox_quota_error_fails_the_task_with_the_reason(pipeline_run, fake_e2b):
    fake_e2b.add_fault("create_sandbox", status=429)

    await assert_failed_cleanly(pipeline_run, fake_e2b, "quota")


async def test_clone_timing_out_is_retried_then_fails_the_task_and_destroys_the_sandbox(
    pipeline_run, fake_e2b, e2b_routes, runtime
):
    forward = e2b_routes["process_start"].side_effect
    clone_attempts = []

    def time_out_clones(request: httpx.Request):
        if b"clone" in request.content:
            clone_attempts.append(request)
            raise httpx.ReadTimeout("timed out", request=request)
        return forward(request)

    e2b_routes["process_start"].side_effect = time_out_clones

    await assert_failed_cleanly(pipeline_run, fake_e2b, "clone")

    assert len(clone_attempts) == runtime.settings.retry_attempts
    assert e2b_routes["kill_sandbox"].call_count == 1


async def test_a_push_rejected_by_the_remote_fails_the_task_with_an_error_event(
    pipeline_run, fake_e2b, e2b_routes, fake_github, github_routes
):
    """Someone else pushes to the agent's branch between its clone and its push."""
    owner, name = pipeline_run.squad.owner, pipeline_run.squad.repo_name
    bare = fake_github.get_repo(owner, name).git.path
    forward = e2b_routes["process_start"].side_effect

    def push_a_rival_commit_first(request: httpx.Request):
        if b"push" in request.content:
            branch = pipeline_run_branch(request.content)
            rival_push(bare, branch)
        return forward(request)

    e2b_routes["process_start"].side_effect = push_a_rival_commit_first

    await assert_failed_cleanly(pipeline_run, fake_e2b, "rejected")

    assert github_routes["create_pull_request"].call_count == 0


def pipeline_run_branch(command: bytes) -> str:
    found = re.search(r"agent/[A-Za-z0-9._-]+", command.decode(errors="replace"))
    assert found, f"no agent branch in the push command: {command!r}"
    return found.group()


def rival_push(bare: Path, branch: str) -> None:
    workdir = bare.parent / f"rival-{branch.replace('/', '-')}"
    git = ["git", "-c", "user.name=rival", "-c", "user.email=rival@example.invalid"]
    subprocess.run([*git, "clone", "--quiet", str(bare), str(workdir)], check=True)
    (workdir / "RIVAL.md").write_text("someone else was here\n")
    subprocess.run([*git, "-C", str(workdir), "checkout", "--quiet", "-b", branch], check=True)
    subprocess.run([*git, "-C", str(workdir), "add", "RIVAL.md"], check=True)
    subprocess.run([*git, "-C", str(workdir), "commit", "--quiet", "-m", "rival"], check=True)
    subprocess.run([*git, "-C", str(workdir), "push", "--quiet", "origin", branch], check=True)


async def test_pull_request_creation_refused_with_403_fails_the_task_with_githubs_message(
    pipeline_run, fake_e2b, fake_github
):
    fake_github.add_fault("create_pull_request", status=403, body={"message": "Resource not accessible by integration"})

    await assert_failed_cleanly(pipeline_run, fake_e2b, "Resource not accessible by integration")


async def test_github_rate_limit_past_the_cap_fails_the_task_saying_so(pipeline_run, fake_e2b, fake_github):
    fake_github.set_rate_limit(CANARY_GITHUB_TOKEN, remaining=0, reset=4_102_444_800)

    await assert_failed_cleanly(pipeline_run, fake_e2b, "rate limits (GITHUB_RATE_LIMIT_MAX_WAIT_S); try again later")


async def test_a_secondary_rate_limit_is_waited_out_and_the_task_succeeds(
    pipeline_run, fake_e2b, fake_github, github_routes, github_waits
):
    fake_github.add_fault(
        "create_pull_request",
        status=403,
        headers={"retry-after": "45"},
        body={"message": "You have exceeded a secondary rate limit."},
        times=1,
    )

    task = await pipeline_run.assign_and_run()

    assert task.status == "review", task.error
    assert github_waits.waits == [45.0]
    assert github_routes["create_pull_request"].call_count == 2
    assert len(fake_github.pull_requests(pipeline_run.squad.owner, pipeline_run.squad.repo_name)) == 1
