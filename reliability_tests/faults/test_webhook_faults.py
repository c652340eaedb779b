"""Faults of the review loop through the live stack: GitHub's deliveries meet a platform that is down, come
again at once, and a merge lands while the agent's review round is pushing. Besides each outcome, the rows'
usual checks: no event lost, one pull request at most, no sandbox left."""

import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from fixtures.outcomes import (
    Scene,
    assert_at_most_one_pull_request,
    assert_no_sandbox_left,
    assert_replay_equals_database,
    stored_events,
)
from fixtures.platform_client import GitHubUser

pytestmark = [pytest.mark.e2e, pytest.mark.errors, pytest.mark.slow, pytest.mark.priority_p1]

# The headers GitHub sends with a delivery that a replay carries again, byte for byte with the body.
DELIVERY_HEADERS = ("Content-Type", "X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256", "User-Agent")


def _in_review(scene: Scene) -> tuple[GitHubUser, int]:
    """The scene's task through its first run to review; a reviewer of its pull request; its number."""
    scene.assign()
    task = scene.wait_until_finished()
    assert task["status"] == "review", f"the first run failed: {task['error']}"
    suffix = secrets.token_hex(6)
    return scene.github.add_user(f"rita-{suffix}", f"ghp_rita{suffix}"), task["pr_number"]


def _merged_deliveries(scene: Scene) -> list[dict[str, Any]]:
    scene.github.wait_for_deliveries()
    return scene.github.deliveries(scene.squad.squad["repository"], "pull_request", "closed")


def _task(scene: Scene) -> dict[str, Any]:
    return scene.squad.client.get_task(scene.task_id)


def _event_types(scene: Scene) -> list[str]:
    return [event["type"] for event in stored_events(scene.stack.database_url or "", scene.task_id)]


def test_a_merge_delivered_while_the_platform_is_down_is_applied_by_its_redelivery_once(scene: Scene):
    reviewer, number = _in_review(scene)
    repository = scene.squad.squad["repository"]

    scene.stack.stop_platform()
    try:
        reviewer.merge(repository, number)
        (missed,) = _merged_deliveries(scene)
    finally:
        scene.stack.start_platform()
    assert (missed["status"], missed["status_code"]) == ("failed to connect to host", 0), missed
    assert _task(scene)["status"] == "review", "nothing reached the platform"

    again = scene.github.redeliver(missed["id"])
    scene.github.wait_for_deliveries()
    assert _task(scene)["status"] == "done"
    once_more = scene.github.redeliver(missed["id"])
    scene.github.wait_for_deliveries()

    answers = {item["id"]: item for item in _merged_deliveries(scene)}
    assert [answers[d["id"]]["response"]["payload"] for d in (again, once_more)] == [
        f'{{"result":"applied","detail":"pull request #{number} merged: the task is done"}}',
        f'{{"result":"duplicate","detail":"delivery {missed["guid"]} was applied already; nothing changes twice"}}',
    ]
    assert _event_types(scene).count("pull_request.merged") == 1
    assert_at_most_one_pull_request(scene.github, scene.squad.owner, scene.squad.repo_name, scene.stack.github_token)
    assert_replay_equals_database(scene.stack, scene.squad.token, scene.task_id, final="task.status")
    assert_no_sandbox_left(scene.e2b, scene.task_id)


def test_the_same_delivery_sent_many_times_at_once_acts_once(scene: Scene):
    """The merge's delivery, missed while the platform was down, then replayed eight times at once
    with its exact body and signature: one applies it, the others are duplicates, none fails."""
    reviewer, number = _in_review(scene)
    scene.stack.stop_platform()
    try:
        reviewer.merge(scene.squad.squad["repository"], number)
        (missed,) = _merged_deliveries(scene)
    finally:
        scene.stack.start_platform()
    headers = {name: missed["request"]["headers"][name] for name in DELIVERY_HEADERS}
    body = next(item["body"] for item in scene.github.deliveries() if item["id"] == missed["id"]).encode()

    def replay(_: int) -> httpx.Response:
        return httpx.post(f"{scene.stack.base_url}/api/v1/github/webhooks", content=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(replay, range(8)))

    assert (
        sorted((a.status_code, a.json()["result"]) for a in answers) == [(200, "applied")] + [(200, "duplicate")] * 7
    ), [a.text for a in answers]
    assert _task(scene)["status"] == "done"
    types = _event_types(scene)
    assert (types.count("pull_request.merged"), types[-1]) == (1, "task.status"), types[-4:]
    assert_replay_equals_database(scene.stack, scene.squad.token, scene.task_id, final="task.status")


def test_a_merge_while_the_review_round_pushes_ends_the_task_done_and_the_round_replies_nothing(scene: Scene):
    """The round's push is held on its way to GitHub; the reviewer merges meanwhile. The merge's webhook
    makes the task done; the round's push lands on the merged pull request's branch, after which the round
    sees the merge and stops: no reply, no review status, nothing after done."""
    reviewer, number = _in_review(scene)
    repository = scene.squad.squad["repository"]
    scene.github_fault(operation="git_receive_pack", kind="latency", latency_ms=3000, times=1)

    first_run = stored_events(scene.stack.database_url or "", scene.task_id)
    # From after the first run's events: the push step seen next is the round's.
    with scene.stream(last_event_id=str(first_run[-1]["id"])) as stream:
        reviewer.request_changes(repository, number, "Please say why in the notes.")
        stream.wait_for(
            lambda e: e["type"] == "pipeline.step" and e["data"]["step"] == "push",
            timeout=30,
            what="the review round's push step",
        )
        reviewer.merge(repository, number)
        abandoned = stream.wait_for(lambda e: e["type"] == "review.abandoned", timeout=30, what="the round to stop")

    assert abandoned["data"] == {"round": 1, "reason": "the task is done now"}
    task = _task(scene)
    assert (task["status"], task["error"]) == ("done", None)
    assert scene.github.issue_comments(repository, number, reviewer.token) == [], "the round replied nothing"
    statuses = [
        e["data"]["status"]
        for e in stored_events(scene.stack.database_url or "", scene.task_id)
        if e["type"] == "task.status"
    ]
    assert statuses[-3:] == ["review", "in_progress", "done"], "nothing moves the task after the merge"
    assert "review.replied" not in _event_types(scene)
    assert_at_most_one_pull_request(scene.github, scene.squad.owner, scene.squad.repo_name, scene.stack.github_token)
    assert_replay_equals_database(scene.stack, scene.squad.token, scene.task_id)
    assert_no_sandbox_left(scene.e2b, scene.task_id)
