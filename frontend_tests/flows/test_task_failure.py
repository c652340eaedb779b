"""A task whose pipeline fails: the board moves it to Failed and says why."""

import pytest
from playwright.sync_api import expect

from fixtures import factories
from fixtures.platform_client import FakeGitHubAdmin
from fixtures.squads import Squad, SquadFactory
from frontend_tests.flows.pipeline import PIPELINE_TIMEOUT_MS, FaultRules
from frontend_tests.pages.accessibility import assert_no_serious_violations
from frontend_tests.pages.board import BoardPage


@pytest.mark.e2e
@pytest.mark.errors
@pytest.mark.priority_p0
def test_github_refusing_the_pull_request_moves_the_card_to_failed_with_the_reason_in_a_toast(
    board: BoardPage, new_squad: Squad, github_faults: FaultRules, fake_github_admin: FakeGitHubAdmin
):
    """The fake GitHub answers 403 to this squad's create-pull-request call (a rule added through
    its admin API); everything before it (sandbox, clone, commit, push) succeeds."""
    task = new_squad.client.create_task(**factories.task_data())
    board.open(new_squad.squad["id"], new_squad.token)
    card = board.card(task["id"])
    github_faults.add(new_squad.squad["repository"], operation="create_pull_request", status=403, times=1)

    card.drag_to(board.column("in_progress"))

    board.wait_for_card_in(task["id"], "failed", PIPELINE_TIMEOUT_MS)
    expect(board.column("failed").locator(card)).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    reason = new_squad.client.get_task(task["id"])["error"]
    assert reason and "403" in reason, f"the task's error should name GitHub's 403, got {reason!r}"
    expect(card.get_by_test_id("task-error")).to_have_text(reason)
    toast = board.page.get_by_role("alert").filter(has_text=task["title"])
    expect(toast).to_contain_text("Task failed")
    expect(toast.get_by_test_id("toast-message")).to_contain_text(reason)
    expect(card.locator("sandbox-status")).to_have_attribute("data-status", "failed")
    expect(card.get_by_test_id("pr-link")).to_be_hidden()
    expect(board.toasts("success")).to_have_count(0)
    assert board.sandbox_trail(task["id"]) == ["creating", "ready", "running", "pushing", "failed"]

    refused = [
        entry
        for entry in fake_github_admin.journal()
        if entry["operation"] == "create_pull_request" and entry["fault"] == "status"
    ]
    assert [entry["path"] for entry in refused] == [f"/repos/{new_squad.squad['repository']}/pulls"], (
        f"the 403 should have answered this squad's pull request and nothing else: {refused}"
    )
    assert_no_serious_violations(board.page, "the board with a failed task and its error toast")


@pytest.mark.e2e
@pytest.mark.errors
@pytest.mark.priority_p1
def test_a_squad_whose_repository_is_missing_gets_its_card_in_failed_with_the_reason(
    board: BoardPage, squads: SquadFactory
):
    """No fault rule at all: the fake GitHub does not know the squad's repository, so the pipeline
    fails on its own, for this squad only."""
    squad = squads(with_repository=False)
    task = squad.client.create_task(**factories.task_data())
    board.open(squad.squad["id"], squad.token)
    card = board.card(task["id"])

    card.drag_to(board.column("in_progress"))

    board.wait_for_card_in(task["id"], "failed", PIPELINE_TIMEOUT_MS)
    expect(board.column("failed").locator(card)).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    reason = squad.client.get_task(task["id"])["error"]
    assert reason, "the failed task has no error to show"
    expect(card.get_by_test_id("task-error")).to_have_text(reason)
    expect(board.page.get_by_role("alert").filter(has_text=task["title"])).to_contain_text(reason)
    expect(card.locator("sandbox-status")).to_have_attribute("data-status", "failed")
    expect(card.get_by_test_id("pr-link")).to_be_hidden()
