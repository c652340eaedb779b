"""Who sees a squad's events: every board open on that squad, and no board of another squad."""

import pytest
from playwright.sync_api import expect

from fixtures import factories
from fixtures.squads import PIPELINE_TIMEOUT_S, Squad, SquadFactory
from fixtures.sse import SseRecorder
from frontend_tests.flows.pipeline import PIPELINE_TIMEOUT_MS
from frontend_tests.pages.board import BoardPage


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_two_browsers_on_the_same_squad_both_see_a_task_move_and_finish(
    board: BoardPage, colleague: BoardPage, new_squad: Squad
):
    """Two separate browser contexts (two people) have the squad's board open; one drags the card,
    and both watch it through to its pull request."""
    task = new_squad.client.create_task(**factories.task_data())
    board.open(new_squad.squad["id"], new_squad.token)
    colleague.open(new_squad.squad["id"], new_squad.token)

    # Headed, each context is a window of its own: drag in the one in front, as a person would.
    board.page.bring_to_front()
    board.card(task["id"]).drag_to(board.column("in_progress"))

    for viewer in (board, colleague):
        card = viewer.card(task["id"])
        viewer.wait_for_card_in(task["id"], "review", PIPELINE_TIMEOUT_MS)
        expect(viewer.column("review").locator(card)).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
        expect(card.get_by_test_id("agent-name")).to_have_text(new_squad.agent["name"])
        expect(card.locator("sandbox-status")).to_have_text("done")
    pr_url = new_squad.client.get_task(task["id"])["pr_url"]
    expect(colleague.card(task["id"]).get_by_test_id("pr-link")).to_have_attribute("href", pr_url)
    expect(colleague.toasts("success").get_by_role("link")).to_have_attribute("href", pr_url)
    assert colleague.sandbox_trail(task["id"]) == ["creating", "ready", "running", "pushing", "done"]
    assert colleague.column_trail(task["id"]) == ["todo", "in_progress", "review"]
    assert len(board.assign_requests) == 1 and colleague.assign_requests == [], "only the first board assigned"
    assert colleague.page_errors == [], f"the second board threw: {colleague.page_errors}"


@pytest.mark.e2e
@pytest.mark.priority_p0
def test_another_squads_pipeline_never_shows_on_the_board(board: BoardPage, squads: SquadFactory, base_url: str):
    """Our board stays open while another squad's task runs its whole pipeline. Events reach a
    stream in id order, so once our own later event has arrived, anything of theirs that the
    stream let through would have arrived before it."""
    ours, theirs = squads(), squads()
    our_task = ours.client.create_task(**factories.task_data())
    board.open(ours.squad["id"], ours.token)

    their_task = theirs.client.create_task(**factories.task_data())
    with SseRecorder(base_url, theirs.token, params={"task_id": their_task["id"]}) as their_stream:
        theirs.client.assign(their_task["id"], theirs.agent["id"])
        their_stream.wait_for(
            lambda event: event["type"] == "task.status", timeout=PIPELINE_TIMEOUT_S, what="their task to finish"
        )
    marker = ours.client.create_task(**factories.task_data())
    expect(board.card(marker["id"])).to_be_visible()

    foreign = [event for event in board.recorded_events() if event.get("squad_id") != ours.squad["id"]]
    assert foreign == [], f"the board received another squad's events: {foreign[:3]}"
    expect(board.card(their_task["id"])).to_have_count(0)
    expect(board.page.get_by_text(their_task["title"])).to_have_count(0)
    expect(board.toasts()).to_have_count(0)
    expect(board.column("todo").locator(board.card(our_task["id"]))).to_be_visible()
    expect(board.card(our_task["id"]).locator("sandbox-status")).to_have_attribute("data-status", "none")
