"""A job taken over from a dead worker: before its run starts again, the sandboxes the dead attempt
recorded and never destroyed are destroyed (the database says which), whatever E2B does with one of
them; sandboxes of other tasks, and rows already destroyed, are left as they are."""

from datetime import UTC, datetime

import pytest

from app.models import Sandbox, Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


async def test_the_dead_attempts_sandboxes_are_destroyed_and_nothing_else(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task, other_task = await api.new_task(), await api.new_task()
    # No metadata on these: only the database knows whose they are (the stray sweep cannot find them).
    left = [fake_e2b.create_sandbox() for _ in range(2)]
    other = fake_e2b.create_sandbox()
    gone = fake_e2b.create_sandbox()
    fake_e2b.kill_sandbox(gone.sandbox_id)
    rows = [Sandbox(task_id=task["id"], e2b_sandbox_id=s.sandbox_id, status="ready") for s in left]
    other_row = Sandbox(task_id=other_task["id"], e2b_sandbox_id=other.sandbox_id, status="ready")
    gone_row = Sandbox(task_id=task["id"], e2b_sandbox_id=gone.sandbox_id, status="destroyed", destroyed_at=LONG_AGO)
    db_session.add_all([*rows, other_row, gone_row])
    await db_session.commit()
    # E2B refuses the first destroy: the other leftover is still destroyed.
    fake_e2b.add_fault("kill_sandbox", 400, body={"code": 400, "message": "sandbox is pausing"}, times=1)

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    running = {s.sandbox_id for s in fake_e2b.running_sandboxes()}
    assert len(running & {s.sandbox_id for s in left}) == 1, "one leftover refused, the other destroyed"
    for row in [*rows, other_row, gone_row]:
        await db_session.refresh(row)
    assert sorted(row.destroyed_at is not None for row in rows) == [False, True]
    assert other.sandbox_id in running and (other_row.status, other_row.destroyed_at) == ("ready", None)
    assert gone_row.destroyed_at == LONG_AGO, "a sandbox already destroyed was destroyed again"
    assert (await db_session.get(Task, task["id"])).status == "review"
