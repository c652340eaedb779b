"""Review rounds in process: a review asking for changes runs the agent again on the same branch in a new
sandbox with the review in its prompt; its commit lands on the same pull request (never a second one),
its summary is its reply there, and the task is in review again. Requests that come while a run is active
wait for it, and the next round takes them all. A round that finds its pull request merged or closed
pushes and replies nothing, and the task ends as the merge or the close says."""

import pytest

from app.reviews import CLOSED_REASON
from fixtures.credentials import CANARY_GITHUB_TOKEN
from mocks.llm import Turn

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

REVIEWER = "rita-reviewer"


def statuses(events) -> list[tuple[str, str | None]]:
    return [(e.data["status"], e.data.get("reason")) for e in events if e.type == "task.status"]


@pytest.mark.priority_p0
async def test_changes_requested_run_the_agent_again_on_the_same_pull_request_which_gains_its_commit_and_reply(
    in_review, fake_llm
):
    """1. The reviewer requests changes, with a comment on a line: the task goes back to work.
    2. The review round: the pushed branch in a new sandbox, the review in the agent's prompt.
    3. Its commit lands on the same pull request (no second one), and its summary is its reply there.
    4. The task is in review again; the push's `synchronize` records the pull request's new head."""
    owner, name, number = in_review.where
    fake_llm.script(
        "Add a docstring",
        [
            Turn.call("write_file", path="NOTES.md", content="documented\n"),
            Turn.finish_with("Documented the notes as asked."),
        ],
        name="round-1",
    )
    in_review.request_changes(
        "Add a docstring, please.", [{"path": "AGENT_NOTES.md", "line": 1, "body": "Say why, not what."}]
    )

    (review,) = [d for d in await in_review.deliver() if d.event == "pull_request_review"]
    assert (review.status_code, review.result) == (202, "queued"), review.answer
    task = await in_review.task()
    assert (task.status, task.review_round) == ("in_progress", 1)
    assert [(j.kind, j.state) for j in await in_review.jobs()] == [("work", "done"), ("review", "queued")]

    assert await in_review.platform.run_next_job()
    delivered = await in_review.deliver()

    task = await in_review.task()
    assert (task.status, task.error) == ("review", None)
    log = in_review.github.branch_log(owner, name, task.branch)
    assert log[0]["message"].startswith(f"{task.title}: review round 1"), log
    pulls = in_review.github.pull_requests(owner, name)
    assert [(p.number, p.state, p.head_sha) for p in pulls] == [(number, "open", log[0]["sha"])]
    assert task.pr_head_sha == log[0]["sha"], "the synchronize delivery records the new head"
    (reply,) = pulls[0].issue_comments
    assert reply.user_login == in_review.github.user_login
    assert reply.body.startswith("Documented the notes as asked.")
    assert [(d.event, d.result) for d in delivered if d.event in ("issue_comment", "pull_request")] == [
        ("pull_request", "applied"),
        ("issue_comment", "ignored"),
    ], "the agent's own reply starts nothing"
    review_prompt = fake_llm.conversations()[-1].opening[-1]["content"]
    assert "Review round 1 of your pull request" in review_prompt
    assert f"{REVIEWER} requested changes:\n> Add a docstring, please." in review_prompt
    assert "- on AGENT_NOTES.md, line 1: Say why, not what." in review_prompt
    assert statuses(await in_review.events())[-3:] == [
        ("review", None),
        ("in_progress", f"{REVIEWER} asked for changes: review round 1"),
        ("review", "the agent answered review round 1"),
    ]
    (replied,) = await in_review.events("review.replied")
    assert (replied.data["round"], replied.data["commit"]) == (1, log[0]["sha"])


async def test_a_review_round_that_changes_nothing_still_replies_and_goes_back_to_review(in_review, fake_llm):
    fake_llm.script("Is this needed", [Turn.finish_with("Nothing to change: the notes are needed.")])
    in_review.request_changes("Is this needed at all?")
    await in_review.deliver()

    assert await in_review.platform.run_next_job()

    task = await in_review.task()
    assert task.status == "review", task.error
    owner, name, number = in_review.where
    assert len(in_review.github.branch_log(owner, name, task.branch)) == 2, "no new commit"
    (reply,) = in_review.github.pull_requests(owner, name)[0].issue_comments
    assert "Nothing to change: the notes are needed." in reply.body
    assert "no new commit" in reply.body


