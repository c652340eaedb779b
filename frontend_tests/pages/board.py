"""Page object of the board (app/web): where things are, and what the page recorded."""

from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, Request, expect

RECORDER = Path(__file__).with_name("record_board.js")


class BoardPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.main_documents: list[str] = []
        page.add_init_script(path=RECORDER)
        # Every document the tab loads; the board must stay on the first one (no reload, no navigation).
        page.on("request", self._note_document)

    def _note_document(self, request: Request) -> None:
        if request.resource_type == "document" and request.frame == self.page.main_frame:
            self.main_documents.append(request.url)

    def open(self, squad_id: str, token: str) -> None:
        self.page.goto(f"{self.base_url}/#squad={squad_id}&token={token}")
        expect(self.page.get_by_test_id("board")).to_have_attribute("data-state", "ready")
        expect(self.connection).to_have_text("live")

    @property
    def connection(self) -> Locator:
        return self.page.get_by_test_id("connection")

    def column(self, status: str) -> Locator:
        return self.page.locator(f'[data-column="{status}"]')

    def card(self, task_id: str) -> Locator:
        return self.page.locator(f'[data-testid="task-card"][data-task-id="{task_id}"]')

    def toasts(self, kind: str) -> Locator:
        return self.page.locator(f'[data-testid="toast"][data-kind="{kind}"]')

    def recorded_events(self, task_id: str | None = None) -> list[dict[str, Any]]:
        events = self.page.evaluate("window.__boardRecording.events")
        return [e for e in events if task_id is None or e.get("task_id") == task_id]

    def recorded_streams(self) -> list[str]:
        return self.page.evaluate("window.__boardRecording.streams")

    def sandbox_trail(self, task_id: str) -> list[str]:
        """The states the task's badge showed, in order, without repeats and without "none"."""
        trail: list[str] = []
        for change in self.page.evaluate("window.__boardRecording.sandbox"):
            status = change["status"]
            if change["taskId"] == task_id and status != "none" and trail[-1:] != [status]:
                trail.append(status)
        return trail
