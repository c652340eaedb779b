"""A task assigned through the API ends as a pull request, with every step on the live stream."""

from urllib.parse import urlsplit

import pytest

from fixtures import http
from fixtures.factories import task_data
from fixtures.sse import SseRecorder
from fixtures.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.priority_p0]

EXPECTED_STEPS = ["sandbox", "clone", "branch", "work", "commit", "push", "pull_request"]
EXPECTED_BADGES = ["creating", "ready", "running", "pushing", "done"]


def test_assigned_task_ends_in_review_with_a_pull_request_of_the_agents_commit(
    live_stack, new_squad, fake_github_admin
):
    """Create a task, assign it, then check every place the result should be:

    1. the stream carried task.assigned, the seven pipeline steps and the badge states, in order;
    2. the task is in review with the PR's URL;
    3. the fake GitHub holds exactly that open PR, from the task's branch to the default branch;
    4. the branch in the bare repository holds the agent's commit on top of the initial one;
    5. the sandbox was destroyed.
    """
    task = new_squad.client.create_task(**task_data())

    with SseRecorder(live_stack.base_url, new_squad.token, params={"task_id": task["id"]}) as stream:
        new_squad.client.assign(task["id"], new_squad.agent["id"])
        final = stream.wait_for_run_to_end("the task to reach review")
        events = list(stream.events)

    assert final["data"]["status"] == "review", f"pipeline failed: {final['data']['error']}"
    types = [e["type"] for e in events]
    # A new stream replays the squad's history first: the task's creation, then its assignment.
    assert types[:2] == ["task.created", "task.assigned"], types
    assert [e["data"]["step"] for e in events if e["type"] == "pipeline.step"] == EXPECTED_STEPS
    assert [e["data"]["status"] for e in events if e["type"] == "sandbox.status"] == EXPECTED_BADGES
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), f"event ids not increasing: {ids}"
    opened = next(e for e in events if e["type"] == "pull_request.opened")
    assert types.index("pull_request.opened") < types.index("task.status")

    stored = new_squad.client.get_task(task["id"])
    assert stored["status"] == "review"
    assert stored["pr_url"] == opened["data"]["url"]
    assert stored["pr_number"] == opened["data"]["number"]

    pulls = fake_github_admin.pulls(new_squad.owner, new_squad.repo_name, live_stack.github_token, state="all")
    # The fake names its web host after the address it was asked at: the platform's (in a compose
    # network, the service's name) and this test's may differ, the pull request's page may not.
    assert [(p["number"], urlsplit(p["html_url"]).path) for p in pulls] == [
        (stored["pr_number"], urlsplit(stored["pr_url"]).path)
    ]
    assert pulls[0]["head"]["ref"] == stored["branch"]
    assert pulls[0]["base"]["ref"] == "main"

    log = fake_github_admin.branch_log(new_squad.owner, new_squad.repo_name, stored["branch"])
    assert len(log) == 2, f"expected the initial commit and the agent's, got {log}"
    assert log[0]["message"].startswith(task["title"]), log[0]
    assert pulls[0]["head"]["sha"] == log[0]["sha"]

    sandbox_id = next(e["data"]["sandbox_id"] for e in events if e["data"].get("sandbox_id"))

    def sandbox_gone() -> None:
        # Read through E2B's REST API, as the SDK would: a killed sandbox is unknown.
        response = http.get(
            f"{live_stack.e2b_url}/sandboxes/{sandbox_id}", headers={"X-API-Key": live_stack.e2b_api_key}
        )
        assert response.status_code == 404, f"sandbox {sandbox_id} still exists: {response.status_code} {response.text}"

    # The run destroys its sandbox after its last event (the badge's `done`), so the check waits for it.
    eventually(sandbox_gone, timeout=10, interval=0.05, description="the run's sandbox to be destroyed")
