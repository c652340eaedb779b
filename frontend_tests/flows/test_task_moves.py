"""Moving finished tasks by hand: a task in Review into Done, a Failed one back into To do.

Both are PATCH /api/v1/tasks/{id} with the new status (app/api/tasks.py, MANUAL_TRANSITIONS); every
other move is the pipeline's, and the board refuses it with a message, leaving the card where it is.
"""

import pytest
from playwright.sync_api import Locator, Request, expect

from fixtures import factories
from fixtures.squads import FinishedTask, SquadFactory
from frontend_tests.flows.pipeline import PIPELINE_TIMEOUT_MS
from frontend_tests.pages.board import BoardPage, is_task_update

COLUMN_NAMES = {"todo": "To do", "in_progress": "In Progress", "review": "Review", "done": "Done", "failed": "Failed"}


def _finished_task(squads: SquadFactory, status: str) -> FinishedTask:
    """A task of a squad of its own whose pipeline ended in `status` (review, or failed: the squad's
    repository does not exist)."""
    run = squads.run_task(squads(with_repository=status != "failed"))
    assert run.task["status"] == status, f"expected a task in {status}, got {run.task}"
    return run


def _open_on_both_boards(
    board: BoardPage, colleague: BoardPage, squads: SquadFactory, status: str
) -> tuple[FinishedTask, Locator]:
    """A finished task in `status`, open on the board of whoever moves it and on a colleague's; returns it
    and its card on the first board."""
    run = _finished_task(squads, status)
    board.open(run.squad.squad["id"], run.squad.token)
    colleague.open(run.squad.squad["id"], run.squad.token)
    return run, board.card(run.task["id"])


def _assert_one_status_update(board: BoardPage, request: Request, task_id: str, status: str, token: str) -> None:
    assert request.url == f"{board.base_url}/api/v1/tasks/{task_id}", f"PATCH went to {request.url}"
    assert request.post_data_json == {"status": status}, f"PATCH body {request.post_data_json}"
    assert request.headers["authorization"] == f"Bearer {token}"
    response = request.response()
    assert response is not None and response.status == 200, f"PATCH answered {response and response.status}"
    assert response.json()["status"] == status, f"PATCH answered {response.json()}"
    assert len(board.update_requests) == 1, f"PATCH called {len(board.update_requests)} times, expected once"
    assert board.assign_requests == [], "a status move must not assign the task"


def _assert_follows_over_the_stream(viewer: BoardPage, task_id: str, status: str) -> None:
    """A board that did not make the move shows it, learnt from the event stream alone."""
    expect(viewer.column(status).locator(viewer.card(task_id))).to_be_visible()
    moved = [
        event
        for event in viewer.recorded_events(task_id)
        if event.get("type") == "task.status" and event["data"]["status"] == status
    ]
    assert len(moved) == 1, f"the second board's stream delivered {moved} for the move to {status}"
    assert viewer.api_calls() == [], "the second board called the API itself"
    assert viewer.page_errors == [], f"the second board threw: {viewer.page_errors}"


@pytest.mark.e2e
@pytest.mark.priority_p0
def test_dragging_a_review_card_to_done_patches_it_once_and_another_browser_sees_it_done(
    board: BoardPage, colleague: BoardPage, squads: SquadFactory
):
    run, card = _open_on_both_boards(board, colleague, squads, "review")
    task_id, squad = run.task["id"], run.squad
    expect(board.column("review").locator(card)).to_be_visible()

    board.page.bring_to_front()
    with board.page.expect_request(is_task_update) as update:
        card.drag_to(board.column("done"))

    expect(board.column("done").locator(card)).to_be_visible()
    _assert_one_status_update(board, update.value, task_id, "done", squad.token)
    expect(card.get_by_test_id("pr-link")).to_have_attribute("href", run.task["pr_url"])
    expect(card.get_by_role("button", name=f"Move task: {run.task['title']}")).to_be_hidden()
    expect(board.toasts("error")).to_have_count(0)
    assert squad.client.get_task(task_id)["status"] == "done"
    _assert_follows_over_the_stream(colleague, task_id, "done")
    # The indicator's stream position is the last event the board received (the move's, or a later one).
    colleague.wait_until_caught_up()


