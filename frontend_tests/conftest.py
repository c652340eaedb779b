"""Browser suite: pytest-playwright (sync API) against the board served by the live stack.

Run it on its own (`pytest frontend_tests`): sync Playwright and the asyncio backend suite do not
share a process well (playwright-pytest#167). Browser settings live in playwright.config.py; every
pytest-playwright option given on the command line still wins over them.
"""

import os
import shlex
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect
from playwright.sync_api import Error as PlaywrightError

from frontend_tests.artifacts import (
    FAILURE_SCREENSHOTS,
    REPORTS,
    ROOT,
    SETTINGS,
    TRACE_WITHOUT_SCREENCAST,
    apply_timeouts,
    failed_so_far,
)


def _given(config: pytest.Config, flag: str) -> bool:
    """Whether `flag` was set on the command line, in PYTEST_ADDOPTS or in the ini addopts."""
    args = [
        *config.invocation_params.args,
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
        *config.getini("addopts"),
    ]
    return any(arg == flag or arg.startswith(f"{flag}=") for arg in map(str, args))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-visual-baselines",
        action="store_true",
        help="frontend_tests/visual: write each screenshot as its baseline, not compare it (make visual-baselines)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Artifact defaults that pytest-playwright's options override when given. Each xdist worker gets
    # a folder of its own: pytest-playwright empties the output folder when a session starts, and a
    # late worker must not delete what an earlier one kept.
    if not _given(config, "--output"):
        output = ROOT / SETTINGS.ARTIFACTS_DIR
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker is None and getattr(config.option, "numprocesses", None):
            # The xdist controller empties the folder once, so no earlier run's artifacts linger.
            shutil.rmtree(output, ignore_errors=True)
        config.option.output = str(output / worker if worker else output)
    for flag, value in (
        ("--tracing", SETTINGS.TRACING),
        ("--screenshot", SETTINGS.SCREENSHOT),
        ("--video", SETTINGS.VIDEO),
    ):
        if not _given(config, flag):
            setattr(config.option, flag.lstrip("-"), value)
    # pytest-playwright's "only-on-failure" screenshots every page of every test as its context
    # closes, and throws the picture away when the test passed (about 80 ms a page). From the
    # settings, the suite takes it itself, only when the test has failed (`new_context` below).
    config.stash[FAILURE_SCREENSHOTS] = (
        not _given(config, "--screenshot") and config.option.screenshot == "only-on-failure"
    )
    if config.stash[FAILURE_SCREENSHOTS]:
        config.option.screenshot = "off"
    config.stash[TRACE_WITHOUT_SCREENCAST] = (
        not _given(config, "--tracing") and config.option.tracing != "off" and not SETTINGS.TRACE_SCREENCAST
    )
    expect.set_options(timeout=SETTINGS.TIMEOUTS_MS["expect"])


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _chromium_executable(headless: bool) -> str:
    """Chromium's headless shell for a headless run when it is installed, else CHROMIUM_PATH
    (playwright.config.py)."""
    shell = SETTINGS.CHROMIUM_HEADLESS_SHELL_PATH
    if headless and shell and _is_executable(shell):
        return shell
    path = SETTINGS.CHROMIUM_PATH
    if not _is_executable(path):
        pytest.fail(
            f"no Chromium at {path}: install it with `apt-get install chromium`, "
            "or set CHROMIUM_PATH to a Chromium binary (Playwright cannot download browsers here)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], browser_name: str) -> dict[str, Any]:
    defaults: dict[str, Any] = {"headless": SETTINGS.HEADLESS, "args": list(SETTINGS.LAUNCH_ARGS)}
    if SETTINGS.SLOW_MO_MS:
        defaults["slow_mo"] = SETTINGS.SLOW_MO_MS
    # A --browser-channel names its own browser; otherwise Chromium is Debian's.
    if browser_name == "chromium" and "channel" not in browser_type_launch_args:
        headless = browser_type_launch_args.get("headless", defaults["headless"])
        defaults["executable_path"] = _chromium_executable(headless)
    return {**defaults, **browser_type_launch_args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    defaults = {"viewport": dict(SETTINGS.VIEWPORT), "locale": SETTINGS.LOCALE}
    return {**defaults, **browser_context_args}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> pytest.TestReport:
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def new_context(
    new_context: Callable[..., BrowserContext], request: pytest.FixtureRequest, output_path: str
) -> Iterator[Callable[..., BrowserContext]]:
    """pytest-playwright's factory, with the configured action and navigation timeouts and trace
    (TRACE_SCREENCAST); and, when the test failed, a screenshot of each of its pages
    (test-failed-N.png in its output folder) before pytest-playwright closes the contexts."""
    contexts: list[BrowserContext] = []
    retrace = request.config.stash[TRACE_WITHOUT_SCREENCAST]

    def make(**kwargs: Any) -> BrowserContext:
        context = new_context(**kwargs)
        if retrace:
            # pytest-playwright started the trace with its screencast; the same trace without it.
            # It stops and keeps (or drops) the trace as the context closes, as before.
            context.tracing.stop()
            context.tracing.start(title=request.node.nodeid, snapshots=True, sources=True)
        apply_timeouts(context)
        contexts.append(context)
        return context

    yield make
    if not (request.config.stash[FAILURE_SCREENSHOTS] and failed_so_far(request.node)):
        return
    pages = [page for context in contexts for page in context.pages if not page.is_closed()]
    for number, page in enumerate(pages, start=1):
        try:
            page.screenshot(path=Path(output_path) / f"test-failed-{number}.png", timeout=5000)
        except PlaywrightError:
            pass  # a page that cannot be pictured any more (its browser went away) has nothing to show


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> str:
    """`--base-url` (or the base_url ini value), else playwright.config.py's BASE_URL, else the live stack."""
    given = pytestconfig.getoption("--base-url", default=None)
    if not given:
        try:
            given = pytestconfig.getini("base_url")
        except ValueError:  # no plugin registered the ini value
            given = None
    given = given or SETTINGS.BASE_URL
    if given:
        return str(given).rstrip("/")
    # Only now is the stack needed: a run with --base-url never starts one.
    return request.getfixturevalue("live_stack").base_url.rstrip("/")
