"""Squads, agents and tasks over the API: success, validation, authentication and conflicts (a squad's reach
over another's rows is test_api_ownership.py)."""

import pytest
from sqlalchemy import select

from app.auth import hash_token
from app.models import Squad, Task
from fixtures.credentials import CANARY_SQUAD_ADMIN_TOKEN
from fixtures.factories import squad_data

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

OPERATOR = {"Authorization": f"Bearer {CANARY_SQUAD_ADMIN_TOKEN}"}


async def test_creating_a_squad_returns_its_token_once_and_stores_only_its_hash(app_client, db_session, fake_github):
    data = squad_data()
    fake_github.create_repo(*data["repository"].split("/"))
    response = await app_client.post("/api/v1/squads", json=data, headers=OPERATOR)

    assert response.status_code == 201
    created = response.json()
    assert created["token"].startswith("sq_")
    stored = await db_session.get(Squad, created["id"])
    assert stored.token_hash == hash_token(created["token"]) and created["token"] not in stored.token_hash
    me = await app_client.get("/api/v1/squads/me", headers={"Authorization": f"Bearer {created['token']}"})
    assert me.status_code == 200 and "token" not in me.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "repository": "acme/widgets"}, "name"),
        ({"name": "x", "repository": "not a repository"}, "repository"),
        ({"name": "x"}, "repository"),
        ({"name": "x", "repository": "acme/widgets", "colour": "red"}, "colour"),
        ({"name": 7, "repository": "acme/widgets"}, "name"),
    ],
)
async def test_a_bad_squad_body_is_422_naming_the_field(app_client, body, field):
    response = await app_client.post("/api/v1/squads", json=body, headers=OPERATOR)

    assert response.status_code == 422
    problems = response.json()["detail"]
    assert any(problem["loc"][-1] == field and problem["msg"] for problem in problems), problems


async def test_broken_json_is_422_not_500(app_client):
    response = await app_client.post(
        "/api/v1/squads", content=b'{"name": "x", ', headers={"content-type": "application/json"} | OPERATOR
    )

    assert response.status_code == 422


async def test_an_invalid_token_is_401(app_client):
    response = await app_client.get("/api/v1/tasks", headers={"Authorization": "Bearer sq_not-a-real-token"})

    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_requests_without_a_token_are_refused(app_client):
    response = await app_client.get("/api/v1/tasks")

    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


async def test_tasks_are_listed_in_creation_order_and_filtered_by_status_and_agent(api_squad):
    first = await api_squad.new_task()
    second = await api_squad.new_task()
    await api_squad.call("POST", f"/api/v1/tasks/{second['id']}/assign", json={"agent_id": api_squad.agent["id"]})

    everything = (await api_squad.call("GET", "/api/v1/tasks")).json()
    todo = (await api_squad.call("GET", "/api/v1/tasks", params={"status": "todo"})).json()
    mine = (await api_squad.call("GET", "/api/v1/tasks", params={"agent_id": api_squad.agent["id"]})).json()

    assert [t["id"] for t in everything] == [first["id"], second["id"]]
    assert [t["id"] for t in todo] == [first["id"]]
    assert [t["id"] for t in mine] == [second["id"]]


async def test_an_unknown_status_filter_is_422(api_squad):
    response = await api_squad.call("GET", "/api/v1/tasks", params={"status": "sleeping"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "status"]


async def test_a_task_is_updated_and_the_change_is_stored(api_squad, db_session):
    task = await api_squad.new_task()

    response = await api_squad.call("PATCH", f"/api/v1/tasks/{task['id']}", json={"title": "Renamed"})

    assert response.status_code == 200 and response.json()["title"] == "Renamed"
    db_session.expire_all()
    assert (await db_session.get(Task, task["id"])).title == "Renamed"


async def test_a_task_cannot_jump_from_todo_to_done(api_squad):
    task = await api_squad.new_task()

    response = await api_squad.call("PATCH", f"/api/v1/tasks/{task['id']}", json={"status": "done"})

    assert response.status_code == 409
    assert "from review to done" in response.json()["detail"]


async def test_a_failed_task_can_be_reopened_and_assigned_again(api_squad, db_session):
    task = await api_squad.new_task()
    stored = await db_session.get(Task, task["id"])
    stored.status, stored.error = "failed", "GitHub: boom"
    await db_session.commit()

    reopened = await api_squad.call("PATCH", f"/api/v1/tasks/{task['id']}", json={"status": "todo"})
    assigned = await api_squad.call(
        "POST", f"/api/v1/tasks/{task['id']}/assign", json={"agent_id": api_squad.agent["id"]}
    )

    assert reopened.json()["status"] == "todo" and reopened.json()["error"] is None
    assert assigned.status_code == 202


async def test_tasks_are_stored_with_their_squad(api_squad, db_session):
    task = await api_squad.new_task(title="Stored")

    rows = (await db_session.scalars(select(Task).where(Task.squad_id == api_squad.squad["id"]))).all()

    assert [(row.id, row.title, row.status) for row in rows] == [(task["id"], "Stored", "todo")]
