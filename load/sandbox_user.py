"""Sandbox users: squads that create a sandbox for a task all at the same instant, then destroy it.

The load targets include 10 sandbox creations at once. Pipelines cannot show that (the worker runs at
most WORKER_CONCURRENCY jobs, and their creations drift apart), so these users call the platform's
`POST /api/v1/sandboxes` themselves. Each makes its squad (a repository in the fake GitHub, the
squad) and a task, then waits; when every sandbox user of this Locust process is ready (the
runner's target count of the class), all are released by one gevent event and, once the platform
runs no pipeline job (its /metrics), send their creation together. The users count the creations in
flight; the peak is what overlapped.

Once every creation of the volley has answered, the last one to answer asks the fake E2B
(`GET /_fake/state`) how many of the volley's sandboxes are running: all of them, at that one
moment, or the harness request `fake E2B sandboxes running at once` fails. Then every user
destroys its sandbox (`DELETE /api/v1/sandboxes/{id}`, 204) and idles: one volley per user and run.

Request names: `POST /api/v1/sandboxes` and `DELETE /api/v1/sandboxes/{id}`, so the SLO gate
judges their p95 like any other API call. The figures (ready, created, peak in flight, running at
once) go to the scenario's report (load/_figures.py): "sandboxes: 10 created at once, ...".
"""

import re
import time

import _collector  # noqa: F401  (keeps the generator's own collection pauses out of the figures)
import _fakes  # noqa: F401  (registers the fakes' realistic latency for the run)
import _figures
import _preflight  # noqa: F401  (registers the start-up check of the targets)
import _slo  # noqa: F401  (registers the SLO gate and its options)
import gevent
from _answers import unexpected
from _squad_user import SquadUser
from gevent.event import Event
from locust import between, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from fixtures.factories import task_data
from fixtures.targets import FAKE_E2B

SANDBOXES_ROUTE = "/api/v1/sandboxes"
SANDBOX_ROUTE = "/api/v1/sandboxes/{id}"
RUNNING_CHECK = "fake E2B sandboxes running at once"
FIGURES = "sandboxes"
# How long ready users wait for the rest of the volley, and for the volley's creations to answer.
READY_TIMEOUT_S = 30.0
CREATED_TIMEOUT_S = 60.0
# How long the volley waits for the platform's workers to be idle, and how often it looks.
IDLE_TIMEOUT_S = 30.0
IDLE_POLL_S = 0.25
METRICS_CHECK = "/metrics (jobs in progress)"
JOBS_IN_PROGRESS = re.compile(r'^squad_jobs\{state="(?:queued|running)"\} (\S+)$', re.MULTILINE)


class Volley:
    """The sandbox users of this process: released together, then held until every creation answered."""

    def __init__(self) -> None:
        self.ready: list[SandboxUser] = []
        self.go = Event()
        self.released = 0
        self.answered = 0
        self.created: list[str] = []  # squad ids whose sandbox was created
        self.in_flight = 0
        self.peak_in_flight = 0
        self.running_at_once = 0
        self.checked = Event()
        self.destroyed = 0
        self.finished = 0
        # Set by the init event (every process has one environment); all_spawned once the whole test
        # has spawned its users, so the target counts are final.
        self.environment: Environment | None = None
        self.all_spawned = False
        self.idle_checker: SandboxUser | None = None
        self.idle_checked = Event()

    def expected(self, environment: Environment) -> int:
        """The sandbox users this process runs; 0 while the runner does not know yet."""
        runner = environment.runner
        return runner.target_user_classes_count.get(SandboxUser.__name__, 0) if runner else 0

    def arrive(self, user: "SandboxUser") -> None:
        self.ready.append(user)
        self.release_if_complete(user.environment)

    def release_if_complete(self, environment: Environment) -> None:
        expected = self.expected(environment)
        if not self.go.is_set() and self.all_spawned and expected and len(self.ready) >= expected:
            self.released = len(self.ready)
            self.go.set()

    def release_anyway(self) -> None:
        """The deadline passed: the users that are ready go without the rest."""
        if not self.go.is_set():
            self.released = len(self.ready)
            self.go.set()

    def figures(self, environment: Environment) -> dict[str, int]:
        return {
            "expected": self.expected(environment),
            "released": self.released,
            "created": len(self.created),
            "peak_in_flight": self.peak_in_flight,
            "running_at_once": self.running_at_once,
            "destroyed": self.destroyed,
        }


_volley = Volley()


# Spawning is complete when the runner of the whole test says so: a single process's own event; in
# a distributed run the master's, passed to the workers as a message (a worker's target counts grow
# with each spawn message of the ramp-up, so its own event would release a part of its share).
ALL_SPAWNED = "sandbox-volley-all-spawned"


@events.init.add_listener
def listen_for_all_spawned(environment: Environment, **_kwargs: object) -> None:
    _volley.environment = environment
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(ALL_SPAWNED, lambda **_: release_when_all_spawned())


