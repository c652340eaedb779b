"""Board users: squads working their task board through the platform's API.

Each simulated user is one squad: it creates its repository in the fake GitHub, its squad and one
agent, then works the board the way people do — mostly reading (the board polls the task list and
opens cards), sometimes creating a task, now and then assigning one, which starts the pipeline
(`--board-assignments off` leaves that out, so a run measures the API without the pipelines' work).
Requests are named by route, so the statistics group them however many ids there are.
"""

import random

# Helpers are `_`-prefixed modules beside this file: `locust -f load/` imports every other .py file
# in the tree (subfolders too) as a locustfile, and puts this folder on sys.path while it does.
import _collector  # noqa: F401  (keeps the generator's own collection pauses out of the figures)
import _fakes  # noqa: F401  (registers the fakes' realistic latency for the run)
import _preflight  # noqa: F401  (registers the start-up check of the targets)
import _slo  # noqa: F401  (registers the SLO gate and its options)
from _squad_user import FastSquadUser
from locust import events, task

from fixtures.factories import task_data

TASKS_ROUTE = "/api/v1/tasks"
TASK_ROUTE = "/api/v1/tasks/{id}"
ASSIGN_ROUTE = "/api/v1/tasks/{id}/assign"
# Enough ids to read at random without the list growing for the whole run.
REMEMBERED_TASKS = 50
# Tasks a board user makes at its start when it only reads (--board-writes off): what it reads.
READ_ONLY_TASKS = 5


@events.init_command_line_parser.add_listener
def add_board_options(parser, **_kwargs: object) -> None:
    parser.add_argument(
        "--board-assignments",
        choices=("on", "off"),
        default="on",
        env_var="LOAD_BOARD_ASSIGNMENTS",
        help="whether board users assign tasks (starting pipelines); off measures the API alone (default on)",
    )
    parser.add_argument(
        "--board-writes",
        choices=("on", "off"),
        default="on",
        env_var="LOAD_BOARD_WRITES",
        help="whether board users create tasks after their first few; off: they only read the board (default on)",
    )
    parser.add_argument(
        "--board-wait-s",
        type=float,
        default=None,
        env_var="LOAD_BOARD_WAIT_S",
        help="a board user's mean pause between requests (default: 0.5-1.5 s, as a person's board polls)",
    )


class BoardUser(FastSquadUser):
    """On Locust's lean client (FastHttpUser): the board's reads are the platform's commonest
    requests, and a stress run must find the platform's limit before the generator's."""

    def wait_time(self) -> float:
        mean = self.option("board_wait_s", None) or 1.0
        return random.uniform(mean / 2, mean * 1.5)

    def on_start(self) -> None:
        self.task_ids: list[str] = []
        self.todo_ids: list[str] = []
        self.create_own_squad()
        if self._reads_only():
            for _ in range(READ_ONLY_TASKS):
                self.create_task()

    def _reads_only(self) -> bool:
        return self.option("board_writes", "on") == "off"

    @task(6)
    def list_tasks(self) -> None:
        self.expect("GET", TASKS_ROUTE, 200, name=TASKS_ROUTE)

    @task(4)
    def read_task(self) -> None:
        if not self.task_ids:
            self.create_task()
            return
        task_id = random.choice(self.task_ids)
        self.expect(
            "GET",
            f"{TASKS_ROUTE}/{task_id}",
            200,
            name=TASK_ROUTE,
            check=lambda body: None if body.get("id") == task_id else f"asked for {task_id}, got {body.get('id')}",
        )

    @task(2)
    def create_task_or_read(self) -> None:
        if self._reads_only() and self.task_ids:
            self.list_tasks()
            return
        self.create_task()

    def create_task(self) -> None:
        created = self.expect("POST", TASKS_ROUTE, 201, json=task_data(), name=TASKS_ROUTE)
        if created is None:
            return
        self.task_ids = [*self.task_ids[-(REMEMBERED_TASKS - 1) :], created["id"]]
        self.todo_ids.append(created["id"])

    @task(1)
    def assign_task(self) -> None:
        if self.option("board_assignments", "on") == "off" or self._reads_only():
            self.list_tasks()  # the board is looked at instead
            return
        if not self.todo_ids:
            self.create_task()
            return
        task_id = self.todo_ids.pop(0)
        assignment = {"agent_id": self.agent_id}
        self.expect("POST", f"{TASKS_ROUTE}/{task_id}/assign", 202, json=assignment, name=ASSIGN_ROUTE)
