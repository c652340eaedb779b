"""The board follows a pipeline live, from the event stream alone, and shows its history when reopened."""

import pytest
from playwright.sync_api import expect

from fixtures.platform_client import FakeGitHubAdmin
from fixtures.squads import PIPELINE_TIMEOUT_S, FinishedTask, Squad, task_finished
from fixtures.sse import SseRecorder
from fixtures.stack import Stack
from frontend_tests.flows.pipeline import SANDBOX_STATES_ON_SUCCESS, open_finished_task, terminal_lines
from frontend_tests.pages.accessibility import assert_no_serious_violations
from frontend_tests.pages.board import BoardPage

PIPELINE_STEPS = 7


@pytest.mark.e2e
@pytest.mark.priority_p0
def test_board_shows_a_pipeline_started_elsewhere_live_badge_progress_terminal_and_pull_request(
    board: BoardPage, new_squad: Squad, fake_github_admin: FakeGitHubAdmin, live_stack: Stack, base_url: str
):
    """The task is assigned through the API, not the board: every change the page shows comes
    from the event stream. The page's record is compared with what the stream itself delivers."""
    task, card = board.open_with_a_new_task(new_squad)

    with SseRecorder(base_url, new_squad.token, params={"task_id": task["id"]}) as stream:
        new_squad.client.assign(task["id"], new_squad.agent["id"])
        done = stream.wait_for(task_finished(task["id"]), timeout=PIPELINE_TIMEOUT_S, what="the task to finish")
        expected_lines = terminal_lines(stream.events)
    assert done["data"]["status"] == "review", f"the pipeline failed: {done['data']}"

    pulls = fake_github_admin.pulls(new_squad.owner, new_squad.repo_name, token=live_stack.github_token)
    assert len(pulls) == 1, f"expected one pull request in {new_squad.squad['repository']}, found {len(pulls)}"
    pr_url = pulls[0]["html_url"]
    expect(board.column("review").locator(card)).to_be_visible()
    expect(card.get_by_test_id("pr-link")).to_have_attribute("href", pr_url)
    notification = board.toasts("success").filter(has_text=task["title"])
    expect(notification).to_contain_text("Pull request opened")
    expect(notification.get_by_role("link")).to_have_attribute("href", pr_url)
    expect(card.locator("sandbox-status")).to_have_text("done")
    expect(card.get_by_role("progressbar")).to_have_attribute("aria-valuetext", "Pipeline finished")

    assert expected_lines, "the pipeline printed nothing to its terminal"
    expect(board.terminal_lines(task["id"])).to_have_count(len(expected_lines))
    shown = card.locator("terminal-output").evaluate("terminal => terminal.lines")
    assert shown == expected_lines, "terminal lines differ from the stream's terminal.output, in order"
    assert board.sandbox_trail(task["id"]) == SANDBOX_STATES_ON_SUCCESS, "badge states, in order"
    assert board.progress_trail(task["id"]) == list(range(PIPELINE_STEPS + 1)), "progress, step by step"
    assert board.column_trail(task["id"]) == ["todo", "in_progress", "review"], "the card's columns, in order"
    assert board.assign_requests == [], "the board assigned nothing itself"
    assert_no_serious_violations(board.page, "the board with a task in review and its notification")


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_reopening_the_board_shows_a_finished_task_where_it_is_without_announcing_old_news(
    board: BoardPage, finished_task: FinishedTask
):
    """A task went through its pipeline before the board opened: the board opens on its finished
    state, with the terminal's history, and raises no notification for any of it."""
    finished = finished_task

    card = open_finished_task(board, finished)
    expect(board.terminal_lines(finished.task["id"])).to_have_count(len(terminal_lines(finished.events)))
    if finished.task["status"] == "review":
        expect(card.get_by_test_id("pr-link")).to_have_attribute("href", finished.task["pr_url"])
        expect(card.get_by_role("progressbar")).to_have_attribute("aria-valuenow", str(PIPELINE_STEPS))
    else:
        expect(card.get_by_test_id("task-error")).to_have_text(finished.task["error"])
    # The stream's replay is applied by now (the badge shows its last state); none of it was news.
    expect(board.toasts()).to_have_count(0)
