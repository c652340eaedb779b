"""What a pipeline run cleans up: the sandboxes a dead attempt left, a stray sandbox of its run, a sandbox
E2B will not destroy, and a task whose job is given up; and that a run destroys only what it made (not a
sandbox made by hand for its task, not the sandbox of the task's next run).

The sandboxes no run owns any more are the reaper's (test_sandbox_reaper.py)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from app.models import Event, Job, Sandbox, Task
from app.reaper import PIPELINE_ORIGIN, SandboxReaper
from app.services.errors import SandboxTimeout
from fixtures.squads import Squad, make_squad

pytestmark = pytest.mark.integration

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


# -- what a dead attempt left ---------------------------------------------------------------------------------
# A job taken over from a dead worker: before its run starts again, the sandboxes the dead attempt
# recorded and never destroyed are destroyed (the database says which, by the attempt's run id), whatever
# E2B does with one of them; a sandbox made by hand for the same task, sandboxes of other tasks, and rows
# already destroyed, are left as they are.


@pytest.mark.priority_p1
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


@pytest.mark.priority_p1
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


@pytest.mark.priority_p1
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


@pytest.mark.priority_p1
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


@pytest.mark.priority_p1
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


# -- only what a run made -------------------------------------------------------------------------------------
# A run destroys only what it made. A sandbox made by hand for a task (POST /api/v1/sandboxes) outlives
# the task's pipeline runs, failed or not, and their takeovers; the sandbox of the task's next run outlives a
# late end of the run before it; the reaper leaves both alone and takes what the earlier run left.


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


@pytest.mark.priority_p0
@pytest.mark.parametrize(
    ("push_refused", "status"),
    [(False, "review"), (True, "failed")],
    ids=["run-ends-in-review", "run-fails-at-the-push"],
)
async def test_a_sandbox_made_by_hand_survives_the_tasks_pipeline_run(
    app_client, runtime, db_session, fake_e2b, fake_github, push_refused, status
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    by_hand = await api.new_sandbox(task["id"])
    if push_refused:  # the run fails after its sandbox was made
        fake_github.add_fault("git_receive_pack", status=403)

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    assert await task_status(db_session, task["id"]) == status
    await assert_untouched(db_session, fake_e2b, by_hand)
    assert running_ids(fake_e2b) == {by_hand["e2b_sandbox_id"]}, "the run's own sandbox should be gone"


@pytest.mark.priority_p0
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


@pytest.mark.priority_p0
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


@pytest.mark.priority_p0
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
