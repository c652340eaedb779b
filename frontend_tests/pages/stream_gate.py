"""Holding back the board's reconnection to its event stream, so a test decides when it happens.

The board's first stream is not touched. Once the gate is closed, every new request for the stream
(EventSource reconnecting by itself) is parked, unanswered, until the gate opens again; then it
goes to the server unchanged. (Chromium adds the Last-Event-ID header below the point where requests
are intercepted, so it shows neither here nor in the request's headers; what the server sends back
after the reconnection is the proof that it was there.)
"""

from urllib.parse import urlparse

from playwright.sync_api import Page, Request, Route

from frontend_tests.pages.board import EVENTS_PATH


def _is_stream(url: str) -> bool:
    return urlparse(url).path == EVENTS_PATH


class StreamGate:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.closed = False
        self.parked: list[Route] = []
        self.reconnections: list[Request] = []

    def _handle(self, route: Route) -> None:
        self.reconnections.append(route.request)
        if self.closed:
            self.parked.append(route)
        else:
            route.continue_()

    def close(self) -> None:
        self.closed = True
        self.page.route(_is_stream, self._handle)

    def open(self) -> None:
        """Let the parked requests through, and every later one (still noted in `reconnections`)."""
        self.closed = False
        parked, self.parked = self.parked, []
        for route in parked:
            route.continue_()
