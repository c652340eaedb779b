"""<agent-activity>: the agent's messages as they stream, its tool calls and their results, and how it
ended, from a fixed sequence of the stream's agent.* events."""

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from frontend_tests.pages.accessibility import assert_no_serious_violations

Event = tuple[str, dict[str, Any]]

CHECK_OUTPUT = "exit code: 1\nF\n======\nFAIL: test_add\nTraceback (most recent call last):\nAssertionError: -1 != 5\n"
# One run as the platform streams it: a message in deltas, then whole; a failing check; a fix; finish.
RUN: list[Event] = [
    ("agent.message", {"step": 1, "text": "Looking at", "offset": 0, "complete": False}),
    ("agent.message", {"step": 1, "text": " the adder", "offset": 10, "complete": False}),
    ("agent.message", {"step": 1, "text": "Looking at the adder first.", "offset": 0, "complete": True}),
    ("agent.usage", {"step": 1, "prompt_tokens": 420, "completion_tokens": 30, "cost_usd": 0.00008}),
    (
        "agent.tool_call",
        {"step": 1, "id": "call_1", "name": "run_command", "arguments": {"command": "python3 test_calc.py"}},
    ),
    (
        "agent.tool_result",
        {"step": 1, "id": "call_1", "name": "run_command", "exit_code": 1, "error": False, "output": CHECK_OUTPUT},
    ),
    (
        "agent.tool_call",
        {
            "step": 2,
            "id": "call_2",
            "name": "write_file",
            "arguments": {"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"},
        },
    ),
    (
        "agent.tool_result",
        {
            "step": 2,
            "id": "call_2",
            "name": "write_file",
            "exit_code": None,
            "error": False,
            "output": "wrote 32 bytes to /home/user/repo/calc.py",
        },
    ),
    ("agent.finished", {"step": 3, "summary": "Fixed add(); the check passes."}),
]


def _mount(mount) -> tuple[Page, Locator]:
    page = mount('<agent-activity data-testid="activity"></agent-activity>', "agent-activity.js")
    activity = page.get_by_test_id("activity")
    activity.evaluate("el => { el.label = 'Fix the adder'; }")
    return page, activity


def _apply(activity: Locator, *events: Event) -> None:
    activity.evaluate("(el, events) => events.forEach(([type, data]) => el.apply(type, data))", events)


def _open(page: Page) -> Locator:
    page.get_by_role("button", name="Agent activity").click()
    return page.get_by_role("log", name="Agent activity: Fix the adder")


@pytest.mark.unit
@pytest.mark.priority_p0
def test_agent_activity_assembles_a_message_from_its_deltas_and_the_whole_message_replaces_them(mount):
    page, activity = _mount(mount)
    message = activity.get_by_test_id("agent-message")
    expect(activity).to_be_hidden()  # until the agent says something

    _apply(activity, RUN[0])
    expect(activity.get_by_test_id("agent-latest")).to_have_text("Looking at")
    expect(activity).to_have_attribute("data-state", "streaming")
    _apply(activity, RUN[1])
    expect(activity.get_by_test_id("agent-latest")).to_have_text("Looking at the adder")
    log = _open(page)
    expect(message).to_have_text("Looking at the adder")
    expect(message).to_have_attribute("data-complete", "false")
    expect(log).to_have_attribute("aria-busy", "true")

    _apply(activity, RUN[2])

    expect(message).to_have_count(1)
    expect(message).to_have_text("Looking at the adder first.")
    expect(message).to_have_attribute("data-complete", "true")
    expect(log).not_to_have_attribute("aria-busy", "true")


@pytest.mark.unit
@pytest.mark.priority_p1
def test_agent_activity_starts_a_retried_turns_message_over_and_keeps_each_steps_message(mount):
    page, activity = _mount(mount)
    messages = activity.get_by_test_id("agent-message")

    _apply(
        activity,
        ("agent.message", {"step": 1, "text": "Trying the", "offset": 0, "complete": False}),
        ("agent.message", {"step": 1, "text": " tests", "offset": 10, "complete": False}),
        # The provider's stream broke; the turn is asked again and streams from the start.
        ("agent.message", {"step": 1, "text": "Reading", "offset": 0, "complete": False}),
        ("agent.message", {"step": 1, "text": " calc.py", "offset": 7, "complete": False}),
        ("agent.message", {"step": 1, "text": " calc.py", "offset": 7, "complete": False}),  # delivered twice
    )
    log = _open(page)
    expect(messages).to_have_text(["Reading calc.py"])

    _apply(
        activity,
        ("agent.message", {"step": 1, "text": "Reading calc.py.", "offset": 0, "complete": True}),
        ("agent.message", {"step": 2, "text": "Now the fix.", "offset": 0, "complete": True}),
    )
    expect(log.get_by_test_id("agent-message")).to_have_text(["Reading calc.py.", "Now the fix."])


