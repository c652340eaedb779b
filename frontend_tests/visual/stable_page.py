"""What makes a page's screenshot the same on every run: no motion, no caret, named fonts, fonts
loaded, and any time shown masked."""

from playwright.sync_api import Page

# The board is laid out for five columns side by side at this width (playwright.config.py).
VIEWPORT = {"width": 1440, "height": 900}
# Injected after load: no motion, no caret, and the board's font stacks pinned to Debian's DejaVu
# (what fontconfig picks for them here anyway, now named so another installed font cannot win).
STILL = """
*, *::before, *::after { animation: none !important; transition: none !important; caret-color: transparent !important; }
body { font-family: "DejaVu Sans", sans-serif !important; }
terminal-output, terminal-output * { font-family: "DejaVu Sans Mono", monospace !important; }
"""
# Anything that shows a time or a date is covered by a box of one colour.
TIMES = "time, [data-testid$='-time'], [data-visual-mask]"


def settle(page: Page) -> None:
    page.add_style_tag(content=STILL)
    page.evaluate("document.fonts.ready.then(() => true)")
