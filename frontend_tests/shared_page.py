"""One browser context and page that a folder's tests share, for tests that need no context of their own
(the components on their test pages, the visual tests on the stand-in board): a context and page of
their own cost each test about 0.15 s of CPU more than a new document in the shared page. Each test
still opens a document of its own in it, and keeps its own trace (a chunk of the context's) and
screenshot when it fails, as a test with its own context does.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from frontend_tests.artifacts import FAILURE_SCREENSHOTS, TRACE_WITHOUT_SCREENCAST, apply_timeouts, failed_so_far


@contextmanager
def shared_context(browser: Browser, context_args: dict[str, Any], config: pytest.Config) -> Iterator[BrowserContext]:
    """A context with one page, traced as pytest-playwright traces a test's context; closed on exit."""
    context = browser.new_context(**context_args)
    apply_timeouts(context)
    tracing = config.getoption("--tracing") != "off"
    if tracing:
        context.tracing.start(screenshots=not config.stash[TRACE_WITHOUT_SCREENCAST], snapshots=True, sources=True)
    context.new_page()
    try:
        yield context
    finally:
        if tracing:
            context.tracing.stop()
        context.close()


@contextmanager
def page_for_test(request: pytest.FixtureRequest, context: BrowserContext, output_path: str) -> Iterator[Page]:
    """The shared page for one test: its trace chunk and, when it failed, its screenshot and trace
    (as --screenshot and --tracing say); then a blank document, so nothing of the test's page (its
    scripts, timers, errors) reaches the next test."""
    config = request.config
    page = context.pages[0]
    tracing = config.getoption("--tracing")
    if tracing != "off":
        context.tracing.start_chunk(title=request.node.nodeid)
    yield page
    failed = failed_so_far(request.node)
    screenshot = config.getoption("--screenshot")
    if screenshot == "on" or (failed and (screenshot == "only-on-failure" or config.stash[FAILURE_SCREENSHOTS])):
        Path(output_path).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(output_path) / f"test-{'failed' if failed else 'finished'}-1.png")
    if tracing == "on" or (tracing == "retain-on-failure" and failed):
        context.tracing.stop_chunk(path=Path(output_path) / "trace.zip")
    elif tracing != "off":
        context.tracing.stop_chunk()
    page.goto("about:blank")
