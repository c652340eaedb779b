"""A run destroys only what it made. A sandbox made by hand for a task (POST /api/v1/sandboxes) outlives
the task's pipeline runs, failed or not, and their takeovers; the sandbox of the task's next run outlives a
late end of the run before it; the reaper leaves both alone and takes what the earlier run left."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from app.models import Job, Sandbox, Task
from app.reaper import PIPELINE_ORIGIN, SandboxReaper
from fixtures.squads import Squad, make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def running_ids(fake_e2b) -> set[str]:
    return {sandbox.sandbox_id for sandbox in fake_e2b.running_sandboxes()}


def run_sandbox(fake_e2b, api: Squad, task_id: str, run_id: str):
    """A sandbox as the pipeline's run `run_id` makes it at E2B."""
    metadata = {"task_id": task_id, "squad_id": api.squad["id"], "run_id": run_id, **PIPELINE_ORIGIN}
    return fake_e2b.create_sandbox(metadata=metadata)


async def assert_untouched(db_session, fake_e2b, by_hand: dict) -> None:
    row = await db_session.get(Sandbox, by_hand["id"])
    await db_session.refresh(row)
    assert by_hand["e2b_sandbox_id"] in running_ids(fake_e2b), "the sandbox made by hand no longer runs at E2B"
    assert (row.status, row.destroyed_at) == ("ready", None), "the sandbox made by hand is marked destroyed"


async def task_status(db_session, task_id: str) -> str:
    return await db_session.scalar(
        select(Task.status).where(Task.id == task_id).execution_options(populate_existing=True)
    )


async def test_a_sandbox_made_by_hand_survives_the_tasks_pipeline_run(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    by_hand = await api.new_sandbox(task["id"])

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    assert await task_status(db_session, task["id"]) == "review"
    await assert_untouched(db_session, fake_e2b, by_hand)
    assert running_ids(fake_e2b) == {by_hand["e2b_sandbox_id"]}, "the run's own sandbox should be gone"


async def test_a_sandbox_made_by_hand_survives_a_failed_pipeline_run(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    by_hand = await api.new_sandbox(task["id"])
    # The push is refused: the run fails after its sandbox was made.
    fake_github.add_fault("git_receive_pack", status=403)

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    assert await task_status(db_session, task["id"]) == "failed"
    await assert_untouched(db_session, fake_e2b, by_hand)
    assert running_ids(fake_e2b) == {by_hand["e2b_sandbox_id"]}, "the run's own sandbox should be gone"


async def test_a_takeover_destroys_what_the_dead_attempt_made_and_not_the_sandbox_made_by_hand(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    """1. A worker claims the job and dies after E2B made its sandbox, before the platform stored it.
    2. Its lease runs out; another worker takes the job over.
    3. The dead attempt's sandbox, known only to E2B by its run id, is destroyed; the one made by hand is not."""
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    by_hand = await api.new_sandbox(task["id"])
    await api.assign(task["id"])
    dead = await runtime.worker().claim()
    assert dead is not None
    unrecorded = run_sandbox(fake_e2b, api, task["id"], dead.run_id)
    await db_session.execute(update(Job).where(Job.id == dead.id).values(lease_expires_at=LONG_AGO))
    await db_session.commit()

    assert await runtime.worker().run_once()

    assert await task_status(db_session, task["id"]) == "review"
    assert unrecorded.sandbox_id not in running_ids(fake_e2b), "the dead attempt's sandbox still runs"
    await assert_untouched(db_session, fake_e2b, by_hand)


async def test_the_next_runs_sandbox_survives_a_late_end_of_the_run_before_it_and_the_reaper(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    """1. A worker claims the job (run 1) and stalls past its lease; another takes the job over (run 2),
       whose sandbox is up and recorded.
    2. Run 1 wakes up and goes to its end, sweeping for strays as every run does.
    3. Run 2's sandbox, and one made by hand for the task, still run, and the reaper leaves them too; what
       run 1 left (a creation E2B finished after run 1 ended) is the reaper's."""
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    by_hand = await api.new_sandbox(task["id"])
    await api.assign(task["id"])
    stalled_worker = runtime.worker()
    first = await stalled_worker.claim()
    assert first is not None
    await db_session.execute(update(Job).where(Job.id == first.id).values(lease_expires_at=LONG_AGO))
    await db_session.commit()
    second = await runtime.worker().claim()
    assert second is not None and second.earlier_run_ids == [first.run_id]
    next_sandbox = run_sandbox(fake_e2b, api, task["id"], second.run_id)
    next_row = Sandbox(task_id=task["id"], e2b_sandbox_id=next_sandbox.sandbox_id, status="ready", run_id=second.run_id)
    db_session.add(next_row)
    await db_session.commit()

    await stalled_worker._run_claimed(first)

    assert next_sandbox.sandbox_id in running_ids(fake_e2b), "run 1's end destroyed run 2's sandbox"
    await db_session.refresh(next_row)
    assert next_row.destroyed_at is None, "run 1's end marked run 2's sandbox destroyed"
    await assert_untouched(db_session, fake_e2b, by_hand)
    job = await db_session.get(Job, first.id, populate_existing=True)
    assert (job.state, job.run_id) == ("running", second.run_id), "run 1 settled a job it no longer holds"

    late = run_sandbox(fake_e2b, api, task["id"], first.run_id)
    reaped = await SandboxReaper(runtime.sessionmaker, runtime.sandboxes, interval_s=60).reap_once()

    assert reaped == [late.sandbox_id]
    assert running_ids(fake_e2b) == {next_sandbox.sandbox_id, by_hand["e2b_sandbox_id"]}


async def test_each_claim_of_a_job_starts_a_run_of_its_own_id_and_remembers_the_earlier_ones(
    app_client, runtime, db_session, fake_github
):
    api = await make_squad(app_client, fake_github, with_repository=False)
    task = await api.new_task()
    await api.assign(task["id"])
    claims = []
    for _ in range(3):
        claims.append(await runtime.worker().claim())
        await db_session.execute(update(Job).where(Job.task_id == task["id"]).values(lease_expires_at=LONG_AGO))
        await db_session.commit()

    run_ids = [claim.run_id for claim in claims]
    assert len(set(run_ids)) == 3 and all(run_ids), run_ids
    assert [claim.earlier_run_ids for claim in claims] == [[], run_ids[:1], run_ids[:2]]
