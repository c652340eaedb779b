"""<task-card>: one task, with its badge, progress, terminal, pull request link and move control."""

import pytest
from playwright.sync_api import Locator, expect

TODO = {"id": "t1", "title": "Add a health badge", "status": "todo", "agent_id": None, "pr_url": None, "error": None}


@pytest.fixture
def card(mount) -> Locator:
    """A <task-card> alone on its page (`card.page`)."""
    return mount("<task-card></task-card>", "task-card.js").locator("task-card")


def _show_recording_moves(card: Locator, task: dict) -> None:
    """Shows `task` on the card; each move it asks for is kept in `window.moves`."""
    card.evaluate(
        """(el, task) => {
            el.task = task;
            window.moves = [];
            el.addEventListener('task-move-request', (event) => window.moves.push(event.detail.taskId));
        }""",
        task,
    )


@pytest.mark.unit
@pytest.mark.priority_p1
def test_task_card_to_do_can_be_moved_from_the_keyboard(card):
    page = card.page
    _show_recording_moves(card, TODO)

    article = page.get_by_role("article", name=TODO["title"])
    expect(article.get_by_test_id("agent-name")).to_have_text("Unassigned")
    expect(article.locator("sandbox-status")).to_have_text("no sandbox")
    expect(article.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    expect(article.get_by_test_id("pr-link")).to_be_hidden()
    expect(card).to_have_attribute("draggable", "true")

    card.focus()
    page.keyboard.press("Enter")
    article.get_by_role("button", name=f"Move task: {TODO['title']}").click()

    assert page.evaluate("window.moves") == ["t1", "t1"], "Enter and the Move button each ask to move once"


@pytest.mark.unit
@pytest.mark.priority_p1
def test_task_card_in_review_shows_its_pull_request_and_a_full_bar_and_can_be_moved(card):
    page = card.page
    url = "http://127.0.0.1:9/acme/widgets/pull/3"
    review = TODO | {"status": "review", "agent_id": "a1", "pr_url": url, "pr_number": 3}

    card.evaluate("(el, task) => { el.agentName = 'ada-bot'; el.task = task; el.sandboxStatus = 'done'; }", review)

    article = page.get_by_role("article", name=TODO["title"])
    expect(article.get_by_role("link", name=f"Pull request #3: {TODO['title']}")).to_have_attribute("href", url)
    expect(article.get_by_role("progressbar")).to_have_attribute("aria-valuetext", "Pipeline finished")
    expect(article.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "7")
    expect(article.get_by_test_id("agent-name")).to_have_text("ada-bot")
    expect(article.locator("sandbox-status")).to_have_text("done")
    # Into Done, by hand: the move control is there, and the card can be dragged.
    expect(article.get_by_role("button", name=f"Move task: {TODO['title']}")).to_be_visible()
    expect(card).to_have_attribute("draggable", "true")


@pytest.mark.unit
@pytest.mark.priority_p1
@pytest.mark.parametrize("status", ["in_progress", "done"])
def test_task_card_that_only_its_pipeline_moves_has_no_move_control_and_cannot_be_dragged(card, status):
    _show_recording_moves(card, TODO | {"status": status, "agent_id": "a1"})

    expect(card).to_have_attribute("data-status", status)
    expect(card.get_by_role("button", name=f"Move task: {TODO['title']}")).to_be_hidden()
    expect(card).to_have_attribute("draggable", "false")
    card.focus()
    card.page.keyboard.press("Enter")
    assert card.page.evaluate("window.moves") == [], "a card its pipeline moves asked to be moved"
