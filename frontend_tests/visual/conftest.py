"""Visual regression: the board and each component, screenshotted under fixed conditions and compared
with the baselines in baselines/ (compare.py). `make visual-baselines` (pytest's
--update-visual-baselines) writes new baselines instead, after an intended change of the looks.

Fixed conditions, so that two runs on this machine give the same pixels: one viewport and scale,
light colours, reduced motion with every animation and transition off, the caret hidden, the fonts
named (Debian's DejaVu, which Chromium's package brings), the data fixed (board_double.py), the
fonts loaded before the picture, and any time shown masked.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page

from frontend_tests.shared_page import page_for_test, shared_context
from frontend_tests.visual import compare
from frontend_tests.visual.board_double import BoardDouble
from frontend_tests.visual.stable_page import TIMES, VIEWPORT, settle

HEAD = '<meta charset="utf-8"><title>visual</title><link rel="icon" href="data:,">'


@pytest.fixture(scope="session")
def board_double() -> Iterator[BoardDouble]:
    double = BoardDouble().start()
    yield double
    double.stop()


@pytest.fixture(scope="session")
def base_url(board_double: BoardDouble) -> str:
    """This folder needs no live stack (the tests still name the stand-in's URL in full: in a run of the
    whole browser suite the session's contexts may carry another folder's base URL)."""
    return board_double.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_context_args,
        "viewport": VIEWPORT,
        "device_scale_factor": 1,
        "reduced_motion": "reduce",
        "color_scheme": "light",
        "locale": "en-US",
        "timezone_id": "UTC",
    }


@pytest.fixture(scope="session")
def _visual_context(
    browser: Browser, browser_context_args: dict[str, Any], pytestconfig: pytest.Config
) -> Iterator[BrowserContext]:
    with shared_context(browser, browser_context_args, pytestconfig) as context:
        yield context


@pytest.fixture
def visual_page(request: pytest.FixtureRequest, output_path: str, browser_name: str) -> Iterator[Page]:
    """A page in a context of this folder's fixed settings: one page all the visual tests share
    (frontend_tests/shared_page.py), each on a document of its own. With --video on, pytest-playwright's
    own page of the test's own context (a video is a page's). `browser_name`: as in the components."""
    if request.config.getoption("--video") != "off":
        yield request.getfixturevalue("page")
        return
    with page_for_test(request, request.getfixturevalue("_visual_context"), output_path) as page:
        yield page


@pytest.fixture
def compose(visual_page: Page, board_double: BoardDouble) -> Callable[[str, str, str, str], Page]:
    """compose(name, body_html, script, *modules): a page with the board's stylesheet, the component
    modules, `body_html` in <main>, then `script` run in the page to put the elements in a state."""

    def _compose(name: str, body: str, script: str, *modules: str) -> Page:
        imports = "".join(f'<script type="module" src="/web/components/{module}"></script>' for module in modules)
        url = board_double.add_page(
            name,
            f'<!doctype html><html lang="en"><head>{HEAD}<link rel="stylesheet" href="/web/board.css">{imports}'
            f'</head><body><main style="padding: 16px; max-width: 420px">{body}</main></body></html>',
        )
        visual_page.goto(url)
        if script:
            visual_page.evaluate(script)
        settle(visual_page)
        return visual_page

    return _compose  # type: ignore[return-value]


@pytest.fixture
def component_looks_as_before(compose, looks_as_before) -> Callable[..., None]:
    """component_looks_as_before(name, body=None, script="", whole_page=False): the component `name` (its module
    `name`.js) composed from `body` (one bare <name> element when None), `script` (a function given that element)
    run on it, then its <main> (or the whole page, for what floats over it) looks as before under `name`."""

    def _check(name: str, body: str | None = None, script: str = "", whole_page: bool = False) -> None:
        run = f"() => ({script})(document.querySelector('{name}'))" if script else ""
        page = compose(name, f"<{name}></{name}>" if body is None else body, run, f"{name}.js")
        looks_as_before(name, page if whole_page else page.locator("main"))

    return _check


@pytest.fixture
def looks_as_before(request: pytest.FixtureRequest) -> Callable[[str, Locator | Page], None]:
    """looks_as_before(name, page_or_element): its screenshot matches baselines/<name>.png, or fails
    keeping expected, actual and diff under reports/visual/<name>/."""
    update = request.config.getoption("--update-visual-baselines")

    def _check(name: str, target: Locator | Page) -> None:
        page = target if isinstance(target, Page) else target.page
        png = target.screenshot(animations="disabled", caret="hide", scale="css", mask=[page.locator(TIMES)])
        outcome = compare.check(name, png, update=update)
        if not outcome.matched:
            pytest.fail(outcome.message, pytrace=False)

    return _check
