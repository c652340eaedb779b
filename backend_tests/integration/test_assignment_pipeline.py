"""Assignment through the API: another squad's task, and a request without a token."""

import pytest

from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


async def _squad_with_task(app_client, fake_github):
    made = await make_squad(app_client, fake_github)
    return made.squad, made.headers, made.agent, await made.new_task()


async def test_another_squads_task_is_not_found(app_client, fake_github):
    _, _, _, task = await _squad_with_task(app_client, fake_github)
    _, other_headers, _, _ = await _squad_with_task(app_client, fake_github)

    response = await app_client.get(f"/api/v1/tasks/{task['id']}", headers=other_headers)

    assert response.status_code == 404


async def test_requests_without_a_token_are_refused(app_client):
    response = await app_client.get("/api/v1/tasks")

    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
