"""A sandbox is reachable only by its task's squad: another squad's sandbox, and one that does not exist,
are both 404 with the same words."""

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


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
