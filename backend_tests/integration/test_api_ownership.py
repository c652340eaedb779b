"""A squad reaches only its own rows through the API: another squad's task, sandbox or agent is a 404 in
the same words as a missing one, so an id leaks nothing, and what a squad lists is its own.

The event stream's filters are checked in test_event_stream_refusals.py; every operation of the OpenAPI
document, in reliability_tests/security/test_tenancy.py.
"""

import pytest

from app.models import Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


async def _squad_with_task(app_client, fake_github):
    made = await make_squad(app_client, fake_github)
    return made.squad, made.headers, made.agent, await made.new_task()


# -- tasks ----------------------------------------------------------------------------------------------------


async def test_another_squads_task_is_404_in_the_same_words_as_a_missing_one(api_squad, other_squad):
    theirs = (await other_squad.new_task())["id"]

    foreign = await api_squad.call("GET", f"/api/v1/tasks/{theirs}")
    missing = await api_squad.call("GET", "/api/v1/tasks/no-such-task")

    assert (foreign.status_code, foreign.json()["detail"]) == (404, f"task {theirs} not found")
    assert (missing.status_code, missing.json()["detail"]) == (404, "task no-such-task not found")


async def test_another_squads_task_is_not_found(app_client, fake_github):
    _, _, _, task = await _squad_with_task(app_client, fake_github)
    _, other_headers, _, _ = await _squad_with_task(app_client, fake_github)

    response = await app_client.get(f"/api/v1/tasks/{task['id']}", headers=other_headers)

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/tasks/{task}", None),
        ("PATCH", "/api/v1/tasks/{task}", {"title": "mine now"}),
        ("POST", "/api/v1/tasks/{task}/assign", {"agent_id": "{agent}"}),
        ("POST", "/api/v1/sandboxes", {"task_id": "{task}"}),
        ("POST", "/api/v1/github/pull-requests", {"task_id": "{task}", "branch": "agent/x"}),
    ],
)
async def test_another_squads_task_is_404_on_every_endpoint(api_squad, other_squad, db_session, method, path, body):
    task = await api_squad.new_task()

    def fill(value):
        return value.replace("{task}", task["id"]).replace("{agent}", other_squad.agent["id"])

    json = {k: fill(v) for k, v in body.items()} if body else None
    response = await other_squad.call(method, fill(path), json=json)

    assert response.status_code == 404, response.text
    db_session.expire_all()
    stored = await db_session.get(Task, task["id"])
    assert (stored.title, stored.status) == (task["title"], "todo")


# -- sandboxes ------------------------------------------------------------------------------------------------


async def test_another_squads_sandbox_is_404_like_a_missing_one(api_squad, other_squad):
    theirs = await other_squad.new_sandbox((await other_squad.new_task())["id"])

    foreign = await api_squad.call("GET", f"/api/v1/sandboxes/{theirs['id']}")
    missing = await api_squad.call("GET", "/api/v1/sandboxes/no-such-sandbox")

    assert (foreign.status_code, foreign.json()["detail"]) == (404, f"sandbox {theirs['id']} not found")
    assert (missing.status_code, missing.json()["detail"]) == (404, "sandbox no-such-sandbox not found")


async def test_the_owning_squad_reads_its_sandbox(api_squad):
    mine = await api_squad.new_sandbox((await api_squad.new_task())["id"])

    response = await api_squad.call("GET", f"/api/v1/sandboxes/{mine['id']}")

    assert response.status_code == 200 and response.json()["id"] == mine["id"], response.text


# -- agents ---------------------------------------------------------------------------------------------------


async def test_assigning_to_an_agent_of_another_squad_is_404(api_squad, other_squad):
    task = await api_squad.new_task()

    response = await api_squad.call(
        "POST", f"/api/v1/tasks/{task['id']}/assign", json={"agent_id": other_squad.agent["id"]}
    )

    assert response.status_code == 404
    assert other_squad.agent["id"] in response.json()["detail"]


async def test_agents_are_listed_for_their_own_squad_only(api_squad, other_squad):
    agents = (await api_squad.call("GET", "/api/v1/agents")).json()

    assert [a["id"] for a in agents] == [api_squad.agent["id"]]
