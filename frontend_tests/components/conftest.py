"""Component tests: one custom element of app/web alone on a blank page, no platform behind it.

The files are served from this checkout by a small static server (the board's own URLs, /web/...),
so these tests need neither the live stack nor --base-url.
"""

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page

APP_DIR = Path(__file__).resolve().parents[2] / "app"
BLANK_PAGE = b'<!doctype html><html lang="en"><head><title>component</title></head><body></body></html>'


class _BoardFiles(SimpleHTTPRequestHandler):
    """/web/... from app/web (as the platform serves it), / as a blank page; nothing else."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def do_GET(self) -> None:
        if self.path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(BLANK_PAGE)))
            self.end_headers()
            self.wfile.write(BLANK_PAGE)
        elif self.path.startswith("/web/"):
            super().do_GET()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the browser's requests are not worth a line each in the test output


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_BoardFiles, directory=str(APP_DIR)))
    thread = threading.Thread(target=server.serve_forever, name="component-files", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def mount(page: Page, base_url: str) -> Callable[..., Page]:
    """mount(html, "terminal-output.js", ...): a page with the board's stylesheet, the given
    component modules loaded and `html` as its body. Module scripts run before the load event that
    set_content waits for, so the elements are defined when it returns."""
    page.goto(f"{base_url}/")

    def _mount(html: str, *modules: str) -> Page:
        scripts = "".join(f'<script type="module" src="/web/components/{name}"></script>' for name in modules)
        page.set_content(
            '<!doctype html><html lang="en"><head><title>component</title>'
            f'<link rel="stylesheet" href="/web/board.css">{scripts}</head>'
            f"<body><main>{html}</main></body></html>"
        )
        return page

    return _mount
