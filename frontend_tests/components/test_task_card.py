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


@pytest.mark.unit
@pytest.mark.priority_p1
def test_task_card_of_a_finished_task_shows_what_its_agent_spent(card):
    done = TODO | {"status": "done", "agent_id": "a1", "prompt_tokens": 3120, "completion_tokens": 214}

    card.evaluate("(el, task) => { el.task = task; }", done | {"cost_usd": 0.000597})

    article = card.page.get_by_role("article", name=TODO["title"])
    expect(article.get_by_test_id("agent-usage")).to_contain_text("3,334 tokens · $0.0006")
    expect(article.locator("agent-activity")).to_be_hidden()  # no event of its agent seen yet


@pytest.mark.unit
@pytest.mark.priority_p0
def test_task_card_shows_its_agent_working_and_why_a_cap_stopped_it(card):
    card.evaluate("(el, task) => { el.task = task; }", TODO | {"status": "in_progress", "agent_id": "a1"})
    events = [
        ("agent.message", {"step": 1, "text": "Running the", "offset": 0, "complete": False}),
        ("agent.usage", {"step": 1, "prompt_tokens": 2_000_000, "completion_tokens": 12, "cost_usd": 0.3000072}),
        (
            "agent.stopped",
            {
                "step": 1,
                "reason": "token_budget",
                "message": "token budget of 1000000 tokens used up (2000012 tokens used)",
            },
        ),
    ]

    card.evaluate("(el, events) => events.forEach(([type, data]) => el.agentEvent(type, data))", events)

    article = card.page.get_by_role("article", name=TODO["title"])
    expect(article.get_by_test_id("agent-stop-reason")).to_have_text("Agent stopped: token budget used up")
    expect(article.get_by_test_id("agent-latest")).to_have_text(
        "Stopped (token budget used up): token budget of 1000000 tokens used up (2000012 tokens used)"
    )
    expect(article.get_by_test_id("agent-usage")).to_contain_text("2,000,012 tokens · $0.30")

    # Reopened: the next run starts with no activity and no stop, and what the task spent stays.
    card.evaluate("el => el.resetRun()")
    expect(article.get_by_test_id("agent-stop-reason")).to_be_hidden()
    expect(article.locator("agent-activity")).to_be_hidden()
    expect(article.get_by_test_id("agent-usage")).to_contain_text("2,000,012 tokens")
