"""What both conftests of the browser suite share: the settings of playwright.config.py, and which
test failed, for the artifacts (traces, screenshots) kept only when one did.

A module of its own because pytest imports each conftest under a name of its own: keys defined in
one conftest and imported by another would be two different keys.
"""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from playwright.sync_api import BrowserContext

ROOT = Path(__file__).resolve().parents[1]


def _load_settings() -> ModuleType:
    # "playwright.config.py" is not an importable module name, so it is loaded from its path.
    spec = importlib.util.spec_from_file_location("playwright_config", ROOT / "playwright.config.py")
    assert spec is not None and spec.loader is not None, "playwright.config.py is missing"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETTINGS = _load_settings()
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
