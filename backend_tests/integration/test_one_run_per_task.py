"""A task has one run at a time, on every database: simultaneous assignments start one job, a task whose
previous run still holds it cannot be assigned again, and the database itself refuses a second active job.

The simultaneous requests need connections of their own, which the rolled-back test transaction cannot
give (one connection, savepoints in a stack, and on SQLite one writer), so that test runs the app on a
runtime with its own engine on a database of this module, as test_worker_concurrency.py does.
"""

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.models import Job, JobState, Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

SIMULTANEOUS = 20


async def test_simultaneous_assignments_of_a_task_start_exactly_one_run(own_client, own_runtime, fake_github):
    squad = await make_squad(own_client, fake_github, with_repository=False)
    task = await squad.new_task()
    url = f"/api/v1/tasks/{task['id']}/assign"

    responses = await asyncio.gather(
        *(squad.call("POST", url, json={"agent_id": squad.agent["id"]}) for _ in range(SIMULTANEOUS))
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {202: 1, 409: SIMULTANEOUS - 1}, f"expected one 202 and the rest 409, got {dict(statuses)}"
    refusals = {response.json()["detail"] for response in responses if response.status_code == 409}
    assert refusals == {f"task {task['id']} is in_progress; only a task in 'todo' can be assigned"}, refusals
    async with own_runtime.sessionmaker() as session:
        jobs = (await session.scalars(select(Job).where(Job.task_id == task["id"]))).all()
        stored = await session.get(Task, task["id"])
    assert [job.state for job in jobs] == [JobState.QUEUED], f"expected one queued job, found {len(jobs)}"
    assert (stored.status, stored.agent_id) == ("in_progress", squad.agent["id"])


async def test_a_task_cannot_be_assigned_again_until_its_previous_run_has_let_go(
    app_client, runtime, db_session, fake_github
):
    """1. The task's run fails it, and is still cleaning up (its job is running).
    2. Someone moves the task back to 'todo': allowed, it is a board move.
    3. Assigning it now would start a second run beside the first: 409, and no job is added.
    4. Once the first run's job is over, the task is assigned as usual."""
    api = await make_squad(app_client, fake_github, with_repository=False)
    task = await api.new_task()
    await api.assign(task["id"])
    job = await runtime.worker().claim()
    assert job is not None and job.task_id == task["id"]
    await db_session.execute(update(Task).where(Task.id == task["id"]).values(status="failed", error="push rejected"))
    await db_session.commit()
    reopened = await api.call("PATCH", f"/api/v1/tasks/{task['id']}", json={"status": "todo"})
    assert reopened.status_code == 200, reopened.text

    refused = await api.call("POST", f"/api/v1/tasks/{task['id']}/assign", json={"agent_id": api.agent["id"]})

    assert refused.status_code == 409, refused.text
    assert "previous run is still finishing" in refused.json()["detail"], refused.json()
    db_session.expire_all()
    assert (await db_session.get(Task, task["id"])).status == "todo"
    assert (await db_session.scalars(select(Job.id).where(Job.task_id == task["id"]))).all() == [job.id]

    await db_session.execute(update(Job).where(Job.id == job.id).values(state=JobState.FAILED))
    await db_session.commit()
    await api.assign(task["id"])
    states = (await db_session.scalars(select(Job.state).where(Job.task_id == task["id"]))).all()
    assert sorted(states) == [JobState.FAILED, JobState.QUEUED]


@pytest.mark.parametrize("first", [JobState.QUEUED, JobState.RUNNING])
@pytest.mark.parametrize("second", [JobState.QUEUED, JobState.RUNNING])
async def test_the_database_refuses_a_second_active_job_of_a_task(app_client, db_session, fake_github, first, second):
    api = await make_squad(app_client, fake_github, with_repository=False)
    task = await api.new_task()
    db_session.add_all([Job(task_id=task["id"], state=JobState.DONE), Job(task_id=task["id"], state=first)])
    await db_session.commit()

    with pytest.raises(IntegrityError):
        async with db_session.begin_nested():
            db_session.add(Job(task_id=task["id"], state=second))

    states = (await db_session.scalars(select(Job.state).where(Job.task_id == task["id"]))).all()
    assert sorted(states) == sorted([JobState.DONE, first])


async def test_finished_jobs_of_a_task_do_not_count_as_its_run(app_client, db_session, fake_github):
    api = await make_squad(app_client, fake_github, with_repository=False)
    task = await api.new_task()
    db_session.add_all(
        [Job(task_id=task["id"], state=state) for state in (JobState.DONE, JobState.FAILED, JobState.FAILED)]
    )
    await db_session.commit()

    await api.assign(task["id"])

    states = (await db_session.scalars(select(Job.state).where(Job.task_id == task["id"]))).all()
    assert sorted(states) == sorted([JobState.DONE, JobState.FAILED, JobState.FAILED, JobState.QUEUED])
