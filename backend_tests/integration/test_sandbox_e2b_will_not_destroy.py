"""A sandbox E2B refuses to destroy at the end of a run: the finished task keeps its result, and the
sandbox's row stays as it was ("ready", not destroyed), so it is not reported gone while it still runs."""

import pytest
from sqlalchemy import select

from app.models import Sandbox, Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


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
