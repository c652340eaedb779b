"""Page object of the board (app/web): where things are, and what the page recorded."""

from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, Request, Response, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from fixtures import factories
from fixtures.squads import Squad

RECORDER = Path(__file__).with_name("record_board.js")
EVENTS_PATH = "/api/v1/events"

# How often the waits below look at the page, in milliseconds. `expect` backs off to 500 ms between
# checks after its first few, so a card that lands a second after the wait started is seen up to half
# a second late; these waits check every few milliseconds instead (in the page, at no cost to the
# test), then the test's own `expect` confirms what they saw, with its own message.
QUICK_POLL_MS = 20

# Loaded or failed to; once ready, its stream connected or failed to.
_SETTLED = """() => {
    const board = document.querySelector('[data-testid="board"]').dataset.state;
    const connection = document.querySelector('[data-testid="connection"]').dataset.state;
    return board !== 'loading' && (board !== 'ready' || connection !== 'connecting');
}"""
_CARD_COLUMN = """(taskId) => {
    const card = document.querySelector(`[data-testid="task-card"][data-task-id="${taskId}"]`);
    const column = card && card.closest('[data-column]');
    return column ? column.dataset.column : null;
}"""
# The connection indicator shows the id of the last event received, once the board applied it (or
# there is none yet).
_CAUGHT_UP = """() => {
    const ids = window.__boardRecording.events.map((event) => event.id).filter(Number.isInteger);
    const shown = document.querySelector('[data-testid="connection"]').dataset.lastEventId;
    return ids.length === 0 || shown === String(Math.max(...ids));
}"""
# What a timed-out wait reports: the board's and the stream's states, each card's column, and the
# stream position shown against the last event ids received.
_SHOWN = f"""() => ({{
    board: document.querySelector('[data-testid="board"]').dataset.state,
    connection: document.querySelector('[data-testid="connection"]').dataset.state,
    cards: Object.fromEntries(Array.from(document.querySelectorAll('[data-testid="task-card"]'),
        (card) => [card.dataset.taskId, ({_CARD_COLUMN})(card.dataset.taskId)])),
    position: document.querySelector('[data-testid="connection"]').dataset.lastEventId,
    received: window.__boardRecording.events.map((event) => event.id).filter(Number.isInteger).slice(-3),
}})"""


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
        # Settled (QUICK_POLL_MS); the expects below say whether it is the state the test needs.
        self._wait_quickly(_SETTLED, None, "the board to load and its stream to connect")
        expect(self.page.get_by_test_id("board")).to_have_attribute("data-state", "ready")
        expect(self.connection).to_have_text("live")
        return stream.value

    def wait_until_caught_up(self) -> None:
        """Wait until the board has applied every event its stream delivered so far (the replayed
        history included): the connection indicator's stream position is the last one received.

        Both are read in the page at one moment: read from here one after the other, an event that
        arrives in between (a pipeline's last sandbox event comes just after its task's status)
        would leave the wait expecting a position the board has already passed."""
        self._wait_quickly(_CAUGHT_UP, None, "the board to apply every event its stream delivered")

    def wait_for_card_in(self, task_id: str, status: str, timeout: float) -> None:
        """Wait (up to `timeout` ms) until the task's card is in the column of `status`: for the waits
        on a pipeline, which `expect` would see up to half a second late (QUICK_POLL_MS)."""
        in_column = f"([taskId, status]) => ({_CARD_COLUMN})(taskId) === status"
        self._wait_quickly(in_column, [task_id, status], f"the card of task {task_id} in {status}", timeout)

    def _wait_quickly(self, predicate: str, arg: Any, what: str, timeout: float | None = None) -> None:
        """page.wait_for_function every QUICK_POLL_MS; a timeout says what the board showed by then."""
        try:
            self.page.wait_for_function(predicate, arg=arg, polling=QUICK_POLL_MS, timeout=timeout)
        except PlaywrightTimeoutError as error:
            seen = self.page.evaluate(_SHOWN)
            limit = "the default timeout" if timeout is None else f"{timeout:.0f} ms"
            raise AssertionError(f"waited {limit} for {what}; the board showed {seen}") from error

    @property
    def connection(self) -> Locator:
        return self.page.get_by_test_id("connection")

    def open_with_a_new_task(self, squad: Squad) -> tuple[dict[str, Any], Locator]:
        """A new task of the squad (made through its API), then the squad's board open: the task and its card."""
        task = squad.client.create_task(**factories.task_data())
        self.open(squad.squad["id"], squad.token)
        return task, self.card(task["id"])

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

    def changes(self, task_id: str) -> list[tuple[str, str]]:
        """(component, value) of every change the task's card showed, in order, all components together."""
        return [
            (change["component"], change["value"])
            for change in self.page.evaluate("window.__boardRecording.changes")
            if change["taskId"] == task_id
        ]

    def agent_activity(self, task_id: str) -> Locator:
        return self.card(task_id).locator("agent-activity")

    def open_agent_activity(self, task_id: str) -> Locator:
        """Open the card's agent activity from the keyboard; the log it shows."""
        toggle = self.card(task_id).get_by_test_id("agent-activity-toggle")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.focus()
            self.page.keyboard.press("Enter")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        return self.card(task_id).get_by_role("log", name="Agent activity", exact=False)

    def agent_entries(self, task_id: str) -> list[str]:
        """The text of each entry of the card's agent activity, in order."""
        return self.agent_activity(task_id).locator("li").all_inner_texts()
