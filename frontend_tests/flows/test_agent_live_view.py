"""The board shows a task's agent at work, live: its messages as the model streams them, its tool calls
and their results, what it spends, then the pull request; or the cap that stopped it. A board opened
afterwards shows the same from the stream's replay.

The model is scripted through the fake LLM's admin API, matched by the task's title, at a real
model's pace (so its messages stream in many deltas)."""

import uuid

import pytest
from playwright.sync_api import expect

from fixtures import factories
from fixtures.platform_client import FakeLLMAdmin
from fixtures.squads import PIPELINE_TIMEOUT_S, Squad, task_finished
from fixtures.sse import SseRecorder
from frontend_tests.flows.pipeline import PIPELINE_TIMEOUT_MS
from frontend_tests.pages.accessibility import assert_no_serious_violations
from frontend_tests.pages.board import BoardPage
from mocks.llm import ToolCall, Turn

ADDER = "def add(a, b):\n    return a + b\n"
CHECK = "from calc import add\n\nassert add(2, 3) == 5, add(2, 3)\nprint('add works')\n"
PLAN = "I will write add() in calc.py and a check of it, then run the check to see that it passes."
FIX_NOTE = "Both files are there. Running the check now."
SUMMARY = "Added add() and a check of it; the check passes."
# A real model's pace, slow enough that each message streams in several deltas (at most one every 100 ms).
PACE = {"time_to_first_token_ms": 300, "per_token_ms": 30}


def unique_title(words: str) -> str:
    """The script matches the task by its title: one no other test's task has."""
    return f"{words} {uuid.uuid4().hex[:8]}"


def _run_on_the_board(board: BoardPage, squad: Squad, base_url: str, task: dict, status: str) -> list[dict]:
    """Opens the squad's board, assigns the task with its stream recorded, and waits until the task ends
    in `status` and its card shows there; returns the events the stream received."""
    board.open(squad.squad["id"], squad.token)
    with SseRecorder(base_url, squad.token, params={"task_id": task["id"]}) as stream:
        squad.client.assign(task["id"], squad.agent["id"])
        done = stream.wait_for(task_finished(task["id"]), timeout=PIPELINE_TIMEOUT_S, what="the task to finish")
    assert done["data"]["status"] == status, f"expected the task to end {status}, it ended: {done['data']}"
    board.wait_for_card_in(task["id"], status, PIPELINE_TIMEOUT_MS)
    return list(stream.events)


