"""Pipeline.give_up: a task whose job could not finish (its workers kept dying) is failed with the reason,
and whatever E2B still runs for the job's earlier runs is destroyed (a sandbox made by hand for the task is
not theirs); a task no longer in progress is left as it is."""

import pytest
from sqlalchemy import select

from app.models import Event, Task
from app.reaper import PIPELINE_ORIGIN
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

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
