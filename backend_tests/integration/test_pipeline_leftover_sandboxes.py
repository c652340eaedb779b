"""A job taken over from a dead worker: before its run starts again, the sandboxes the dead attempt
recorded and never destroyed are destroyed (the database says which, by the attempt's run id), whatever
E2B does with one of them; a sandbox made by hand for the same task, sandboxes of other tasks, and rows
already destroyed, are left as they are."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from app.models import Job, Sandbox, Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


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
