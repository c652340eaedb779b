"""What a pipeline run cleans up: the sandboxes a dead attempt left, a stray sandbox of its run, a sandbox
E2B will not destroy, and a task whose job is given up. A run destroys only what it made.

The sandboxes no run owns any more are the reaper's (test_sandbox_reaper.py)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from app.models import Event, Job, Sandbox, Task
from app.reaper import PIPELINE_ORIGIN
from app.services.errors import SandboxTimeout
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


# -- what a dead attempt left ---------------------------------------------------------------------------------
# A job taken over from a dead worker: before its run starts again, the sandboxes the dead attempt
# recorded and never destroyed are destroyed (the database says which, by the attempt's run id), whatever
# E2B does with one of them; a sandbox made by hand for the same task, sandboxes of other tasks, and rows
# already destroyed, are left as they are.


async def test_the_dead_attempts_sandboxes_are_destroyed_and_nothing_else(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task, other_task = await api.new_task(), await api.new_task()
    by_hand = await api.new_sandbox(task["id"])
    await api.assign(task["id"])
    dead = await runtime.worker().claim()
    assert dead is not None and dead.run_id
    # No metadata on these: only the database knows whose they are (the stray sweep cannot find them).
    left = [fake_e2b.create_sandbox() for _ in range(2)]
    other = fake_e2b.create_sandbox()
    gone = fake_e2b.create_sandbox()
    fake_e2b.kill_sandbox(gone.sandbox_id)
    rows = [Sandbox(task_id=task["id"], e2b_sandbox_id=s.sandbox_id, status="ready", run_id=dead.run_id) for s in left]
    other_row = Sandbox(task_id=other_task["id"], e2b_sandbox_id=other.sandbox_id, status="ready")
    gone_row = Sandbox(
        task_id=task["id"],
        e2b_sandbox_id=gone.sandbox_id,
        status="destroyed",
        destroyed_at=LONG_AGO,
        run_id=dead.run_id,
    )
    db_session.add_all([*rows, other_row, gone_row])
    # The dead attempt's worker stopped renewing its lease.
    await db_session.execute(update(Job).where(Job.id == dead.id).values(lease_expires_at=LONG_AGO))
    await db_session.commit()
    # E2B refuses the first destroy: the other leftover is still destroyed.
    fake_e2b.add_fault("kill_sandbox", 400, body={"code": 400, "message": "sandbox is pausing"}, times=1)

    assert await runtime.worker().run_once()

    running = {s.sandbox_id for s in fake_e2b.running_sandboxes()}
    assert len(running & {s.sandbox_id for s in left}) == 1, "one leftover refused, the other destroyed"
    by_hand_row = await db_session.get(Sandbox, by_hand["id"])
    for row in [*rows, other_row, gone_row, by_hand_row]:
        await db_session.refresh(row)
    assert sorted(row.destroyed_at is not None for row in rows) == [False, True]
    assert other.sandbox_id in running and (other_row.status, other_row.destroyed_at) == ("ready", None)
    assert by_hand["e2b_sandbox_id"] in running and by_hand_row.destroyed_at is None, "the hand-made one was destroyed"
    assert gone_row.destroyed_at == LONG_AGO, "a sandbox already destroyed was destroyed again"
    assert (await db_session.get(Task, task["id"])).status == "review"


# -- a stray sandbox ------------------------------------------------------------------------------------------
# A sandbox E2B runs for a run that the pipeline never heard of (its creation answered too late) is found
# by the run's id in its metadata and destroyed when the run ends; a sandbox made by hand for the same task,
# and other tasks' sandboxes, are left alone.


async def test_a_failed_run_destroys_its_own_stray_sandbox_and_no_other(
    app_client, runtime, db_session, fake_e2b, fake_github, monkeypatch
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    by_hand = await api.new_sandbox(task["id"])
    bystander = fake_e2b.create_sandbox(metadata={"task_id": "another-task", "squad_id": api.squad["id"]})
    create = runtime.sandboxes.create
    created_there: list[str] = []

    async def created_there_but_timed_out_here(metadata=None):
        created_there.append((await create(metadata=metadata)).sandbox_id)
        raise SandboxTimeout("creating a sandbox timed out: E2B did not answer in time", transient=True)

    monkeypatch.setattr(runtime.sandboxes, "create", created_there_but_timed_out_here)

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    status = await db_session.scalar(select(Task.status).where(Task.id == task["id"]))
    running = {sandbox.sandbox_id for sandbox in fake_e2b.running_sandboxes()}
    assert status == "failed" and len(created_there) == 1
    assert created_there[0] not in running, "the run's stray sandbox is still running"
    assert bystander.sandbox_id in running, "another task's sandbox was destroyed"
    assert by_hand["e2b_sandbox_id"] in running, "the sandbox made by hand for the task was destroyed"
    assert (await db_session.get(Sandbox, by_hand["id"])).destroyed_at is None


# -- a sandbox E2B will not destroy ---------------------------------------------------------------------------
# A sandbox E2B refuses to destroy at the end of a run: the finished task keeps its result, and the
# sandbox's row stays as it was ("ready", not destroyed), so it is not reported gone while it still runs.


async def test_a_sandbox_e2b_will_not_destroy_keeps_its_row_ready_and_the_task_its_result(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    fake_e2b.add_fault("kill_sandbox", 400, body={"code": 400, "message": "cannot kill now"})

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    stored = await db_session.get(Task, task["id"])
    rows = list(await db_session.scalars(select(Sandbox).where(Sandbox.task_id == task["id"])))
    assert stored.status == "review", stored.error
    assert [(row.status, row.destroyed_at) for row in rows] == [("ready", None)]


# -- a job given up -------------------------------------------------------------------------------------------
# Pipeline.give_up: a task whose job could not finish (its workers kept dying) is failed with the reason,
# and whatever E2B still runs for the job's earlier runs is destroyed (a sandbox made by hand for the task is
# not theirs); a task no longer in progress is left as it is.

REASON = "the job was taken over 3 times; its workers kept dying"


async def assigned_task(app_client, fake_github):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    await api.assign(task["id"])
    return api, task


async def test_giving_up_fails_the_task_with_the_reason_and_destroys_its_sandboxes(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api, task = await assigned_task(app_client, fake_github)
    dead = await runtime.worker().claim()
    stray = fake_e2b.create_sandbox(
        metadata={"task_id": task["id"], "squad_id": api.squad["id"], "run_id": dead.run_id, **PIPELINE_ORIGIN}
    )
    by_hand = await api.new_sandbox(task["id"])

    await runtime.pipeline.give_up(task["id"], REASON, earlier_run_ids=[dead.run_id])

    db_session.expire_all()
    stored = await db_session.get(Task, task["id"])
    assert (stored.status, stored.error) == ("failed", REASON)
    types = list(await db_session.scalars(select(Event.type).where(Event.task_id == task["id"]).order_by(Event.id)))
    assert types[-2:] == ["task.status", "sandbox.status"], types
    running = {sandbox.sandbox_id for sandbox in fake_e2b.running_sandboxes()}
    assert stray.sandbox_id not in running and by_hand["e2b_sandbox_id"] in running


async def test_giving_up_on_a_task_no_longer_in_progress_changes_nothing(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    bystander = fake_e2b.create_sandbox(metadata={"task_id": task["id"], "squad_id": api.squad["id"]})

    await runtime.pipeline.give_up(task["id"], REASON)

    db_session.expire_all()
    stored = await db_session.get(Task, task["id"])
    assert (stored.status, stored.error) == (task["status"], None)
    assert bystander.sandbox_id in {sandbox.sandbox_id for sandbox in fake_e2b.running_sandboxes()}
