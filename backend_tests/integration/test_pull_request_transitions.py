"""A task whose pull request is in review, moved by the fake GitHub's own webhooks delivered in process:
merged, it is done; closed without merging, it fails saying so; reopened after that, it is in review again.
A review asking for changes, or a comment mentioning the agent, puts it back to work (a review round:
test_review_rounds.py); approvals and other comments change nothing."""

import pytest
from sqlalchemy import func, select

from app.models import Event, Task
from app.reviews import CLOSED_REASON
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

REVIEWER = "rita-reviewer"


def statuses(events) -> list[tuple[str, str | None]]:
    return [(e.data["status"], e.data.get("reason")) for e in events if e.type == "task.status"]


@pytest.mark.priority_p0
async def test_a_merged_pull_request_makes_the_task_done_announced_with_its_merge(in_review):
    merge_sha = in_review.merge()

    delivered = await in_review.deliver()

    answers = [(d.event, d.action, d.status_code, d.result) for d in delivered if d.event == "pull_request"]
    assert answers == [("pull_request", "closed", 200, "applied")]
    assert (await in_review.task()).status == "done"
    merged, status = (await in_review.events("pull_request.merged", "task.status"))[-2:]
    assert (merged.type, merged.data["merged_by"], merged.data["merge_commit_sha"]) == (
        "pull_request.merged",
        REVIEWER,
        merge_sha,
    )
    assert status.data == {
        "status": "done",
        "pr_url": (await in_review.task()).pr_url,
        "error": None,
        "reason": f"pull request #{in_review.number} merged by {REVIEWER}",
    }


@pytest.mark.priority_p0
async def test_a_pull_request_closed_without_merging_fails_the_task_saying_so(in_review):
    in_review.close()

    await in_review.deliver()

    task = await in_review.task()
    assert (task.status, task.error) == ("failed", CLOSED_REASON)
    closed = await in_review.events("pull_request.closed")
    assert [e.data["closed_by"] for e in closed] == [REVIEWER]
    assert statuses(await in_review.events())[-1] == (
        "failed",
        f"pull request #{in_review.number} closed by {REVIEWER}",
    )


async def test_a_closed_pull_request_reopened_puts_the_task_back_in_review(in_review):
    in_review.close()
    await in_review.deliver()

    in_review.reopen()
    await in_review.deliver()

    task = await in_review.task()
    assert (task.status, task.error) == ("review", None)
    assert [e.data["reopened_by"] for e in await in_review.events("pull_request.reopened")] == [REVIEWER]


async def test_a_reopening_changes_nothing_of_a_task_that_did_not_end_with_the_close(in_review):
    """Closed, then moved back to 'todo' by hand: the pull request reopening is not the task's business."""
    in_review.close()
    await in_review.deliver()
    moved = await in_review.squad.call("PATCH", f"/api/v1/tasks/{in_review.task_id}", json={"status": "todo"})
    assert moved.status_code == 200, moved.text

    in_review.reopen()
    (reopened,) = [d for d in await in_review.deliver() if d.action == "reopened"]

    assert reopened.result == "ignored", reopened.answer
    assert (await in_review.task()).status == "todo"


async def test_a_comment_that_mentions_the_agent_asks_for_changes_and_others_are_only_comments(in_review):
    agent = in_review.squad.agent["name"]
    in_review.comment("Looks fine to me.")
    in_review.comment(f"email@{agent}.example is not a mention")
    in_review.comment(f"@{agent.upper()} please rename the file.")

    delivered = [d for d in await in_review.deliver() if d.event == "issue_comment"]

    assert [d.result for d in delivered] == ["ignored", "ignored", "queued"]
    (requested,) = await in_review.events("review.changes_requested")
    assert (requested.data["kind"], requested.data["body"], requested.data["round"]) == (
        "comment",
        f"@{agent.upper()} please rename the file.",
        1,
    )
    assert (await in_review.task()).status == "in_progress"


async def test_an_approval_and_a_plain_review_comment_start_nothing(in_review):
    owner, name, number = in_review.where
    in_review.github.create_review(owner, name, number, login=REVIEWER, event="APPROVE", body="Ship it")
    in_review.github.create_review_comment(
        owner, name, number, login=REVIEWER, body="nice line", path="AGENT_NOTES.md", line=1
    )

    delivered = await in_review.deliver()

    assert {d.result for d in delivered} == {"ignored"}, [(d.event, d.answer) for d in delivered]
    assert (await in_review.task()).status == "review"
    assert await in_review.events("review.changes_requested") == []


@pytest.mark.priority_p0
async def test_a_delivery_moves_only_the_task_of_its_repository_though_another_squads_pull_request_has_its_number(
    in_review,
):
    """Pull request numbers start at 1 in every repository: a merge in one squad's repository must not touch
    another squad's task whose pull request has the same number in its own repository."""
    platform = in_review.platform
    other = await make_squad(platform.client, platform.github)
    other_task = await other.new_task()
    await other.assign(other_task["id"])
    assert await platform.run_next_job()
    await in_review.deliver()
    async with platform.runtime.sessionmaker() as session:
        theirs = await session.get(Task, other_task["id"])
        assert theirs is not None and (theirs.status, theirs.pr_number) == ("review", in_review.number)
        their_events = await session.scalar(select(func.count()).where(Event.task_id == theirs.id))

    in_review.merge()
    await in_review.deliver()

    assert (await in_review.task()).status == "done"
    async with platform.runtime.sessionmaker() as session:
        theirs = await session.get(Task, other_task["id"])
        assert theirs is not None and theirs.status == "review"
        assert await session.scalar(select(func.count()).where(Event.task_id == theirs.id)) == their_events
