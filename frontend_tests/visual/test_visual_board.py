"""The board's looks: every column filled from fixed data, a task mid-pipeline, the stream live."""

import pytest
from playwright.sync_api import expect

from frontend_tests.visual.stable_page import settle

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


def test_the_board_looks_as_before(visual_page, board_double, looks_as_before):
    page = visual_page
    # An absolute URL: in a run of the whole browser suite, the session's base URL is another folder's.
    page.goto(f"{board_double.url}/#squad=sq-visual&token=sq_visual_token")
    expect(page.get_by_test_id("board")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    # The stream's fixed events are applied, in order: the in-progress card shows its terminal output,
    # and the last event's spend.
    expect(page.locator('[data-task-id="t-3"] terminal-output')).to_contain_text("12 passed")
    expect(page.locator('[data-task-id="t-3"] agent-usage')).to_contain_text("1,540 tokens")
    settle(page)

    looks_as_before("board", page)
