"""The review loop on the board: what a reviewer does on GitHub moves the card live, through the webhooks
the fake GitHub delivers to the platform and the events the platform streams to the page."""

import secrets

import pytest
from playwright.sync_api import expect

from fixtures.platform_client import FakeGitHubAdmin
from fixtures.squads import PIPELINE_TIMEOUT_S, Squad, task_finished
from fixtures.sse import SseRecorder
from fixtures.stack import Stack
from frontend_tests.pages.board import BoardPage


def of_task(task_id: str, type: str, **data: object):
    """A predicate for SseRecorder.wait_for: an event of this task and type whose data holds `data`."""
    return lambda event: (
        event["type"] == type
        and event["task_id"] == task_id
        and all(event["data"].get(key) == value for key, value in data.items())
    )


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_a_review_asking_for_changes_sends_the_card_back_to_work_and_the_merge_moves_it_to_done_live(
    board: BoardPage, new_squad: Squad, fake_github_admin: FakeGitHubAdmin, live_stack: Stack, base_url: str
):
    """1. The task's pipeline opens its pull request: the card is in Review.
    2. A reviewer requests changes on GitHub: the card goes back to In Progress, with a notification.
    3. The agent's review round pushes a second commit to the same pull request and replies there: Review.
    4. The reviewer merges: the card moves to Done, with a notification."""
    repository = new_squad.squad["repository"]
    assert new_squad.squad["webhook"]["status"] == "created", new_squad.squad["webhook"]
    suffix = secrets.token_hex(6)
    rita = fake_github_admin.add_user(f"rita-{suffix}", f"ghp_rita{suffix}")
    task, card = board.open_with_a_new_task(new_squad)

    with SseRecorder(base_url, new_squad.token, params={"task_id": task["id"]}) as stream:
        new_squad.client.assign(task["id"], new_squad.agent["id"])
        opened = stream.wait_for(task_finished(task["id"]), timeout=PIPELINE_TIMEOUT_S, what="the pull request")
        assert opened["data"]["status"] == "review", f"the pipeline failed: {opened['data']}"
        expect(board.column("review").locator(card)).to_be_visible()
        number = new_squad.client.get_task(task["id"])["pr_number"]
        first_head = fake_github_admin.pull(repository, number, rita.token)["head"]["sha"]

        rita.request_changes(repository, number, "Please say in the notes why this change is needed.")
        stream.wait_for(
            of_task(task["id"], "review.replied", round=1),
            timeout=PIPELINE_TIMEOUT_S,
            what="the agent's reply to review round 1",
        )
        expect(board.column("review").locator(card)).to_be_visible()

        rita.merge(repository, number)
        stream.wait_for(of_task(task["id"], "task.status", status="done"), what="the merge to finish the task")

    expect(board.column("done").locator(card)).to_be_visible()
    assert board.column_trail(task["id"]) == ["todo", "in_progress", "review", "in_progress", "review", "done"]
    expect(board.toasts("success").filter(has_text="Changes requested")).to_contain_text(rita.login)
    merged = board.toasts("success").filter(has_text="Pull request merged")
    expect(merged).to_contain_text(task["title"])
    expect(merged.get_by_role("link")).to_have_attribute("href", new_squad.client.get_task(task["id"])["pr_url"])

    pull = fake_github_admin.pull(repository, number, rita.token)
    assert (pull["merged"], pull["commits"]) == (True, 2), "the agent's first commit and its review round's"
    assert pull["head"]["sha"] != first_head, "the review round pushed a new commit to the same pull request"
    pulls = fake_github_admin.pulls(new_squad.owner, new_squad.repo_name, token=live_stack.github_token, state="all")
    assert len(pulls) == 1, "never a second pull request"
    replies = fake_github_admin.issue_comments(repository, number, rita.token)
    assert [comment["body"].split("\n---\n")[-1] for comment in replies] == [
        f"{new_squad.agent['name']} (Agent Squad), review round 1: commit {pull['head']['sha'][:12]}."
    ]
