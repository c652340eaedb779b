"""Assignment users: a squad assigns a task to its agent and watches the board until the PR opens.

Each user has a squad, repository and agent of its own. One assignment: create a task, script its
agent's conversation in the fake LLM (load/_agent_turns.py: the model narrates, writes two files,
runs a check, finishes, at the run's pace, load/_fakes.py), open the event stream filtered to it,
assign it (which starts a sandbox and the pipeline), then read the stream until the task's
`task.status` event. The time from the assignment to that event is the request `PIPELINE
assignment -> pull request`; a task that fails, a stream that breaks, or no pull request within
`--pipeline-timeout-s` is a failure of it, with the reason. Every event the stream delivers (the
agent's message deltas, tool calls and usage among them) is timed as `SSE delivery`, as the stream
users' are.

After each pull request the user asks the fake GitHub's journal how many pull requests were
created in its repository: one per assignment, or the request `fake GitHub pull requests per
assignment` fails (lost or duplicated). What each assignment went through (when it was assigned,
when its agent started and ended, when it ended, its events) is published for the scenario's
report (load/_figures.py, kind "assignments"): how many were in flight at once, and their agents.

`--assignments-per-user N` stops a user after N assignments (the smoke and pipeline scenarios use 1:
N users put N sandboxes in flight at once); 0, the default, keeps assigning.
"""

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import _agent_turns
import _collector  # noqa: F401  (keeps the generator's own collection pauses out of the figures)
import _fakes  # noqa: F401  (registers the fakes' realistic latency for the run)
import _figures
import _preflight  # noqa: F401  (registers the start-up check of the targets)
import _slo
import gevent
from _answers import unexpected
from _squad_user import SquadUser
from _sse import StreamFailure, open_stream, report, stopping, stored_at
from locust import between, events, task

from fixtures.factories import task_data
from fixtures.targets import FAKE_GITHUB, FAKE_LLM

PIPELINE_TIMEOUT_S = 600.0
ASSIGN_ROUTE = "/api/v1/tasks/{id}/assign"
JOURNAL_CHECK = "fake GitHub pull requests per assignment"
SCRIPTS = "fake LLM /_fake/scripts"
# The fakes' admin APIs take no squad token: that token is the platform's business only.
NO_TOKEN = {"Authorization": None}
AGENT_ENDS = ("agent.finished", "agent.stopped")


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


@dataclass
class Assignment:
    """What one assignment went through, in epoch seconds (this machine's clock, as `created_at`)."""

    task_id: str
    repository: str
    assigned_at: float = 0.0
    agent_started_at: float | None = None  # its first agent.* event
    agent_ended_at: float | None = None  # agent.finished or agent.stopped
    ended_at: float | None = None
    outcome: str = "unfinished"  # review, failed, or what broke
    pr_url: str | None = None
    events: dict[str, int] = field(default_factory=dict)  # type -> how many the stream delivered
    deltas: int = 0

    def saw(self, event: dict[str, Any], now: float) -> None:
        kind = event["type"]
        self.events[kind] = self.events.get(kind, 0) + 1
        if kind.startswith("agent."):
            self.agent_started_at = self.agent_started_at or now
            if kind in AGENT_ENDS:
                self.agent_ended_at = now
            if kind == "agent.message" and not event["data"].get("complete"):
                self.deltas += 1


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
        assignment = Assignment(created["id"], self.repository)
        script = self.expect(
            "POST",
            f"{FAKE_LLM.url()}/_fake/scripts",
            201,
            json=_agent_turns.script(created["id"]),
            name=SCRIPTS,
            headers=NO_TOKEN,
        )
        timeout_s = self.option("pipeline_timeout_s", PIPELINE_TIMEOUT_S)
        started = time.perf_counter()
        try:
            with gevent.Timeout(timeout_s, PipelineFailure(f"no pull request within {timeout_s:g} s")):
                pr_url = self._assign_and_wait(assignment)
        except (PipelineFailure, StreamFailure) as failure:
            assignment.outcome = str(failure)
            if stopping() and not quota:
                return  # an open-ended run stopped mid-assignment: unfinished, not failed
            if stopping():
                failure = PipelineFailure(f"the run ended before the pull request opened ({failure})")
            self._report((time.perf_counter() - started) * 1000, failure)
            return
        finally:
            assignment.ended_at = time.time()
            _figures.publish(self.environment, "assignments", asdict(assignment))
            if script is not None:
                self._remove_script(script["id"])
        self._report((time.perf_counter() - started) * 1000, None if pr_url else PipelineFailure("no PR URL"))
        self.pull_requests += 1
        self._check_pull_request_count()

    def _assign_and_wait(self, assignment: Assignment) -> str:
        """Assign the task with its stream open; the pull request's URL once the task is in review."""
        task_id = assignment.task_id
        with open_stream(self.host, self.token, params={"task_id": task_id}) as stream:
            opened_at = time.time()
            body = {"agent_id": self.agent_id}
            assignment.assigned_at = time.time()
            if self.expect("POST", f"/api/v1/tasks/{task_id}/assign", 202, json=body, name=ASSIGN_ROUTE) is None:
                raise PipelineFailure("the assignment was refused")
            opened: str | None = None
            for event in stream.events():
                now = time.time()
                stored = stored_at(event)
                if stored >= opened_at:  # stored after we connected: a live event, not history
                    report(self.environment, _slo.SSE_DELIVERY, (now - stored) * 1000)
                assignment.saw(event, now)
                if event["type"] == "pull_request.opened":
                    opened = event["data"].get("url")
                if event["type"] == "task.status":
                    data = event["data"]
                    assignment.outcome = data.get("status") or "unknown"
                    if data.get("status") != "review":
                        raise PipelineFailure(f"the task ended {data.get('status')}: {data.get('error')}")
                    assignment.pr_url = data.get("pr_url") or opened
                    return assignment.pr_url or ""
        raise PipelineFailure("the stream ended before the task did")

    def _remove_script(self, script_id: int) -> None:
        url = f"{FAKE_LLM.url()}/_fake/scripts/{script_id}"
        with self.client.delete(url, headers=NO_TOKEN, name=f"{SCRIPTS}/{{id}}", catch_response=True) as response:
            if response.status_code != 204:
                response.failure(unexpected(response, 204))

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
        with self.client.get(
            journal, params=params, headers=NO_TOKEN, name=JOURNAL_CHECK, catch_response=True
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