@pytest.mark.unit
@pytest.mark.priority_p0
def test_agent_activity_shows_each_tool_call_short_and_its_result_with_exit_code_and_last_lines(mount):
    page, activity = _mount(mount)

    _apply(activity, *RUN[:5])
    expect(activity.get_by_test_id("agent-latest")).to_have_text("run_command: python3 test_calc.py")
    expect(activity).to_have_attribute("data-state", "tool")
    _apply(activity, *RUN[5:8])

    _open(page)
    calls = activity.get_by_test_id("agent-tool-call")
    expect(calls).to_have_count(2)
    expect(calls.locator(".agent-activity__call")).to_have_text(
        ["run_command: python3 test_calc.py", "write_file: calc.py"]
    )
    failed = calls.first.get_by_test_id("agent-tool-result")
    expect(failed).to_have_attribute("data-exit-code", "1")
    expect(failed).to_have_attribute("data-outcome", "failed")
    expect(failed.locator(".agent-activity__outcome")).to_have_text("exit 1")
    # The last lines, without the "exit code" line the model is sent first; the terminal has the rest.
    expect(failed.locator(".agent-activity__output")).to_have_text(
        "… 1 more line\n======\nFAIL: test_add\nTraceback (most recent call last):\nAssertionError: -1 != 5"
    )
    wrote = calls.nth(1).get_by_test_id("agent-tool-result")
    expect(wrote.locator(".agent-activity__outcome")).to_have_text("done")
    expect(wrote.locator(".agent-activity__output")).to_have_text("wrote 32 bytes to /home/user/repo/calc.py")
    expect(activity.get_by_test_id("agent-latest")).to_have_text(
        "write_file: calc.py → done: wrote 32 bytes to /home/user/repo/calc.py"
    )


@pytest.mark.unit
@pytest.mark.priority_p1
def test_agent_activity_shortens_long_or_malformed_arguments_to_one_line(mount):
    page, activity = _mount(mount)
    long_command = "python3 -c 'import calc\nprint(calc.add(2, 3))' " + "x" * 200

    _apply(
        activity,
        ("agent.tool_call", {"step": 1, "id": "a", "name": "run_command", "arguments": {"command": long_command}}),
        ("agent.tool_call", {"step": 2, "id": "b", "name": "run_command", "arguments": '["ls", "-la"]'}),
        ("agent.tool_call", {"step": 3, "id": "c", "name": "grep", "arguments": {"pattern": "add", "n": 2}}),
        (
            "agent.tool_result",
            {"step": 3, "id": "c", "name": "grep", "exit_code": None, "error": True, "output": "error: no tool"},
        ),
    )

    _open(page)
    shown = activity.locator(".agent-activity__call").all_text_contents()
    assert shown[0].startswith("run_command: python3 -c 'import calc print(calc.add(2, 3))' xxx"), shown[0]
    assert len(shown[0]) == 120 and shown[0].endswith("…"), shown[0]
    assert shown[1:] == ['run_command: ["ls", "-la"]', "grep: pattern=add n=2"]
    malformed = activity.get_by_test_id("agent-tool-result")
    expect(malformed).to_have_attribute("data-outcome", "error")
    expect(malformed.locator(".agent-activity__outcome")).to_have_text("malformed call")


@pytest.mark.unit
@pytest.mark.priority_p0
def test_agent_activity_says_how_the_agent_ended(mount):
    page, activity = _mount(mount)

    _apply(activity, *RUN)
    expect(activity).to_have_attribute("data-state", "finished")
    expect(activity.get_by_test_id("agent-latest")).to_have_text("Finished: Fixed add(); the check passes.")

    _apply(
        activity,
        (
            "agent.stopped",
            {"step": 40, "reason": "step_cap", "message": "step cap of 40 reached"},
        ),
    )
    expect(activity).to_have_attribute("data-state", "stopped")
    expect(activity.get_by_test_id("agent-latest")).to_have_text("Stopped (step cap reached): step cap of 40 reached")


@pytest.mark.unit
@pytest.mark.priority_p1
def test_agent_activity_shows_markup_as_text_and_never_runs_it(mount):
    page, activity = _mount(mount)

    _apply(
        activity,
        (
            "agent.message",
            {"step": 1, "text": '<img src="x" onerror="window.__ran = true">', "offset": 0, "complete": True},
        ),
        (
            "agent.tool_result",
            {"step": 1, "id": "x", "name": "read_file", "exit_code": None, "error": False, "output": "<b>bold?</b>"},
        ),
    )

    expect(activity.locator("img, b")).to_have_count(0)
    assert page.evaluate("window.__ran") is None, "markup from the agent was executed"


@pytest.mark.unit
@pytest.mark.priority_p1
def test_agent_activity_opens_and_closes_from_the_keyboard_without_serious_accessibility_violations(mount):
    page, activity = _mount(mount)
    _apply(activity, *RUN)
    toggle = page.get_by_role("button", name="Agent activity (4) of Fix the adder", exact=True)
    log = page.get_by_role("log", name="Agent activity: Fix the adder")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(log).to_be_hidden()

    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(log).to_be_visible()
    assert_no_serious_violations(page, "the agent's activity, open")

    page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(log).to_be_hidden()


@pytest.mark.unit
@pytest.mark.priority_p1
def test_agent_activity_keeps_one_height_while_the_agent_works_until_opened(mount):
    page, activity = _mount(mount)
    _apply(activity, RUN[0])
    height = activity.evaluate("el => el.getBoundingClientRect().height")

    _apply(activity, *RUN[1:])

    assert activity.evaluate("el => el.getBoundingClientRect().height") == height, "the card would jump"


@pytest.mark.unit
@pytest.mark.priority_p1
def test_agent_activity_cleared_for_a_new_run_is_hidden_and_empty(mount):
    page, activity = _mount(mount)
    _apply(activity, *RUN)

    activity.evaluate("el => el.clear()")

    expect(activity).to_be_hidden()
    expect(activity.locator("li")).to_have_count(0)
    _apply(activity, ("agent.message", {"step": 1, "text": "Again.", "offset": 0, "complete": True}))
    expect(activity.get_by_test_id("agent-latest")).to_have_text("Again.")
