"""Assigning a task from the board, by drag-and-drop or from the keyboard."""

from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from fixtures import factories
from fixtures.platform_client import FakeAdmin
from fixtures.squads import Squad
from fixtures.stack import Stack
from frontend_tests.flows.pipeline import PIPELINE_TIMEOUT_MS, SANDBOX_STATES_ON_SUCCESS
from frontend_tests.pages.board import BoardPage, is_assign


@pytest.mark.e2e
@pytest.mark.priority_p0
def test_dragging_a_card_to_in_progress_assigns_it_and_shows_the_pipeline_live(
    board: BoardPage, new_squad: Squad, live_stack: Stack
):
    """Drag a To do card into In Progress, then watch the same page, without reloading:
    the stream is open, the assign call goes out once with the squad's only agent, one sandbox is
    created for the task, the badge runs through every sandbox state, and the card lands in Review
    with the task's real pr_url."""
    task = new_squad.client.create_task(**factories.task_data())
    stream = board.open(new_squad.squad["id"], new_squad.token)
    assert stream.status == 200, f"the event stream answered {stream.status}"
    assert stream.headers["content-type"].startswith("text/event-stream"), stream.headers["content-type"]
    card = board.card(task["id"])
    expect(board.column("todo").locator(card)).to_be_visible()
    document_origin = board.page.evaluate("performance.timeOrigin")

    with board.page.expect_request(is_assign) as assign:
        card.drag_to(board.column("in_progress"))

    request = assign.value
    assert request.url == f"{board.base_url}/api/v1/tasks/{task['id']}/assign"
    assert request.post_data_json == {"agent_id": new_squad.agent["id"]}
    assert request.headers["authorization"] == f"Bearer {new_squad.token}"
    assert request.response().status == 202
    expect(card.get_by_test_id("agent-name")).to_have_text(new_squad.agent["name"])

    pr_link = card.get_by_test_id("pr-link")
    board.wait_for_card_in(task["id"], "review", PIPELINE_TIMEOUT_MS)
    expect(pr_link).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    expect(board.column("review").locator(card)).to_be_visible()
    expect(card.locator("sandbox-status")).to_have_attribute("data-status", "done")
    pr_url = new_squad.client.get_task(task["id"])["pr_url"]
    assert pr_url, "the task has no pr_url although the board shows a pull request"
    expect(pr_link).to_have_attribute("href", pr_url)
    expect(board.toasts("success").get_by_test_id("toast-link")).to_have_attribute("href", pr_url)

    sandboxes = [
        entry
        for entry in FakeAdmin(live_stack.e2b_url).journal()
        if entry["operation"] == "create_sandbox"
        and ((entry["body"] or {}).get("metadata") or {}).get("task_id") == task["id"]
    ]
    assert [entry["status"] < 300 for entry in sandboxes] == [True], f"one sandbox for the task: {sandboxes}"
    assert board.sandbox_trail(task["id"]) == SANDBOX_STATES_ON_SUCCESS, "badge states, in order"
    assert board.column_trail(task["id"]) == ["todo", "in_progress", "review"], "the card's columns, in order"
    assert len(board.assign_requests) == 1, f"assign called {len(board.assign_requests)} times, expected once"
    assert board.recorded_streams() == ["/api/v1/events"], "one EventSource, never reopened"
    assert "pull_request.opened" in [event["type"] for event in board.recorded_events(task["id"])]
    assert board.main_documents == [f"{board.base_url}/"], "the board loaded once and never navigated"
    assert board.page.evaluate("performance.timeOrigin") == document_origin, "the page was reloaded"


def _with_a_second_agent(board: BoardPage, new_squad: Squad) -> tuple[dict[str, Any], dict[str, Any], Locator]:
    """A second agent in the squad and a task to do, on the board: the agent, the task and its card."""
    second_agent = new_squad.client.create_agent(**factories.agent_data())
    task = new_squad.client.create_task(**factories.task_data())
    board.open(new_squad.squad["id"], new_squad.token)
    return second_agent, task, board.card(task["id"])


@pytest.mark.e2e
@pytest.mark.priority_p0
def test_enter_on_a_focused_card_assigns_it_to_the_agent_chosen_in_the_dialog(board: BoardPage, new_squad: Squad):
    second_agent, task, card = _with_a_second_agent(board, new_squad)

    card.focus()
    board.page.keyboard.press("Enter")
    dialog = board.page.get_by_role("dialog", name="Move to In Progress")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Agent")).to_be_focused()
    dialog.get_by_label("Agent").select_option(label=second_agent["name"])
    with board.page.expect_request(is_assign) as assign:
        board.page.keyboard.press("Enter")

    assert assign.value.post_data_json == {"agent_id": second_agent["id"]}
    assert assign.value.response().status == 202
    expect(dialog).to_be_hidden()
    expect(card.get_by_test_id("agent-name")).to_have_text(second_agent["name"])
    expect(board.column("in_progress").locator(card).or_(board.column("review").locator(card))).to_be_visible()
    # Its pipeline ends here too, so no work of this test is still running after it.
    board.wait_for_card_in(task["id"], "review", PIPELINE_TIMEOUT_MS)
    expect(card.get_by_test_id("pr-link")).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    assert len(board.assign_requests) == 1, f"assign called {len(board.assign_requests)} times, expected once"
    assert board.recorded_streams() == ["/api/v1/events"], "one EventSource, never reopened"


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_dropping_a_card_when_the_squad_has_several_agents_asks_which_one(board: BoardPage, new_squad: Squad):
    second_agent, task, card = _with_a_second_agent(board, new_squad)

    card.drag_to(board.column("in_progress"))
    dialog = board.page.get_by_role("dialog", name="Move to In Progress")
    expect(dialog).to_be_visible()
    assert board.assign_requests == [], "the drop assigned the task before an agent was chosen"
    dialog.get_by_label("Agent").select_option(label=second_agent["name"])
    with board.page.expect_request(is_assign) as assign:
        dialog.get_by_role("button", name="Assign").click()

    assert assign.value.post_data_json == {"agent_id": second_agent["id"]}
    board.wait_for_card_in(task["id"], "review", PIPELINE_TIMEOUT_MS)
    expect(card.get_by_test_id("pr-link")).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    assert len(board.assign_requests) == 1, f"assign called {len(board.assign_requests)} times, expected once"


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_escape_in_the_assign_dialog_leaves_the_task_in_to_do_without_calling_the_api(
    board: BoardPage, new_squad: Squad
):
    task, card = board.open_with_a_new_task(new_squad)

    card.get_by_role("button", name=f"Move task: {task['title']}").press("Enter")
    dialog = board.page.get_by_role("dialog", name="Move to In Progress")
    expect(dialog).to_be_visible()
    board.page.keyboard.press("Escape")

    expect(dialog).to_be_hidden()
    expect(board.column("todo").locator(card)).to_be_visible()
    expect(card.get_by_test_id("agent-name")).to_have_text("Unassigned")
    # The board is still usable from the keyboard: focus returns to where the user was.
    expect(card.get_by_role("button", name=f"Move task: {task['title']}")).to_be_focused()
    assert board.assign_requests == [], "Escape must not assign the task"
    assert new_squad.client.get_task(task["id"])["status"] == "todo"