@pytest.mark.e2e
@pytest.mark.priority_p0
def test_dragging_a_failed_card_to_to_do_reopens_it_once_and_another_browser_sees_it_unassigned(
    board: BoardPage, colleague: BoardPage, squads: SquadFactory
):
    run, card = _open_on_both_boards(board, colleague, squads, "failed")
    task_id, squad = run.task["id"], run.squad
    expect(card.get_by_test_id("task-error")).to_have_text(run.task["error"])

    board.page.bring_to_front()
    with board.page.expect_request(is_task_update) as update:
        card.drag_to(board.column("todo"))

    expect(board.column("todo").locator(card)).to_be_visible()
    _assert_one_status_update(board, update.value, task_id, "todo", squad.token)
    _assert_follows_over_the_stream(colleague, task_id, "todo")
    for viewer in (board, colleague):
        reopened = viewer.card(task_id)
        expect(reopened.get_by_test_id("agent-name")).to_have_text("Unassigned")
        expect(reopened.get_by_test_id("task-error")).to_be_hidden()
        expect(reopened.locator("sandbox-status")).to_have_attribute("data-status", "none")
        expect(reopened.locator("terminal-output .terminal-output__line")).to_have_count(0)
    stored = squad.client.get_task(task_id)
    assert (stored["status"], stored["agent_id"], stored["error"]) == ("todo", None, None), f"stored: {stored}"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("start", "destination"),
    [
        pytest.param("review", "done", marks=pytest.mark.priority_p0, id="review-to-done"),
        pytest.param("failed", "todo", marks=pytest.mark.priority_p1, id="failed-to-todo"),
    ],
)
def test_enter_on_a_focused_card_opens_the_move_control_and_confirming_moves_it(
    board: BoardPage, colleague: BoardPage, squads: SquadFactory, start: str, destination: str
):
    run, card = _open_on_both_boards(board, colleague, squads, start)
    task_id, squad = run.task["id"], run.squad
    board.page.bring_to_front()

    card.focus()
    board.page.keyboard.press("Enter")
    dialog = board.move_dialog(COLUMN_NAMES[destination])
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(run.task["title"])
    expect(dialog.get_by_label("Agent")).to_be_hidden()
    expect(dialog.get_by_role("button", name="Move")).to_be_focused()
    with board.page.expect_request(is_task_update) as update:
        board.page.keyboard.press("Enter")

    expect(dialog).to_be_hidden()
    expect(board.column(destination).locator(card)).to_be_visible()
    _assert_one_status_update(board, update.value, task_id, destination, squad.token)
    # The keyboard user keeps their place: the moved card has the focus.
    expect(card).to_be_focused()
    _assert_follows_over_the_stream(colleague, task_id, destination)


