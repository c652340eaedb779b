"""What both conftests of the browser suite share: the settings of playwright.config.py, and which
test failed, for the artifacts (traces, screenshots) kept only when one did.

A module of its own because pytest imports each conftest under a name of its own: keys defined in
one conftest and imported by another would be two different keys.
"""

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from fixtures.browser_settings import load_playwright_settings

ROOT = Path(__file__).resolve().parents[1]


SETTINGS = load_playwright_settings()
# The suite takes failure screenshots itself (pytest-playwright's own pictures every page of every test).
FAILURE_SCREENSHOTS = pytest.StashKey[bool]()
# Traces are recorded without the screencast (TRACE_SCREENCAST), unless --tracing was given.
TRACE_WITHOUT_SCREENCAST = pytest.StashKey[bool]()
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def apply_timeouts(context: BrowserContext) -> None:
    """playwright.config.py's action and navigation timeouts, for every page of `context`."""
    context.set_default_timeout(SETTINGS.TIMEOUTS_MS["action"])
    context.set_default_navigation_timeout(SETTINGS.TIMEOUTS_MS["navigation"])


def failed_so_far(item: pytest.Item) -> bool:
    return any(report.failed for report in item.stash.get(REPORTS, {}).values())
