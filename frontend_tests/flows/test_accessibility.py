"""axe-core on the board in each of its states: no serious or critical violation.

The live states with notifications (a pull request opened, a task failed) are checked at the end of
the flows that produce them (test_real_time_updates, test_task_failure)."""

import pytest
from playwright.sync_api import Route, expect

from fixtures import factories
from fixtures.squads import FinishedTask, Squad
from frontend_tests.flows.pipeline import open_finished_task
from frontend_tests.pages.accessibility import assert_no_serious_violations
from frontend_tests.pages.board import EVENTS_PATH, BoardPage


@pytest.mark.integration
@pytest.mark.priority_p1
def test_signed_out_board_has_no_serious_accessibility_violation(board: BoardPage):
    board.page.goto(f"{board.base_url}/")
    expect(board.page.get_by_test_id("board")).to_have_attribute("data-state", "signed-out")
    expect(board.page.get_by_test_id("board-message")).to_be_visible()

    assert_no_serious_violations(board.page, "the signed-out board")


@pytest.mark.integration
@pytest.mark.priority_p1
def test_board_with_tasks_to_do_has_no_serious_accessibility_violation(board: BoardPage, new_squad: Squad):
    for _ in range(2):
        new_squad.client.create_task(**factories.task_data())
    board.open(new_squad.squad["id"], new_squad.token)
    expect(board.column("todo").get_by_test_id("task-card")).to_have_count(2)

    assert_no_serious_violations(board.page, "the board with tasks to do")


@pytest.mark.integration
@pytest.mark.priority_p1
def test_open_assign_dialog_has_no_serious_accessibility_violation(board: BoardPage, new_squad: Squad):
    task = new_squad.client.create_task(**factories.task_data())
    board.open(new_squad.squad["id"], new_squad.token)
    board.card(task["id"]).focus()
    board.page.keyboard.press("Enter")
    expect(board.page.get_by_role("dialog", name="Move to In Progress")).to_be_visible()

    assert_no_serious_violations(board.page, "the board with the assign dialog open")
    board.page.keyboard.press("Escape")


@pytest.mark.integration
@pytest.mark.priority_p2
def test_board_whose_stream_is_refused_shows_reconnecting_without_serious_accessibility_violation(
    board: BoardPage, new_squad: Squad
):
    new_squad.client.create_task(**factories.task_data())

    def refuse(route: Route) -> None:
        route.fulfill(status=503, content_type="text/plain", body="stream unavailable")

    board.page.route(lambda url: url.split("?")[0].endswith(EVENTS_PATH), refuse)
    board.page.goto(f"{board.base_url}/#squad={new_squad.squad['id']}&token={new_squad.token}")
    expect(board.page.get_by_test_id("board")).to_have_attribute("data-state", "ready")
    expect(board.connection).to_have_text("reconnecting")

    assert_no_serious_violations(board.page, "the board while its stream reconnects")


@pytest.mark.integration
@pytest.mark.priority_p1
def test_board_with_a_finished_task_has_no_serious_accessibility_violation(
    board: BoardPage, finished_task: FinishedTask
):
    open_finished_task(board, finished_task)

    assert_no_serious_violations(board.page, f"the board with a task in {finished_task.task['status']}")
