"""<terminal-output>: a sandbox's output, line by line, always as text."""

import pytest
from playwright.sync_api import expect


def _write(terminal, *chunks: tuple[str, str]) -> None:
    terminal.evaluate("(el, chunks) => chunks.forEach(([text, stream]) => el.write(text, stream))", chunks)


@pytest.mark.unit
@pytest.mark.priority_p0
def test_terminal_output_shows_markup_as_text_and_never_runs_it(mount):
    page = mount("<terminal-output></terminal-output>", "terminal-output.js")
    terminal = page.locator("terminal-output")

    _write(terminal, ("<b>bold?</b>\n", "stdout"), ('<img src="x" onerror="window.__ran = true">\n', "stderr"))

    expect(terminal.locator(".terminal-output__line")).to_have_text(
        ["<b>bold?</b>", '<img src="x" onerror="window.__ran = true">']
    )
    expect(terminal.locator("b, img")).to_have_count(0)
    assert page.evaluate("window.__ran") is None, "markup from the output was executed"


@pytest.mark.unit
@pytest.mark.priority_p1
def test_terminal_output_appends_lines_in_order_and_joins_a_line_split_across_chunks(mount):
    page = mount("<terminal-output></terminal-output>", "terminal-output.js")
    terminal = page.locator("terminal-output")

    _write(
        terminal,
        ("Cloning into 'repo'...\nremote: done\n", "stdout"),
        ("[agent/task-1 4f2a9c1] ", "stdout"),
        ("Add the feature\n", "stdout"),
        ("warning: LF will be replaced by CRLF\n", "stderr"),
    )

    lines = terminal.locator(".terminal-output__line")
    expect(lines).to_have_text(
        [
            "Cloning into 'repo'...",
            "remote: done",
            "[agent/task-1 4f2a9c1] Add the feature",
            "warning: LF will be replaced by CRLF",
        ]
    )
    expect(lines.last).to_have_attribute("data-stream", "stderr")
    expect(page.get_by_role("log", name="Terminal output")).to_be_visible()