@events.spawning_complete.add_listener
def on_spawning_complete(**_kwargs: object) -> None:
    runner = _volley.environment.runner if _volley.environment else None
    if isinstance(runner, MasterRunner):
        runner.send_message(ALL_SPAWNED)
    elif not isinstance(runner, WorkerRunner):
        release_when_all_spawned()


def release_when_all_spawned() -> None:
    _volley.all_spawned = True
    if _volley.environment is not None:
        _volley.release_if_complete(_volley.environment)


class SandboxUser(SquadUser):
    weight = 1
    wait_time = between(1, 2)

    def on_start(self) -> None:
        self.done = False
        self.create_own_squad(with_agent=False)
        created = self.expect("POST", "/api/v1/tasks", 201, json=task_data(), name="/api/v1/tasks")
        if created is None:
            raise StopUser()
        self.task_id = created["id"]

    @task
    def create_with_the_others(self) -> None:
        if self.done:
            return
        self.done = True
        volley = _volley
        if volley.go.is_set():
            return  # spawned after the volley went (a later ramp-up): one volley per run
        volley.arrive(self)
        if not volley.go.wait(READY_TIMEOUT_S):
            volley.release_anyway()
        self._wait_for_idle_workers(volley)
        sandbox = self._create(volley)
        volley.answered += 1
        if volley.answered == volley.released:
            self._check_running(volley)
        elif not volley.checked.wait(CREATED_TIMEOUT_S):
            volley.checked.set()  # the others went on: destroy without waiting for ever
        if sandbox is not None:
            self._destroy(sandbox["id"], volley)
        volley.finished += 1
        if volley.finished == volley.released:  # the last one of the volley reports it
            _figures.publish(self.environment, FIGURES, volley.figures(self.environment))

    def _wait_for_idle_workers(self, volley: Volley) -> None:
        """The first user of the volley waits until the platform runs no job (its /metrics), the others
        wait for it: the assignments' pipelines run their git commands inside the fake E2B, on the
        same two cores as the platform (on E2B's own machines in production), and the volley would
        measure that machine's contention instead of 10 creations at once."""
        if volley.idle_checked.is_set():
            return
        if volley.idle_checker is not None:
            volley.idle_checked.wait(IDLE_TIMEOUT_S)
            return
        volley.idle_checker = self
        deadline = time.monotonic() + IDLE_TIMEOUT_S
        try:
            while time.monotonic() < deadline and self._jobs_in_progress() != 0:
                gevent.sleep(IDLE_POLL_S)  # allowed-sleep: the poll interval of a wait with a deadline
        finally:
            volley.idle_checked.set()

    def _jobs_in_progress(self) -> int | None:
        """Queued and running jobs on the platform, from its Prometheus text; None when unreadable."""
        with self.client.get("/metrics", name=METRICS_CHECK, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(unexpected(response, 200))
                return None
            found = JOBS_IN_PROGRESS.findall(response.text)
            return sum(int(float(value)) for value in found) if found else None

    def _create(self, volley: Volley) -> dict | None:
        volley.in_flight += 1
        volley.peak_in_flight = max(volley.peak_in_flight, volley.in_flight)
        try:
            sandbox = self.expect(
                "POST",
                SANDBOXES_ROUTE,
                201,
                json={"task_id": self.task_id},
                name=SANDBOXES_ROUTE,
                check=lambda body: None if body.get("task_id") == self.task_id else f"for task {body.get('task_id')}",
            )
        finally:
            volley.in_flight -= 1
        if sandbox is not None:
            volley.created.append(self.squad_id)
        return sandbox

    def _check_running(self, volley: Volley) -> None:
        """With every creation answered and none destroyed: the fake E2B runs all of them now."""
        squads = set(volley.created)
        no_token = {"Authorization": None}  # the fake's admin API; the squad's token is the platform's
        try:
            with self.client.get(
                f"{FAKE_E2B.url()}/_fake/state", headers=no_token, name=RUNNING_CHECK, catch_response=True
            ) as response:
                try:
                    sandboxes = response.json()["sandboxes"]
                except (ValueError, KeyError, TypeError):
                    response.failure(f"the fake E2B's state is not what it should be: {response.text[:200]}")
                    return
                volley.running_at_once = sum(
                    1
                    for sandbox in sandboxes
                    if sandbox.get("state") == "running" and sandbox.get("metadata", {}).get("squad_id") in squads
                )
                if volley.running_at_once != volley.released:
                    response.failure(
                        f"{volley.running_at_once} of the volley's {volley.released} sandboxes were running at once "
                        f"in the fake E2B ({len(volley.created)} creations succeeded)"
                    )
        finally:
            volley.checked.set()

    def _destroy(self, sandbox_id: str, volley: Volley) -> None:
        with self.client.delete(f"{SANDBOXES_ROUTE}/{sandbox_id}", name=SANDBOX_ROUTE, catch_response=True) as response:
            if response.status_code != 204:
                response.failure(unexpected(response, 204))
                return
        volley.destroyed += 1
