"""Component tests: one custom element of app/web alone on a page of its own, no platform behind it.

A small static server serves the board's files from this checkout (at the board's own URLs,
/web/...) and the test pages that `mount` composes, so these tests need neither the live stack nor
--base-url. They share one browser context and page (frontend_tests/shared_page.py); every test
opens a document of its own in it, and keeps its own trace and screenshot when it fails.
"""

import functools
import itertools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from frontend_tests.shared_page import page_for_test, shared_context

APP_DIR = Path(__file__).resolve().parents[2] / "app"
# No favicon request: an empty data URL keeps the console free of a 404.
HEAD = '<meta charset="utf-8"><title>component</title><link rel="icon" href="data:,">'


class _ComponentServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), functools.partial(_BoardFiles, directory=str(APP_DIR)))
        self.pages: dict[str, bytes] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add_page(self, html: str) -> str:
        with self._lock:
            path = f"/mount/{next(self._numbers)}"
            self.pages[path] = html.encode()
        return self.url + path


class _BoardFiles(SimpleHTTPRequestHandler):
    """/web/... from app/web (as the platform serves it), /mount/N the composed pages; nothing else."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}
    # Keep-alive, as the platform serves them: HTTP/1.0 costs the browser a new connection (and the
    # server a new thread) for each module a page imports.
    protocol_version = "HTTP/1.1"
    server: _ComponentServer

    def do_GET(self) -> None:
        page = self.server.pages.get(self.path)
        if page is not None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        elif self.path.startswith("/web/"):
            super().do_GET()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the browser's requests are not worth a line each in the test output


@pytest.fixture(scope="session")
def component_server() -> Iterator[_ComponentServer]:
    server = _ComponentServer()
    thread = threading.Thread(target=server.serve_forever, name="component-files", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def base_url(component_server: _ComponentServer) -> str:
    return component_server.url


@pytest.fixture(scope="session")
def _shared_context(
    browser: Browser, browser_context_args: dict, pytestconfig: pytest.Config
) -> Iterator[BrowserContext]:
    with shared_context(browser, browser_context_args, pytestconfig) as context:
        yield context


@pytest.fixture
def component_page(request: pytest.FixtureRequest, output_path: str, browser_name: str) -> Iterator[Page]:
    """The shared page (frontend_tests/shared_page.py). With --video on, pytest-playwright's own page of
    the test's own context instead (a video is a page's).

    `browser_name` is asked for by name so that these tests, like the flows, are parametrized by
    pytest-playwright's browser: the shared page is only reached through getfixturevalue, and without
    the parameter the session's `browser` (keyed by it) would be closed and launched again each time
    the run goes from a component module to a flow or visual one."""
    if request.config.getoption("--video") != "off":
        yield request.getfixturevalue("page")
        return
    with page_for_test(request, request.getfixturevalue("_shared_context"), output_path) as page:
        yield page
    # Some tests ask for reduced motion; the next one starts without.
    page.emulate_media(reduced_motion="null")


@pytest.fixture
def mount(component_page: Page, component_server: _ComponentServer) -> Iterator[Callable[..., Page]]:
    """mount(html, "terminal-output.js", ...): opens a page with the board's stylesheet, the given
    component modules and `html` as its body. Module scripts run before the load event that goto
    waits for, so the elements are defined when it returns.

    A component that throws (an uncaught error in the page) fails the test."""
    page = component_page
    errors: list[str] = []

    def on_error(error: object) -> None:
        errors.append(str(error))

    page.on("pageerror", on_error)

    def _mount(html: str, *modules: str) -> Page:
        scripts = "".join(f'<script type="module" src="/web/components/{name}"></script>' for name in modules)
        page.goto(
            component_server.add_page(
                f'<!doctype html><html lang="en"><head>{HEAD}'
                f'<link rel="stylesheet" href="/web/board.css">{scripts}</head>'
                f"<body><main>{html}</main></body></html>"
            )
        )
        return page

    yield _mount
    page.remove_listener("pageerror", on_error)
    assert not errors, f"the component threw in the page: {errors}"
