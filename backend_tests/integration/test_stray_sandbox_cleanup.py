"""A sandbox E2B runs for a task that the pipeline never heard of (its creation answered too late) is found
by the task's metadata and destroyed when the task's run ends; other tasks' sandboxes are left alone."""

import pytest
from sqlalchemy import select

from app.models import Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


async def test_a_failed_run_destroys_its_tasks_stray_sandbox_and_no_other(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    stray = fake_e2b.create_sandbox(metadata={"task_id": task["id"], "squad_id": api.squad["id"]})
    bystander = fake_e2b.create_sandbox(metadata={"task_id": "another-task", "squad_id": api.squad["id"]})
    fake_e2b.add_fault("create_sandbox", status=500)

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    status = await db_session.scalar(select(Task.status).where(Task.id == task["id"]))
    running = {sandbox.sandbox_id for sandbox in fake_e2b.running_sandboxes()}
    assert status == "failed"
    assert stray.sandbox_id not in running, "the task's stray sandbox is still running"
    assert bystander.sandbox_id in running, "another task's sandbox was destroyed"