async def test_requests_while_a_round_is_queued_wait_and_the_next_round_takes_them_together(in_review, fake_llm):
    """Two more reviews come while round 1 is queued: they wait, and once round 1 ends, round 2 takes both
    (one round, not two); the agent reads both in its prompt."""
    in_review.request_changes("First: rename it.")
    await in_review.deliver()
    in_review.request_changes("Second: add a test.", login="sam-reviewer")
    in_review.request_changes("Third: and a changelog line.")
    waited = [d for d in await in_review.deliver() if d.event == "pull_request_review"]
    assert [d.answer["detail"] for d in waited] == ["a run of the task is active: the request waits for it to end"] * 2
    requested = await in_review.events("review.changes_requested")
    assert [e.data["round"] for e in requested] == [1, None, None]

    assert await in_review.platform.run_next_job()  # round 1, whose end starts round 2
    task = await in_review.task()
    assert (task.status, task.review_round) == ("in_progress", 2)
    assert statuses(await in_review.events())[-1] == (
        "in_progress",
        "rita-reviewer, sam-reviewer asked for changes while the agent worked: review round 2",
    )
    await in_review.deliver()
    assert await in_review.platform.run_next_job()  # round 2
    assert not await in_review.platform.run_next_job(), "no third round"

    assert (await in_review.task()).status == "review"
    round_two = fake_llm.conversations()[-1].opening[-1]["content"]
    assert "Review round 2" in round_two
    assert "Second: add a test." in round_two and "Third: and a changelog line." in round_two
    assert "First: rename it." not in round_two, "round 1 answered it"
    assert [(j.kind, j.state) for j in await in_review.jobs()] == [
        ("work", "done"),
        ("review", "done"),
        ("review", "done"),
    ]


async def test_a_merge_before_the_round_starts_ends_the_task_and_the_round_does_nothing(in_review):
    in_review.request_changes("Rename it.")
    await in_review.deliver()
    in_review.merge()
    await in_review.deliver()
    before = await in_review.events()

    assert await in_review.platform.run_next_job()

    assert (await in_review.task()).status == "done"
    assert [e.id for e in await in_review.events()] == [e.id for e in before], "the round did nothing at all"


async def test_a_round_that_finds_its_pull_request_merged_before_it_pushes_ends_the_task_done_without_pushing(
    in_review,
):
    """The merge's webhook has not come yet when the round looks: GitHub itself says it is merged."""
    in_review.request_changes("Rename it.")
    await in_review.deliver()
    in_review.merge()  # its webhook held back until after the round

    assert await in_review.platform.run_next_job()

    task = await in_review.task()
    assert task.status == "done"
    owner, name, number = in_review.where
    assert len(in_review.github.branch_log(owner, name, task.branch)) == 2, "the round pushed nothing"
    assert in_review.github.pull_requests(owner, name)[0].issue_comments == [], "and replied nothing"
    (abandoned,) = await in_review.events("review.abandoned")
    assert abandoned.data == {"round": 1, "reason": f"pull request #{number} was merged while the agent worked"}
    delivered = [d for d in await in_review.deliver() if d.event == "pull_request"]
    assert [d.answer["detail"] for d in delivered] == ["the pull request was merged; the task was done already"]
    assert [s for s, _ in statuses(await in_review.events())].count("done") == 1


async def test_a_round_that_finds_its_pull_request_closed_fails_the_task_as_the_close_would(in_review):
    in_review.request_changes("Rename it.")
    await in_review.deliver()
    in_review.close()

    assert await in_review.platform.run_next_job()

    task = await in_review.task()
    assert (task.status, task.error) == ("failed", CLOSED_REASON)
    (closed,) = [d for d in await in_review.deliver() if d.event == "pull_request"]
    assert closed.result == "ignored", "the task ended with the close already"


async def test_a_round_whose_branch_was_deleted_fails_the_task_saying_so(in_review):
    owner, name, _ = in_review.where
    task = await in_review.task()
    in_review.request_changes("Rename it.")
    await in_review.deliver()
    in_review.github.repository(owner, name).git.git("update-ref", "-d", f"refs/heads/{task.branch}")

    assert await in_review.platform.run_next_job()

    failed = await in_review.task()
    assert failed.status == "failed"
    assert failed.error == (
        f"review round 1: the pull request's branch {task.branch} is no longer on GitHub; the review cannot be answered"
    )


async def test_a_secret_in_a_review_never_reaches_the_model_nor_the_stream(in_review, fake_llm):
    in_review.request_changes(f"The token {CANARY_GITHUB_TOKEN} does not work here.")
    await in_review.deliver()

    assert await in_review.platform.run_next_job()

    (requested,) = await in_review.events("review.changes_requested")
    assert requested.data["body"] == "The token *** does not work here.", requested.data
    assert all(CANARY_GITHUB_TOKEN not in str(event.data) for event in await in_review.events())

    sent = fake_llm.conversations()[-1].sent_text()
    assert CANARY_GITHUB_TOKEN not in sent
    assert "The token *** does not work here." in sent
