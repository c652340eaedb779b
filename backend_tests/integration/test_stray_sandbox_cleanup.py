"""A sandbox E2B runs for a run that the pipeline never heard of (its creation answered too late) is found
by the run's id in its metadata and destroyed when the run ends; a sandbox made by hand for the same task,
and other tasks' sandboxes, are left alone."""

import pytest
from sqlalchemy import select

from app.models import Sandbox, Task
from app.services.errors import SandboxTimeout
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


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
