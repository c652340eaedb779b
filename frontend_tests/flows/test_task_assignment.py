"""Assigning a task from the board, and watching its pipeline arrive live over SSE."""

import pytest
from playwright.sync_api import Request, expect

from fixtures import factories
from fixtures.plugin import SquadContext
from frontend_tests.pages.board import BoardPage

# The whole pipeline (sandbox, clone, commit, push, pull request) against the fakes.
PIPELINE_TIMEOUT_MS = 45_000
SANDBOX_STATES_ON_SUCCESS = ["creating", "ready", "running", "pushing", "done"]


def _is_assign(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/assign")


@pytest.mark.e2e
@pytest.mark.priority_p0
def test_dragging_a_card_to_in_progress_assigns_it_and_shows_the_pipeline_live(
    board: BoardPage, new_squad: SquadContext
):
    """Drag a To do card into In Progress, then watch the same page, without reloading:
    the assign call (once, with the squad's only agent), the badge through every sandbox state,
    the card into Review and the pull request link with the task's real pr_url."""
    task = new_squad.client.create_task(**factories.task_data())
    assign_requests: list[Request] = []
    board.page.on("request", lambda request: assign_requests.append(request) if _is_assign(request) else None)
    board.open(new_squad.squad["id"], new_squad.token)
    card = board.card(task["id"])
    expect(board.column("todo").locator(card)).to_be_visible()
    document_origin = board.page.evaluate("performance.timeOrigin")

    with board.page.expect_request(_is_assign) as assign:
        card.drag_to(board.column("in_progress"))

    request = assign.value
    assert request.url == f"{board.base_url}/api/v1/tasks/{task['id']}/assign"
    assert request.post_data_json == {"agent_id": new_squad.agent["id"]}
    assert request.headers["authorization"] == f"Bearer {new_squad.token}"
    assert request.response().status == 202
    expect(card.get_by_test_id("agent-name")).to_have_text(new_squad.agent["name"])

    pr_link = card.get_by_test_id("pr-link")
    expect(pr_link).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    expect(board.column("review").locator(card)).to_be_visible()
    expect(card.locator("sandbox-status")).to_have_attribute("data-status", "done")
    pr_url = new_squad.client.get_task(task["id"])["pr_url"]
    assert pr_url, "the task has no pr_url although the board shows a pull request"
    expect(pr_link).to_have_attribute("href", pr_url)
    expect(board.toasts("success").get_by_test_id("toast-link")).to_have_attribute("href", pr_url)

    assert board.sandbox_trail(task["id"]) == SANDBOX_STATES_ON_SUCCESS, "badge states, in order"
    assert len(assign_requests) == 1, f"assign called {len(assign_requests)} times, expected once"
    assert board.recorded_streams() == ["/api/v1/events"], "one EventSource, never reopened"
    assert "pull_request.opened" in [event["type"] for event in board.recorded_events(task["id"])]
    assert board.main_documents == [f"{board.base_url}/"], "the board loaded once and never navigated"
    assert board.page.evaluate("performance.timeOrigin") == document_origin, "the page was reloaded"


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_enter_on_a_focused_card_assigns_it_to_the_agent_chosen_in_the_dialog(
    board: BoardPage, new_squad: SquadContext
):
    second_agent = new_squad.client.create_agent(**factories.agent_data())
    task = new_squad.client.create_task(**factories.task_data())
    board.open(new_squad.squad["id"], new_squad.token)
    card = board.card(task["id"])

    card.focus()
    board.page.keyboard.press("Enter")
    dialog = board.page.get_by_role("dialog", name="Move to In Progress")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Agent").select_option(label=second_agent["name"])
    with board.page.expect_request(_is_assign) as assign:
        board.page.keyboard.press("Enter")

    assert assign.value.post_data_json == {"agent_id": second_agent["id"]}
    expect(dialog).to_be_hidden()
    expect(card.get_by_test_id("agent-name")).to_have_text(second_agent["name"])
    # Its pipeline ends here too, so no work of this test is still running after it.
    expect(card.get_by_test_id("pr-link")).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
