"""A task is reachable only by its squad: another squad's task and a missing one are both 404 with the
same words, so a task id leaks nothing."""

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


async def test_another_squads_task_is_404_in_the_same_words_as_a_missing_one(api_squad, other_squad):
    theirs = (await other_squad.new_task())["id"]

    foreign = await api_squad.call("GET", f"/api/v1/tasks/{theirs}")
    missing = await api_squad.call("GET", "/api/v1/tasks/no-such-task")

    assert (foreign.status_code, foreign.json()["detail"]) == (404, f"task {theirs} not found")
    assert (missing.status_code, missing.json()["detail"]) == (404, "task no-such-task not found")
