"""Burst users: 100 API calls back to back, with no wait between them, as a script or a busy UI does.

The load targets include 100 rapid API calls. A burst user makes its squad (a repository in the fake
GitHub, the squad) and a few tasks, then fires `--burst-calls` calls (default 100) one after the
other: the task list and single tasks, alternately. They are named `/api/v1/tasks (burst)` and
`/api/v1/tasks/{id} (burst)`, so the SLO gate judges the burst's p95 on its own, apart from the
board's paced calls. The burst's wall time, calls and failures go to the scenario's report
(load/_figures.py): "burst: 100 calls in X s, p95 Y ms, 0 failures".

`--bursts-per-user N` stops a user after N bursts (the smoke uses 1); 0, the default, bursts again
after each wait.
"""

import random
import time

import _collector  # noqa: F401  (keeps the generator's own collection pauses out of the figures)
import _fakes  # noqa: F401  (registers the fakes' realistic latency for the run)
import _figures
import _preflight  # noqa: F401  (registers the start-up check of the targets)
import _slo  # noqa: F401  (registers the SLO gate and its options)
from _squad_user import SquadUser
from locust import between, events, task
from locust.exception import StopUser

from fixtures.factories import task_data

BURST_CALLS = 100
TASKS_SEEDED = 5
BURST_SUFFIX = " (burst)"
TASKS_ROUTE = "/api/v1/tasks"
TASK_ROUTE = "/api/v1/tasks/{id}"
FIGURES = "burst"


@events.init_command_line_parser.add_listener
def add_burst_options(parser, **_kwargs: object) -> None:
    parser.add_argument(
        "--burst-calls", type=int, default=BURST_CALLS, env_var="LOAD_BURST_CALLS", help="calls in one burst"
    )
    parser.add_argument(
        "--bursts-per-user",
        type=int,
        default=0,
        env_var="LOAD_BURSTS_PER_USER",
        help="bursts each burst user fires, then it idles (default 0: no limit)",
    )


class BurstUser(SquadUser):
    weight = 1
    wait_time = between(5, 10)

    def on_start(self) -> None:
        self.bursts = 0
        self.create_own_squad(with_agent=False)
        self.task_ids = []
        for _ in range(TASKS_SEEDED):
            created = self.expect("POST", TASKS_ROUTE, 201, json=task_data(), name=TASKS_ROUTE)
            if created is None:
                raise StopUser()
            self.task_ids.append(created["id"])

    @task
    def burst(self) -> None:
        quota = self.option("bursts_per_user", 0)
        if quota and self.bursts >= quota:
            return
        self.bursts += 1
        calls = self.option("burst_calls", BURST_CALLS)
        failures = 0
        started = time.perf_counter()
        for number in range(calls):
            failures += self._call(number) is None
        seconds = time.perf_counter() - started
        _figures.publish(self.environment, FIGURES, {"calls": calls, "seconds": seconds, "failures": failures})

    def _call(self, number: int) -> object:
        if number % 2 == 0:
            return self.expect("GET", TASKS_ROUTE, 200, name=TASKS_ROUTE + BURST_SUFFIX)
        task_id = random.choice(self.task_ids)
        return self.expect(
            "GET",
            f"{TASKS_ROUTE}/{task_id}",
            200,
            name=TASK_ROUTE + BURST_SUFFIX,
            check=lambda body: None if body.get("id") == task_id else f"asked for {task_id}, got {body.get('id')}",
        )
