"""GET /api/v1/events refuses before it streams: no token, a bad token, a filter naming another squad's
agent or task, a bad Last-Event-ID. In-process (the answers come before any event is sent), so each
refusal is checked against the real app without a live server.

An accepted request would open an endless stream, so acceptance is shown by the next check answering
instead: a malformed Last-Event-ID (400) is only looked at once the token and the filters passed.
"""

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

BAD_RESUME = {"Last-Event-ID": "not-an-id"}


async def test_a_stream_without_a_token_is_401(app_client):
    response = await app_client.get("/api/v1/events")

    assert response.status_code == 401, response.text


async def test_a_stream_with_an_unknown_token_is_401(app_client):
    response = await app_client.get("/api/v1/events", headers={"Authorization": "Bearer sq_not-a-real-token"})

    assert response.status_code == 401, response.text


async def test_the_bearer_token_is_accepted(api_squad):
    response = await api_squad.call("GET", "/api/v1/events", headers=BAD_RESUME)

    assert response.status_code == 400, f"expected the token accepted (then the bad Last-Event-ID refused): {response}"


async def test_the_session_cookie_is_accepted_in_place_of_the_token(api_squad, app_client):
    app_client.cookies.set("squad_session", api_squad.squad["token"])
    try:
        response = await app_client.get("/api/v1/events", headers=BAD_RESUME)
    finally:
        app_client.cookies.clear()

    assert response.status_code == 400, f"expected the cookie accepted (then the bad Last-Event-ID refused): {response}"
    assert "Last-Event-ID" in response.json()["detail"]


async def test_a_filter_on_the_squads_own_agent_and_task_is_accepted(api_squad):
    task = await api_squad.new_task()
    params = {"agent_id": api_squad.agent["id"], "task_id": task["id"]}

    response = await api_squad.call("GET", "/api/v1/events", params=params, headers=BAD_RESUME)

    assert response.status_code == 400, f"expected the filters accepted (then Last-Event-ID refused): {response.text}"


async def test_a_filter_on_another_squads_agent_is_404_like_a_missing_one(api_squad, other_squad):
    theirs = other_squad.agent["id"]

    foreign = await api_squad.call("GET", "/api/v1/events", params={"agent_id": theirs})
    missing = await api_squad.call("GET", "/api/v1/events", params={"agent_id": "nope"})

    assert (foreign.status_code, foreign.json()["detail"]) == (404, f"agent {theirs} not found")
    assert (missing.status_code, missing.json()["detail"]) == (404, "agent nope not found")


async def test_a_filter_on_another_squads_task_is_404_like_a_missing_one(api_squad, other_squad):
    theirs = (await other_squad.new_task())["id"]

    foreign = await api_squad.call("GET", "/api/v1/events", params={"task_id": theirs})
    missing = await api_squad.call("GET", "/api/v1/events", params={"task_id": "nope"})

    assert (foreign.status_code, foreign.json()["detail"]) == (404, f"task {theirs} not found")
    assert (missing.status_code, missing.json()["detail"]) == (404, "task nope not found")