# Every column a task card is put into, in order, from before the board's own script runs.
_RECORD_CARD_COLUMNS = """
window.cardColumns = [];
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node.nodeName === 'TASK-CARD') {
        const column = node.closest('[data-column]');
        window.cardColumns.push(column ? column.dataset.column : null);
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_a_board_opened_on_a_finished_task_keeps_its_card_in_place_while_the_history_replays(
    board: BoardPage, finished_tasks: dict[str, FinishedTask]
):
    """The replayed history (assigned, in progress, review) shows on the card, but the card is put once,
    into the snapshot's column: carried through the old ones, it would lose the keyboard's focus."""
    run = finished_tasks["review"]
    board.page.add_init_script(_RECORD_CARD_COLUMNS)
    board.open(run.squad.squad["id"], run.squad.token)
    board.wait_until_caught_up()

    expect(board.column("review").locator(board.card(run.task["id"]))).to_be_visible()
    assert board.page.evaluate("window.cardColumns") == ["review"]


@pytest.mark.e2e
@pytest.mark.priority_p2
def test_escape_in_the_move_dialog_leaves_a_review_card_in_review_without_calling_the_api(
    board: BoardPage, finished_tasks: dict[str, FinishedTask]
):
    run = finished_tasks["review"]
    board.open(run.squad.squad["id"], run.squad.token)
    card = board.card(run.task["id"])

    card.get_by_role("button", name=f"Move task: {run.task['title']}").press("Enter")
    dialog = board.move_dialog("Done")
    expect(dialog).to_be_visible()
    board.page.keyboard.press("Escape")

    expect(dialog).to_be_hidden()
    expect(board.column("review").locator(card)).to_be_visible()
    expect(card.get_by_role("button", name=f"Move task: {run.task['title']}")).to_be_focused()
    assert board.api_calls() == [], f"Escape called the API: {[r.url for r in board.api_calls()]}"
    assert run.squad.client.get_task(run.task["id"])["status"] == "review"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("start", "destination"),
    [
        pytest.param("todo", "done", marks=pytest.mark.priority_p0, id="todo-to-done"),
        pytest.param("review", "todo", marks=pytest.mark.priority_p1, id="review-to-todo"),
        pytest.param("failed", "in_progress", marks=pytest.mark.priority_p1, id="failed-to-in_progress"),
    ],
)
def test_an_illegal_drag_is_refused_with_a_message_and_the_card_stays(
    board: BoardPage,
    squads: SquadFactory,
    finished_tasks: dict[str, FinishedTask],
    start: str,
    destination: str,
):
    """Review and Failed tasks are the session's shared finished tasks: a refused move leaves them as
    they are (and the test fails if it does not)."""
    if start == "todo":
        squad = squads()
        task = squad.client.create_task(**factories.task_data())
    else:
        squad, task = finished_tasks[start].squad, finished_tasks[start].task
    board.open(squad.squad["id"], squad.token)
    card = board.card(task["id"])
    board.wait_until_caught_up()
    columns_before = board.column_trail(task["id"])

    card.drag_to(board.column(destination))

    refusal = board.page.get_by_role("alert").filter(has_text="Move refused").filter(has_text=task["title"])
    expect(refusal).to_be_visible()
    expect(refusal.get_by_test_id("toast-message")).to_contain_text(
        f"cannot move from {COLUMN_NAMES[start]} to {COLUMN_NAMES[destination]}"
    )
    expect(board.column(start).locator(card)).to_be_visible()
    expect(board.column(destination).locator(card)).to_have_count(0)
    assert board.api_calls() == [], f"a refused move called the API: {[r.url for r in board.api_calls()]}"
    assert board.column_trail(task["id"]) == columns_before, "the card never left its column"
    assert squad.client.get_task(task["id"])["status"] == start


@pytest.mark.e2e
@pytest.mark.errors
@pytest.mark.priority_p1
def test_a_reopened_task_that_fails_again_raises_a_new_failure_toast(board: BoardPage, squads: SquadFactory):
    """The board does not announce the failure it loaded with (old news), but once the task is
    reopened and assigned again, its second failure is news, even for the very same reason."""
    run = _finished_task(squads, "failed")
    task_id, squad = run.task["id"], run.squad
    board.open(squad.squad["id"], squad.token)
    card = board.card(task_id)
    failure_toasts = board.page.get_by_role("alert").filter(has_text="Task failed").filter(has_text=run.task["title"])
    expect(board.column("failed").locator(card)).to_be_visible()
    board.wait_until_caught_up()
    expect(failure_toasts).to_have_count(0)
    columns_before = board.column_trail(task_id)

    card.drag_to(board.column("todo"))
    expect(board.column("todo").locator(card)).to_be_visible()
    card.drag_to(board.column("in_progress"))

    board.wait_for_card_in(task_id, "failed", PIPELINE_TIMEOUT_MS)
    expect(board.column("failed").locator(card)).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    expect(failure_toasts).to_have_count(1)
    assert board.column_trail(task_id) == [*columns_before, "todo", "in_progress", "failed"]
    assert squad.client.get_task(task_id)["error"] == run.task["error"], "the second failure had another reason"
