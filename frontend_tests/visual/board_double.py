"""A stand-in platform for the visual tests: the board's own files, fixed data, a quiet event stream.

The screenshots must come out the same on every run, so nothing in them may depend on a clock, an id
or a pipeline's timing: the squad, its agents and tasks are fixed below, the event stream opens and
sends only what `EVENTS` holds (then stays open, so the board shows "live"), and the component pages
are composed from fixed HTML. Served on loopback by a thread; stopped at the end of the session.
"""

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

APP_DIR = Path(__file__).resolve().parents[2] / "app"
INDEX = APP_DIR / "web" / "index.html"

SQUAD = {"id": "sq-visual", "name": "Visual squad", "repository": "squad-tests/widgets"}
AGENTS = [
    {"id": "ag-1", "squad_id": "sq-visual", "name": "ada-bot", "role": "developer"},
    {"id": "ag-2", "squad_id": "sq-visual", "name": "lin-bot", "role": "developer"},
]
UPDATED = "2026-01-01T12:00:00+00:00"


def _task(task_id: str, title: str, status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "squad_id": "sq-visual",
        "title": title,
        "description": "",
        "status": status,
        "agent_id": None,
        "pr_url": None,
        "pr_number": None,
        "error": None,
        "created_at": UPDATED,
        "updated_at": UPDATED,
        **fields,
    }


TASKS = [
    _task("t-1", "Add a health badge to the README", "todo"),
    _task("t-2", "Document the retry settings", "todo"),
    _task("t-3", "Cache the agent list", "in_progress", agent_id="ag-1"),
    _task(
        "t-4",
        "Paginate the task list",
        "review",
        agent_id="ag-2",
        pr_url="http://127.0.0.1:9/squad-tests/widgets/pull/7",
        pr_number=7,
    ),
    _task("t-5", "Fix the flaky clock test", "done", agent_id="ag-1"),
    _task("t-6", "Upgrade the SSE library", "failed", agent_id="ag-2", error="push step: github: 403 push refused"),
]


def _event(event_id: int, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "task_id": "t-3", "created_at": UPDATED, "data": data}


# What the stream sends once it opens: the in-progress task mid-pipeline, its agent at work, with some
# terminal output.
EVENTS = [
    {"id": 1, "type": "sandbox.status", "task_id": "t-3", "created_at": UPDATED, "data": {"status": "running"}},
    {
        "id": 2,
        "type": "pipeline.step",
        "task_id": "t-3",
        "created_at": UPDATED,
        "data": {"step": "work", "index": 4, "total": 7},
    },
    {
        "id": 3,
        "type": "terminal.output",
        "task_id": "t-3",
        "created_at": UPDATED,
        "data": {"text": "$ python -m pytest -q\n12 passed in 0.41s\n", "stream": "stdout"},
    },
    _event(4, "agent.message", {"step": 1, "text": "I will cache the agent list.", "offset": 0, "complete": True}),
    _event(5, "agent.tool_call", {"step": 1, "id": "c1", "name": "run_command", "arguments": {"command": "pytest -q"}}),
    _event(
        6,
        "agent.tool_result",
        {"step": 1, "id": "c1", "name": "run_command", "exit_code": 0, "error": None, "output": "12 passed in 0.41s"},
    ),
    _event(
        7,
        "agent.usage",
        {
            "step": 1,
            "prompt_tokens": 1200,
            "completion_tokens": 340,
            "total_tokens": 1540,
            "cost_usd": 0.0021,
            "estimated": False,
        },
    ),
]


class BoardDouble(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), functools.partial(_Handler, directory=str(APP_DIR)))
        self.pages: dict[str, bytes] = {}
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, name="board-double", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "BoardDouble":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # ends the open event streams
        self.shutdown()
        self.server_close()
        self._thread.join()

    def add_page(self, name: str, html: str) -> str:
        self.pages[f"/visual/{name}"] = html.encode()
        return f"{self.url}/visual/{name}"


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}
    protocol_version = "HTTP/1.1"
    server: BoardDouble

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/":
            self._send(200, "text/html; charset=utf-8", INDEX.read_bytes())
        elif path in self.server.pages:
            self._send(200, "text/html; charset=utf-8", self.server.pages[path])
        elif path == "/api/v1/squads/me":
            self._json(SQUAD)
        elif path == "/api/v1/agents":
            self._json(AGENTS)
        elif path == "/api/v1/tasks":
            self._json(TASKS)
        elif path == "/api/v1/events":
            self._stream()
        elif path.startswith("/web/"):
            super().do_GET()
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        if self.path == "/api/v1/session":
            self._send(204, "application/json", b"")
        else:
            self.send_error(404)

    def _json(self, value: Any) -> None:
        self._send(200, "application/json", json.dumps(value).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        chunks = [f"id: {event['id']}\ndata: {json.dumps(event)}\n\n" for event in EVENTS]
        self.wfile.write(("retry: 600000\n\n" + "".join(chunks)).encode())
        self.wfile.flush()
        self.server.stopping.wait()  # open until the session ends: the board stays "live"

    def log_message(self, format: str, *args: object) -> None:
        pass
