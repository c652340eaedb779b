"""<agent-usage>: what a task's agent spent on the LLM, from the task API and the stream's agent.usage events."""

from typing import Any

import pytest
from playwright.sync_api import Locator, expect


def _mount(mount) -> Locator:
    page = mount('<agent-usage data-testid="usage"></agent-usage>', "agent-usage.js")
    return page.get_by_test_id("usage")


def usage(step: int, prompt: int, completion: int, cost: float, estimated: bool = False) -> dict[str, Any]:
    return {
        "step": step,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost_usd": cost,
        "estimated": estimated,
    }


def _record(element: Locator, *events: dict[str, Any]) -> None:
    element.evaluate("(el, events) => events.forEach((data) => el.record(data))", events)


@pytest.mark.unit
@pytest.mark.priority_p1
def test_agent_usage_shows_a_finished_tasks_spend_from_the_task_api(mount):
    element = _mount(mount)
    expect(element).to_be_hidden()  # nothing spent, nothing said

    element.evaluate(
        "el => el.showTask({prompt_tokens: 10400, completion_tokens: 1234, cost_usd: 0.0023})",
    )

    expect(element).to_be_visible()
    expect(element).to_have_text("LLM usage: 11,634 tokens · $0.0023 (10,400 prompt and 1,234 completion tokens)")
    expect(element).to_have_attribute("data-total-tokens", "11634")


@pytest.mark.unit
@pytest.mark.priority_p0
def test_agent_usage_adds_up_the_runs_of_the_task_live(mount):
    element = _mount(mount)

    _record(element, usage(1, 400, 20, 0.000072), usage(2, 900, 60, 0.000171))
    expect(element).to_have_attribute("data-total-tokens", "960")
    # A new run (the task reopened, or a worker died): its turns count from step 1 again.
    _record(element, usage(1, 2_000_000, 50, 0.30003))

    expect(element).to_have_attribute("data-total-tokens", str(960 + 2_000_050))
    expect(element.locator("span:not(.visually-hidden)")).to_have_text("2,001,010 tokens · $0.30")


@pytest.mark.unit
@pytest.mark.priority_p1
def test_agent_usage_replaying_old_events_never_counts_down_from_what_the_api_said(mount):
    element = _mount(mount)
    element.evaluate("el => el.showTask({prompt_tokens: 900, completion_tokens: 60, cost_usd: 0.000171})")
    shown = element.inner_text()

    _record(element, usage(1, 400, 20, 0.000072))

    assert element.inner_text() == shown, "the replay of the first turn took the figures back"
    _record(element, usage(2, 900, 60, 0.000171), usage(3, 1500, 90, 0.000279))
    expect(element).to_have_attribute("data-total-tokens", "1590")


@pytest.mark.unit
@pytest.mark.priority_p2
def test_agent_usage_says_when_the_tokens_were_estimated(mount):
    element = _mount(mount)

    _record(element, usage(1, 40, 8, 0.0000108, estimated=True))

    expect(element).to_have_text("LLM usage: ≈ 48 tokens · $0.000011 (40 prompt and 8 completion tokens, estimated)")
