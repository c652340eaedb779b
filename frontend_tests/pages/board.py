"""Page object of the board (app/web): where things are, and what the page recorded."""

from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, Request, Response, expect

RECORDER = Path(__file__).with_name("record_board.js")
EVENTS_PATH = "/api/v1/events"


def is_event_stream(request: Request) -> bool:
    return request.method == "GET" and request.url.split("?")[0].endswith(EVENTS_PATH)


def is_assign(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/assign")


def is_task_update(request: Request) -> bool:
    """PATCH /api/v1/tasks/{id}: the board's moves Review -> Done and Failed -> To do."""
    return request.method == "PATCH" and "/api/v1/tasks/" in request.url


class BoardPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.main_documents: list[str] = []
        self.assign_requests: list[Request] = []
        self.update_requests: list[Request] = []
        self.page_errors: list[str] = []
        page.add_init_script(path=RECORDER)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        # Every document the tab loads; the board must stay on the first one (no reload, no navigation).
        page.on("request", self._note_request)

    def _note_request(self, request: Request) -> None:
        if request.resource_type == "document" and request.frame == self.page.main_frame:
            self.main_documents.append(request.url)
        if is_assign(request):
            self.assign_requests.append(request)
        if is_task_update(request):
            self.update_requests.append(request)

    def open(self, squad_id: str, token: str) -> Response:
        """Open the squad's board and wait until it shows its tasks and its stream is live.

        Returns the event stream's response (its headers; the body never ends)."""
        with self.page.expect_response(lambda response: is_event_stream(response.request)) as stream:
            self.page.goto(f"{self.base_url}/#squad={squad_id}&token={token}")
        expect(self.page.get_by_test_id("board")).to_have_attribute("data-state", "ready")
        expect(self.connection).to_have_text("live")
        return stream.value

    def wait_until_caught_up(self) -> None:
        """Wait until the board has applied every event its stream delivered so far (the replayed
        history included): the connection indicator's stream position is the last one received."""
        ids = [event["id"] for event in self.recorded_events() if isinstance(event.get("id"), int)]
        if ids:
            expect(self.connection).to_have_attribute("data-last-event-id", str(max(ids)))

    @property
    def connection(self) -> Locator:
        return self.page.get_by_test_id("connection")

    def column(self, status: str) -> Locator:
        return self.page.locator(f'[data-column="{status}"]')

    def card(self, task_id: str) -> Locator:
        return self.page.locator(f'[data-testid="task-card"][data-task-id="{task_id}"]')

    def toasts(self, kind: str | None = None) -> Locator:
        selector = '[data-testid="toast"]' + (f'[data-kind="{kind}"]' if kind else "")
        return self.page.locator(selector)

    def move_dialog(self, to_column: str) -> Locator:
        """The move/assign control, asking to move a task to the column named `to_column`."""
        return self.page.get_by_role("dialog", name=f"Move to {to_column}")

    def api_calls(self) -> list[Request]:
        """Every request that would change a task: assigns and status updates."""
        return [*self.assign_requests, *self.update_requests]

    def terminal_lines(self, task_id: str) -> Locator:
        return self.card(task_id).locator("terminal-output .terminal-output__line")

    def recorded_events(self, task_id: str | None = None) -> list[dict[str, Any]]:
        events = self.page.evaluate("window.__boardRecording.events")
        return [e for e in events if task_id is None or e.get("task_id") == task_id]

    def recorded_streams(self) -> list[str]:
        return self.page.evaluate("window.__boardRecording.streams")

    def trail(self, component: str, task_id: str | None = None, *, skip: tuple[str, ...] = ()) -> list[str]:
        """The values `component` showed (for one task's card), in order, without repeats or `skip`."""
        trail: list[str] = []
        for change in self.page.evaluate("window.__boardRecording.changes"):
            value = change["value"]
            if change["component"] != component or (task_id is not None and change["taskId"] != task_id):
                continue
            if value not in skip and trail[-1:] != [value]:
                trail.append(value)
        return trail

    def sandbox_trail(self, task_id: str) -> list[str]:
        """The states the task's badge showed, in order, without repeats and without "none"."""
        return self.trail("sandbox-status", task_id, skip=("none",))

    def progress_trail(self, task_id: str) -> list[int]:
        return [int(value) for value in self.trail("progress-bar", task_id)]

    def column_trail(self, task_id: str) -> list[str]:
        return self.trail("task-card", task_id)

    def connection_trail(self) -> list[str]:
        return self.trail("connection-status")
