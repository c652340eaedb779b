"""Assignment users: a squad assigns a task to its agent and watches the board until the PR opens.

Each user has a squad, repository and agent of its own. One assignment: create a task, open the
event stream filtered to it, assign it (which starts a sandbox and the pipeline), then read the
stream until the task's `task.status` event. The time from the assignment to that event is the
request `PIPELINE assignment -> pull request`; a task that fails, a stream that breaks, or no
pull request within `--pipeline-timeout-s` is a failure of it, with the reason.

After each pull request the user asks the fake GitHub's journal how many pull requests were
created in its repository: one per assignment, or the request `fake GitHub pull requests per
assignment` fails (lost or duplicated).

`--assignments-per-user N` stops a user after N assignments (the smoke and pipeline scenarios use 1:
N users put N sandboxes in flight at once); 0, the default, keeps assigning.
"""

import time

import _fakes  # noqa: F401  (registers the fakes' realistic latency for the run)
import _preflight  # noqa: F401  (registers the start-up check of the targets)
import _slo
import gevent
from _squad_user import SquadUser
from _sse import StreamFailure, open_stream, stopping
from locust import between, events, task

from fixtures.factories import task_data
from fixtures.targets import FAKE_GITHUB

PIPELINE_TIMEOUT_S = 600.0
ASSIGN_ROUTE = "/api/v1/tasks/{id}/assign"
JOURNAL_CHECK = "fake GitHub pull requests per assignment"


@events.init_command_line_parser.add_listener
def add_assignment_options(parser, **_kwargs: object) -> None:
    parser.add_argument(
        "--assignments-per-user",
        type=int,
        default=0,
        env_var="LOAD_ASSIGNMENTS_PER_USER",
        help="assignments each assignment user makes, then it idles (default 0: no limit)",
    )
    parser.add_argument(
        "--pipeline-timeout-s",
        type=float,
        default=PIPELINE_TIMEOUT_S,
        env_var="LOAD_PIPELINE_TIMEOUT_S",
        help=f"how long an assignment may take to become a pull request (default {PIPELINE_TIMEOUT_S:g})",
    )


class PipelineFailure(Exception):
    """The assignment did not end as a pull request; the message says what happened instead."""


class AssignmentUser(SquadUser):
    weight = 1
    wait_time = between(1, 2)

    def on_start(self) -> None:
        self.create_own_squad()
        self.assigned = 0
        self.pull_requests = 0

    @task
    def assign_and_follow(self) -> None:
        quota = self.option("assignments_per_user", 0)
        if quota and self.assigned >= quota:
            return
        created = self.expect("POST", "/api/v1/tasks", 201, json=task_data(), name="/api/v1/tasks")
        if created is None:
            return
        self.assigned += 1
        timeout_s = self.option("pipeline_timeout_s", PIPELINE_TIMEOUT_S)
        started = time.perf_counter()
        try:
            with gevent.Timeout(timeout_s, PipelineFailure(f"no pull request within {timeout_s:g} s")):
                pr_url = self._assign_and_wait(created["id"])
        except (PipelineFailure, StreamFailure) as failure:
            if stopping() and not quota:
                return  # an open-ended run stopped mid-assignment: unfinished, not failed
            if stopping():
                failure = PipelineFailure(f"the run ended before the pull request opened ({failure})")
            self._report((time.perf_counter() - started) * 1000, failure)
            return
        self._report((time.perf_counter() - started) * 1000, None if pr_url else PipelineFailure("no PR URL"))
        self.pull_requests += 1
        self._check_pull_request_count()

    def _assign_and_wait(self, task_id: str) -> str:
        """Assign the task with its stream open; the pull request's URL once the task is in review."""
        with open_stream(self.host, self.token, params={"task_id": task_id}) as stream:
            assignment = {"agent_id": self.agent_id}
            if self.expect("POST", f"/api/v1/tasks/{task_id}/assign", 202, json=assignment, name=ASSIGN_ROUTE) is None:
                raise PipelineFailure("the assignment was refused")
            opened: str | None = None
            for event in stream.events():
                if event["type"] == "pull_request.opened":
                    opened = event["data"].get("url")
                if event["type"] == "task.status":
                    data = event["data"]
                    if data.get("status") != "review":
                        raise PipelineFailure(f"the task ended {data.get('status')}: {data.get('error')}")
                    return data.get("pr_url") or opened or ""
        raise PipelineFailure("the stream ended before the task did")

    def _report(self, ms: float, failure: BaseException | None) -> None:
        self.environment.events.request.fire(
            request_type=_slo.PIPELINE,
            name=_slo.PIPELINE_TO_PULL_REQUEST,
            response_time=ms,
            response_length=0,
            exception=failure,
            context={},
        )

    def _check_pull_request_count(self) -> None:
        journal = f"{FAKE_GITHUB.url()}/_fake/journal"
        params = {"operation": "create_pull_request", "path": f"/repos/{self.repository}/pulls"}
        # No squad token for the fake's admin API: that token is the platform's business only.
        no_token = {"Authorization": None}
        with self.client.get(
            journal, params=params, headers=no_token, name=JOURNAL_CHECK, catch_response=True
        ) as response:
            try:
                created = [entry for entry in response.json() if entry.get("status") == 201]
            except (ValueError, AttributeError):
                response.failure(f"the journal is not a JSON list: {response.text[:200]}")
                return
            if len(created) != self.pull_requests:
                response.failure(
                    f"{self.repository}: {len(created)} pull requests created for {self.pull_requests} "
                    "assignments that reached review (lost or duplicated)"
                )