@pytest.mark.e2e
@pytest.mark.priority_p0
def test_board_shows_a_scripted_agents_messages_tool_calls_and_cost_live_then_its_pull_request(
    board: BoardPage, new_squad: Squad, fake_llm_admin: FakeLLMAdmin, base_url: str
):
    """1. the model's first message streams onto the card, assembled from its deltas;
    2. its tool calls and their results, and the tokens and cost, appear before the pull request;
    3. the card ends in Review with the pull request and the whole activity;
    4. a board opened afterwards shows the same activity and spend from the replay."""
    task = new_squad.client.create_task(**factories.task_data(title=unique_title("Make add() add")))
    fake_llm_admin.script(
        task["title"],
        [
            Turn.calls(
                ToolCall("write_file", {"path": "calc.py", "content": ADDER}),
                ToolCall("write_file", {"path": "check_calc.py", "content": CHECK}),
                content=PLAN,
            ),
            Turn(content=FIX_NOTE, tool_calls=[ToolCall("run_command", {"command": "python3 -B check_calc.py"})]),
            Turn.finish_with(SUMMARY),
        ],
        name=task["id"],
        **PACE,
    )
    _run_on_the_board(board, new_squad, base_url, task, "review")

    card = board.card(task["id"])
    deltas = [
        e for e in board.recorded_events(task["id"]) if e["type"] == "agent.message" and not e["data"]["complete"]
    ]
    assert len(deltas) >= 2, f"the model's messages came in {len(deltas)} deltas: nothing streamed"
    changes = board.changes(task["id"])
    # Each as it first showed on the card; a part that never showed is missing, not an IndexError.
    first = {}
    for index, (component, value) in enumerate(changes):
        shown = "agent-usage" if component == "agent-usage" and value != "0" else (component, value)
        first.setdefault(shown, index)
    wanted = {
        "the message while it streamed": ("agent-activity", "streaming"),
        "a tool call": ("agent-activity", "tool"),
        "the tokens spent": "agent-usage",
    }
    missing = [what for what, shown in wanted.items() if shown not in first]
    assert not missing, f"the card never showed {', '.join(missing)}: {changes}"
    assert ("task-card", "review") in first, f"the card never went to Review: {changes}"
    after_review = [what for what, shown in wanted.items() if first[shown] > first[("task-card", "review")]]
    assert not after_review, f"not live: {', '.join(after_review)} showed only after the card went to Review: {changes}"
    assert board.trail("agent-activity", task["id"])[-1] == "finished"

    expect(card.get_by_test_id("pr-link")).to_be_visible()
    expect(card.get_by_test_id("agent-latest")).to_have_text(f"Finished: {SUMMARY}")
    log = board.open_agent_activity(task["id"])
    expect(log.get_by_test_id("agent-message")).to_have_text([PLAN, FIX_NOTE])
    expect(log.get_by_test_id("agent-message").first).to_have_attribute("data-complete", "true")
    expect(log.locator(".agent-activity__call")).to_have_text(
        [
            "write_file: calc.py",
            "write_file: check_calc.py",
            "run_command: python3 -B check_calc.py",
            f"finish: {SUMMARY}",
        ]
    )
    check = log.get_by_test_id("agent-tool-result").nth(2)
    expect(check).to_have_attribute("data-exit-code", "0")
    expect(check.locator(".agent-activity__output")).to_have_text("add works")
    expect(log.get_by_test_id("agent-finished")).to_have_text(f"Finished: {SUMMARY}")
    stored = new_squad.client.get_task(task["id"])
    tokens = stored["prompt_tokens"] + stored["completion_tokens"]
    expect(card.get_by_test_id("agent-usage")).to_have_attribute("data-total-tokens", str(tokens))
    expect(card.get_by_test_id("agent-usage")).to_contain_text(f"{tokens:,} tokens · $")
    assert_no_serious_violations(board.page, "the board with a card's agent activity open")
    shown_live = (board.agent_entries(task["id"]), card.get_by_test_id("agent-usage").inner_text())

    late = BoardPage(board.page.context.new_page(), board.base_url)
    late.open(new_squad.squad["id"], new_squad.token)
    late.wait_until_caught_up()
    late.open_agent_activity(task["id"])
    assert (late.agent_entries(task["id"]), late.card(task["id"]).get_by_test_id("agent-usage").inner_text()) == (
        shown_live
    ), "a board opened afterwards shows another activity"
    assert late.page_errors == []


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_board_shows_why_a_cap_stopped_the_agent_and_what_it_spent(
    board: BoardPage, new_squad: Squad, fake_llm_admin: FakeLLMAdmin, base_url: str
):
    task = new_squad.client.create_task(**factories.task_data(title=unique_title("Read the whole internet")))
    # The provider counts two million prompt tokens for the first turn: over the platform's token budget
    # (AGENT_MAX_TOKENS, one million), so the turn's tool call is never carried out.
    fake_llm_admin.script(
        task["title"],
        [
            Turn(
                content="Reading everything first.",
                tool_calls=[ToolCall("run_command", {"command": "cat /dev/urandom"})],
                usage={"prompt_tokens": 2_000_000},
            )
        ],
        name=task["id"],
        **PACE,
    )
    received = _run_on_the_board(board, new_squad, base_url, task, "failed")

    card = board.card(task["id"])
    stopped = next(e["data"] for e in received if e["type"] == "agent.stopped")
    expect(card.get_by_test_id("agent-stop-reason")).to_have_text("Agent stopped: token budget used up")
    expect(card.get_by_test_id("agent-latest")).to_have_text(f"Stopped (token budget used up): {stopped['message']}")
    expect(card.get_by_test_id("task-error")).to_contain_text(stopped["message"])
    expect(card.get_by_test_id("agent-usage")).to_contain_text("2,000,0")
    log = board.open_agent_activity(task["id"])
    expect(log.get_by_test_id("agent-message")).to_have_text("Reading everything first.")
    expect(log.get_by_test_id("agent-tool-call")).to_have_count(0)
    assert_no_serious_violations(board.page, "the board with a card its agent's cap stopped")
