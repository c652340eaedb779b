"""What the flows know of a task's pipeline: how long the board may take to show its end, the
sandbox badges it shows on the way and at its end, the faults a test makes it meet, and the terminal
lines it prints.

`FaultRules` narrows each fault to one squad's repository and removes what a test did not use up.
"""

from typing import Any

from playwright.sync_api import Locator, expect

from fixtures.platform_client import FakeAdmin
from fixtures.squads import PIPELINE_TIMEOUT_S, FinishedTask
from frontend_tests.pages.board import BoardPage

PIPELINE_TIMEOUT_MS = PIPELINE_TIMEOUT_S * 1000
SANDBOX_STATES_ON_SUCCESS = ["creating", "ready", "running", "pushing", "done"]
# The sandbox badge of a task whose pipeline ended, by the task's status.
FINAL_SANDBOX_STATE = {"review": "done", "failed": "failed"}


class FaultRules:
    """Fault rules one test adds to a fake, each narrowed with `match` to one repository's requests
    (so no other test's pipeline can take it, whatever runs beside it), and removed at the end of
    the test when they were not used up (a failed test must not leave one behind)."""

    def __init__(self, admin: FakeAdmin) -> None:
        self.admin = admin
        self.added: list[int] = []

    def add(self, repository: str, **rule: Any) -> dict[str, Any]:
        added = self.admin.add_fault(**rule, match={"repository": repository})
        self.added.append(added["id"])
        return added

    def remove_unused(self) -> None:
        active = {rule["id"] for rule in self.admin.faults()}
        for rule_id in set(self.added) & active:
            self.admin.remove_fault(rule_id)


def open_finished_task(board: BoardPage, finished: FinishedTask) -> Locator:
    """Opens the board of the finished task's squad; returns the task's card, once it shows in its
    column with the sandbox badge of the pipeline's end."""
    status = finished.task["status"]
    board.open(finished.squad.squad["id"], finished.squad.token)
    card = board.card(finished.task["id"])
    expect(board.column(status).locator(card)).to_be_visible()
    expect(card.locator("sandbox-status")).to_have_text(FINAL_SANDBOX_STATE[status])
    return card


def terminal_lines(events: list[dict[str, Any]]) -> list[str]:
    """The lines a terminal shows for these terminal.output events: chunks split at newlines, and a
    chunk without a final newline continued by the next chunk of the same stream."""
    lines: list[str] = []
    open_line: dict[str, int] = {}
    for event in events:
        if event["type"] != "terminal.output":
            continue
        stream, parts = event["data"]["stream"], event["data"]["text"].split("\n")
        ends_open = parts[-1] != ""
        if not ends_open:
            parts.pop()
        last = None
        for index, part in enumerate(parts):
            if index == 0 and stream in open_line:
                last = open_line[stream]
                lines[last] += part
            else:
                lines.append(part)
                last = len(lines) - 1
        if ends_open and last is not None:
            open_line[stream] = last
        else:
            open_line.pop(stream, None)
    return lines
