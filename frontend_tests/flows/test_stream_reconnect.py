"""The platform drops the event stream: the board says so, reconnects by itself and loses nothing."""

import pytest
from playwright.sync_api import expect

from fixtures.squads import PIPELINE_TIMEOUT_S, Squad, task_finished
from fixtures.sse import SseRecorder
from fixtures.stack import Stack
from frontend_tests.flows.pipeline import SANDBOX_STATES_ON_SUCCESS
from frontend_tests.pages.board import BoardPage
from frontend_tests.pages.stream_gate import StreamGate

# EventSource waits its reconnection delay (about 3 s in Chromium) before it tries again.
RECONNECT_TIMEOUT_MS = 20_000


@pytest.mark.e2e
@pytest.mark.errors
@pytest.mark.priority_p0
def test_board_reconnects_after_the_platform_drops_the_stream_and_misses_no_update(
    board: BoardPage, new_squad: Squad, live_stack: Stack, base_url: str
):
    """1. The board is live on a squad with one To do task.
    2. The platform process is restarted: the server ends the stream. The board's reconnection is
       held back (StreamGate), so the board stays cut off while...
    3. ...the task's whole pipeline runs, through the API.
    4. The reconnection goes through: it resumes after the last event the board had
       (Last-Event-ID), the indicator is live again, and every event the board missed arrives,
       each once and in order."""
    if not live_stack.platform.started_here:
        pytest.skip("the platform is not one this suite started (SQUAD_BASE_URL), so it cannot restart it")
    task, card = board.open_with_a_new_task(new_squad)
    before_drop = board.recorded_events()
    last_seen = before_drop[-1]["id"]
    gate = StreamGate(board.page)
    gate.close()

    live_stack.restart_platform()
    expect(board.connection).to_have_text("reconnecting")
    with SseRecorder(base_url, new_squad.token, params={"task_id": task["id"]}) as stream:
        new_squad.client.assign(task["id"], new_squad.agent["id"])
        stream.wait_for(task_finished(task["id"]), timeout=PIPELINE_TIMEOUT_S, what="the task's pipeline to end")
    expect(board.column("todo").locator(card)).to_be_visible()
    assert [event["type"] for event in board.recorded_events(task["id"])] == ["task.created"], (
        "the board received events while its stream was down"
    )

    gate.open()

    expect(board.connection).to_have_text("live", timeout=RECONNECT_TIMEOUT_MS)
    expect(board.column("review").locator(card)).to_be_visible()
    pr_url = new_squad.client.get_task(task["id"])["pr_url"]
    expect(card.get_by_test_id("pr-link")).to_have_attribute("href", pr_url)
    expect(board.toasts("success").get_by_role("link")).to_have_attribute("href", pr_url)

    expect(card.locator("sandbox-status")).to_have_text("done")  # the pipeline's last event

    assert gate.reconnections, "the board never tried to reconnect"
    received_ids = [event["id"] for event in board.recorded_events()]
    with SseRecorder(base_url, new_squad.token) as everything:
        everything.wait_for(lambda event: event["id"] == received_ids[-1], what="the squad's events up to the last")
        expected_ids = [event["id"] for event in everything.events]
    # Resumed after the last event it had (Last-Event-ID): nothing is missing and nothing comes twice.
    resumed = [event["id"] for event in board.recorded_events()[len(before_drop) :]]
    assert resumed and min(resumed) > last_seen, f"after the drop the stream resent old events: {resumed}"
    assert received_ids == expected_ids, "the board should receive every event of the squad once, in order"
    assert board.connection_trail() == ["connecting", "live", "reconnecting", "live"]
    assert board.sandbox_trail(task["id"]) == SANDBOX_STATES_ON_SUCCESS
    assert board.recorded_streams() == ["/api/v1/events"], "EventSource reconnected by itself"
