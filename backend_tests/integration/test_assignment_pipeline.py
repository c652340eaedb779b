"""Assignment through the API, with the pipeline run by a worker in-process against respx-mounted fakes."""

import pytest
from sqlalchemy import select

from app.models import Event, Job, Sandbox
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


async def _squad_with_task(app_client, fake_github):
    made = await make_squad(app_client, fake_github)
    return made.squad, made.headers, made.agent, await made.new_task()


async def test_assignment_stores_a_queued_job_and_the_worker_turns_it_into_a_pull_request(
    app_client, runtime, db_session, fake_e2b, e2b_routes, fake_github, github_routes
):
    squad, headers, agent, task = await _squad_with_task(app_client, fake_github)

    response = await app_client.post(
        f"/api/v1/tasks/{task['id']}/assign", json={"agent_id": agent["id"]}, headers=headers
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "in_progress"
    jobs = (await db_session.scalars(select(Job).where(Job.task_id == task["id"]))).all()
    assert [job.state for job in jobs] == ["queued"]

    assert await runtime.worker().run_once() is True

    stored = (await app_client.get(f"/api/v1/tasks/{task['id']}", headers=headers)).json()
    assert stored["status"] == "review", stored["error"]
    owner, name = squad["repository"].split("/")
    pulls = fake_github.pull_requests(owner, name)
    assert [(p.number, p.head_ref) for p in pulls] == [(stored["pr_number"], stored["branch"])]
    assert github_routes["create_pull_request"].call_count == 1
    assert e2b_routes["create_sandbox"].call_count == 1
    assert e2b_routes["kill_sandbox"].call_count == 1
    assert fake_e2b.running_sandboxes() == []

    db_session.expire_all()
    sandbox = (await db_session.scalars(select(Sandbox).where(Sandbox.task_id == task["id"]))).one()
    assert sandbox.status == "destroyed" and sandbox.destroyed_at is not None
    job = (await db_session.scalars(select(Job).where(Job.task_id == task["id"]))).one()
    assert job.state == "done"
    types = (await db_session.scalars(select(Event.type).where(Event.task_id == task["id"]).order_by(Event.id))).all()
    assert types[:2] == ["task.created", "task.assigned"] and types[-2:] == ["task.status", "sandbox.status"]


async def test_assigning_a_task_twice_is_a_conflict_and_queues_one_job(app_client, db_session, fake_github):
    _, headers, agent, task = await _squad_with_task(app_client, fake_github)
    url = f"/api/v1/tasks/{task['id']}/assign"

    first = await app_client.post(url, json={"agent_id": agent["id"]}, headers=headers)
    second = await app_client.post(url, json={"agent_id": agent["id"]}, headers=headers)

    assert first.status_code == 202
    assert second.status_code == 409
    assert "only a task in 'todo' can be assigned" in second.json()["detail"]
    jobs = (await db_session.scalars(select(Job).where(Job.task_id == task["id"]))).all()
    assert len(jobs) == 1


async def test_another_squads_task_is_not_found(app_client, fake_github):
    _, _, _, task = await _squad_with_task(app_client, fake_github)
    _, other_headers, _, _ = await _squad_with_task(app_client, fake_github)

    response = await app_client.get(f"/api/v1/tasks/{task['id']}", headers=other_headers)

    assert response.status_code == 404


async def test_requests_without_a_token_are_refused(app_client):
    response = await app_client.get("/api/v1/tasks")

    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
