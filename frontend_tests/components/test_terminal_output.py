"""<terminal-output>: a sandbox's output, line by line, always as text."""

import pytest
from playwright.sync_api import Locator, expect


@pytest.fixture
def terminal(mount) -> Locator:
    """A <terminal-output> alone on its page (`terminal.page`)."""
    return mount("<terminal-output></terminal-output>", "terminal-output.js").locator("terminal-output")


def _write(terminal: Locator, *chunks: tuple[str, str]) -> None:
    terminal.evaluate("(el, chunks) => chunks.forEach(([text, stream]) => el.write(text, stream))", chunks)


@pytest.mark.unit
@pytest.mark.priority_p0
def test_terminal_output_shows_markup_as_text_and_never_runs_it(terminal):

    _write(terminal, ("<b>bold?</b>\n", "stdout"), ('<img src="x" onerror="window.__ran = true">\n', "stderr"))

    expect(terminal.locator(".terminal-output__line")).to_have_text(
        ["<b>bold?</b>", '<img src="x" onerror="window.__ran = true">']
    )
    expect(terminal.locator("b, img")).to_have_count(0)
    assert terminal.page.evaluate("window.__ran") is None, "markup from the output was executed"


@pytest.mark.unit
@pytest.mark.priority_p1
def test_terminal_output_appends_lines_in_order_and_joins_a_line_split_across_chunks(terminal):

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
    expect(terminal.page.get_by_role("log", name="Terminal output")).to_be_visible()


@pytest.mark.unit
@pytest.mark.priority_p1
def test_terminal_output_keeps_each_streams_unfinished_line_when_the_streams_interleave(terminal):

    _write(
        terminal,
        ("Receiving objects:  10%", "stdout"),
        ("warning: redirecting to https\n", "stderr"),
        (" 50%", "stdout"),
        (" 100%, done.\n", "stdout"),
        ("Resolving deltas: done.\n", "stdout"),
    )

    expect(terminal.locator(".terminal-output__line")).to_have_text(
        ["Receiving objects:  10% 50% 100%, done.", "warning: redirecting to https", "Resolving deltas: done."]
    )
    expect(terminal.locator('.terminal-output__line[data-stream="stderr"]')).to_have_text(
        ["warning: redirecting to https"]
    )


LONG_OUTPUT_LINES = 2_000


@pytest.mark.unit
@pytest.mark.priority_p1
def test_terminal_output_keeps_every_line_of_a_long_output_and_follows_its_end(terminal):

    # 40 chunks of 50 lines, as a chatty build would print them.
    terminal.evaluate(
        """(el, total) => {
            for (let start = 0; start < total; start += 50) {
                const chunk = Array.from({ length: 50 }, (_, i) => `line ${start + i + 1}`).join('\\n') + '\\n';
                el.write(chunk, 'stdout');
            }
        }""",
        LONG_OUTPUT_LINES,
    )

    lines = terminal.locator(".terminal-output__line")
    expect(lines).to_have_count(LONG_OUTPUT_LINES)
    expect(lines.first).to_have_text("line 1")
    expect(lines.last).to_have_text(f"line {LONG_OUTPUT_LINES}")
    expect(lines.last).to_be_in_viewport()
    shown = terminal.evaluate("el => el.lines")
    assert shown == [f"line {n}" for n in range(1, LONG_OUTPUT_LINES + 1)], "lines lost or out of order"
    box = terminal.bounding_box()
    assert box is not None and box["height"] < 200, f"the terminal should scroll, not grow: {box}"


@pytest.mark.unit
@pytest.mark.priority_p2
def test_terminal_output_leaves_a_reader_who_scrolled_up_where_they_are(terminal):
    _write(terminal, *[(f"build step {n}\n", "stdout") for n in range(1, 61)])
    expect(terminal.locator(".terminal-output__line").last).to_be_in_viewport()

    terminal.evaluate("el => { el.scrollTop = 0; }")
    _write(terminal, ("a new line at the end\n", "stdout"))

    expect(terminal.locator(".terminal-output__line")).to_have_count(61)
    expect(terminal.locator(".terminal-output__line").first).to_be_in_viewport()
    expect(terminal.locator(".terminal-output__line").last).not_to_be_in_viewport()
