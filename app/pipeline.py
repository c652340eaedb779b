"""The assignment pipeline: sandbox -> clone -> branch -> agent work -> commit -> push -> pull request.

Every step is announced as a persisted event; any failure marks the task failed with a readable
reason, and the sandbox is destroyed whatever happens. The work step is the agent's loop
(app/agent/): the model's turns and the tools it calls, carried out in the sandbox.

A review round (a `review` job, app/reviews.py) walks the same steps on the task's pull request: the
pushed branch in a new sandbox, the reviewers' requests in the agent's prompt, a new commit pushed to
the same pull request (never a second one), and the agent's summary posted on it as its reply. A run
only ever moves its task out of `in_progress`: once a webhook has moved it on (merged: done; closed:
failed), the run changes its status no more; a review round that finds its pull request merged or
closed before it pushes, or before it replies, stops there.

A run destroys only what it made: each run has an id (the worker's claim, `Job.run_id`) that its
sandbox carries in E2B's metadata and on its row. A sandbox made by hand for the same task, or by
the task's next run, is never the business of this one. A run that takes over a job destroys what
the job's earlier runs left, by their ids.
"""

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import error_tracking
from app.agent.loop import AgentLimits, AgentLoop, AgentStopped, Spend
from app.agent.pricing import Price
from app.agent.prompt import AgentTask, Feedback, ReviewRound
from app.agent.tools import Toolbox
from app.db import runs_to_completion
from app.events import record_event
from app.metrics import Metrics
from app.models import Agent, JobKind, ReviewRequest, Sandbox, Squad, Task, TaskStatus, new_id, utcnow
from app.reaper import PIPELINE_ORIGIN
from app.redaction import redact
from app.reviews import CLOSED_REASON, lock_task
from app.services.e2b import E2BSandboxService, SandboxHandle
from app.services.errors import DuplicatePullRequest, NothingToCommit, ServiceError
from app.services.git import GitService
from app.services.github import GitHubService, Repository
from app.services.github_accounts import GitHubAccounts
from app.services.llm import LLMService

log = logging.getLogger(__name__)

STEPS = ("sandbox", "clone", "branch", "work", "commit", "push", "pull_request")


def branch_name(task: Task) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", task.title.lower()).strip("-")[:40] or "task"
    return f"agent/{task.id[:8]}-{slug}"


class CannotReview(Exception):
    """A review round with nothing to work on: no pull request, or its branch gone from GitHub."""


@dataclass(frozen=True, slots=True)
class PipelineServices:
    """Everything a task's run works with, built once by the composition root (app/runtime.py).

    `sessions` are the platform's own (their commits of events wake the streams, app/events.py);
    `github_accounts` are the platform's GitHub tokens, of which each task uses one (its git and GitHub);
    `secrets` are kept out of terminal output, failure reasons and everything the model is sent;
    `llm` is the agent's model and `llm_price` what its tokens cost; `agent_limits` caps each run's
    agent loop (its `command_timeout_s` bounds each command the agent runs in the sandbox).
    """

    sessions: async_sessionmaker[AsyncSession]
    sandboxes: E2BSandboxService
    github_accounts: GitHubAccounts
    secrets: tuple[str, ...]
    metrics: Metrics
    llm: LLMService
    llm_price: Price
    agent_limits: AgentLimits = AgentLimits()


@dataclass(frozen=True, slots=True)
class Pipeline:
    """What the worker runs its jobs with: each job is one `TaskRun` over the same services."""

    services: PipelineServices

    async def run(
        self,
        task_id: str,
        *,
        run_id: str | None = None,
        earlier_run_ids: Sequence[str] = (),
        kind: str = JobKind.WORK,
    ) -> None:
        await TaskRun(self.services, task_id, run_id=run_id, earlier_run_ids=earlier_run_ids, kind=kind).run()

    async def give_up(self, task_id: str, reason: str, *, earlier_run_ids: Sequence[str] = ()) -> None:
        await TaskRun(self.services, task_id, earlier_run_ids=earlier_run_ids).give_up(reason)


class TaskRun:
    """One execution of the pipeline for one task, from its sandbox to its pull request.

    `run` is the path of a task, step by step; `give_up` fails a task whose job could not finish.
    `run_id` names this run (a fresh one when not given); `earlier_run_ids` are the runs of the same
    job before it, whose leftovers it destroys. `kind` is the job's: the task's first work, or a review
    round on its pull request.
    """

    def __init__(
        self,
        services: PipelineServices,
        task_id: str,
        *,
        run_id: str | None = None,
        earlier_run_ids: Sequence[str] = (),
        kind: str = JobKind.WORK,
    ) -> None:
        self.services = services
        self.task_id = task_id
        self.kind = kind
        self.run_id = run_id or new_id()
        self.earlier_run_ids = tuple(earlier_run_ids)
        self.sandbox: SandboxHandle | None = None
        self.sandbox_row_id: str | None = None
        self._step: tuple[str, float] | None = None

    @property
    def git(self) -> GitService:
        """git with the task's GitHub account (every run of a task has the same one)."""
        return self.services.github_accounts.for_task(self.task_id).git

    @property
    def github(self) -> GitHubService:
        return self.services.github_accounts.for_task(self.task_id).github

    async def run(self) -> None:
        await self._load()
        # A job taken over from a dead worker: its earlier runs may have left sandboxes behind,
        # whether or not there is anything left for this run to do.
        await self._destroy_sandboxes_of(self.earlier_run_ids)
        if self.task.status != TaskStatus.IN_PROGRESS:
            log.info("task %s is %s, nothing to do", self.task.id, self.task.status)
            return
        try:
            await (self._review_steps() if self.kind == JobKind.REVIEW else self._steps())
            self._finish_step()
        except ServiceError as error:
            await self._fail(f"{self._current_step()} step: {error.service}: {error.message}")
        except AgentStopped as stopped:
            await self._fail(f"{self._current_step()} step: {stopped}")
        except CannotReview as impossible:
            await self._fail(f"review round {self.task.review_round}: {impossible}")
        except Exception as error:
            error_tracking.tag(squad_id=self.squad.id, step=self._current_step())
            log.exception("pipeline of task %s crashed", self.task.id)
            await self._fail(f"{self._current_step()} step: internal error: {type(error).__name__}: {error}")
        finally:
            await self._destroy_sandbox()
            await self._destroy_strays_of((self.run_id,))

    async def give_up(self, reason: str) -> None:
        """Fail a task whose job could not finish (its workers kept dying), cleaning up after its runs."""
        await self._load()
        await self._destroy_sandboxes_of(self.earlier_run_ids)
        if self.task.status == TaskStatus.IN_PROGRESS:
            await self._fail(reason)

    async def _sandbox_and_clone(self) -> tuple[SandboxHandle, Repository]:
        """The sandbox and clone steps, shared by a task's first run and its review rounds: a new sandbox, and
        the squad's repository cloned into it (its default branch). Returns both; the caller keeps the sandbox
        as self.sandbox, which this has set already (its steps and their cleanup need it)."""
        await self.sandbox_status("creating")
        await self.step("sandbox")
        self.sandbox = await self.services.sandboxes.create(
            metadata={"task_id": self.task.id, "squad_id": self.squad.id, "run_id": self.run_id, **PIPELINE_ORIGIN}
        )
        await self._store_sandbox("ready")
        await self.sandbox_status("ready")

        repository = await self.github.get_repository(self.squad.repository)
        await self.step("clone")
        await self.sandbox_status("running")
        await self.git.clone(self.sandbox, repository.clone_url, repository.default_branch, self.terminal)
        return self.sandbox, repository

    async def _steps(self) -> None:
        self.sandbox, repository = await self._sandbox_and_clone()

        branch = branch_name(self.task)
        await self.step("branch")
        # A retried job finds the branch its first attempt pushed: continue on it instead of diverging.
        resumed = await self.git.cloned_branch_exists(self.sandbox, branch)
        if resumed:
            await self.git.checkout_remote_branch(self.sandbox, branch, self.terminal)
        else:
            await self.git.create_branch(self.sandbox, branch, self.terminal)
        await self.emit("task.branch", {"branch": branch, "resumed": resumed}, branch=branch)

        await self.step("work")
        summary = await self._agent_work(repository, branch, resumed)

        await self.step("commit")
        try:
            await self.git.commit(
                self.sandbox, f"{self.task.title}\n\nTask {self.task.id}", self.agent_name, self.terminal
            )
        except NothingToCommit:
            if not resumed:
                raise
            # The first attempt committed this very change already.

        await self.sandbox_status("pushing")
        await self.step("push")
        await self.git.push(self.sandbox, branch, self.terminal)

        await self.step("pull_request")
        # A rate limit GitHub answers here is waited out within the call, in this job, not by handing
        # the job back to the queue: app/services/rate_gate.py says why.
        # A retried job may already have opened it: never open a second one.
        pull = await self.github.find_open_pull_request(repository, branch)
        if pull is None:
            body = f"{self.task.description}\n\n## What the agent did\n\n{summary}\n\nOpened by {self.agent_name}."
            try:
                pull = await self.github.create_pull_request(repository, branch, self.task.title, body)
            except DuplicatePullRequest:
                # Opened between our check and our request (another worker): that one is ours.
                pull = await self.github.find_open_pull_request(repository, branch)
                if pull is None:
                    raise
        await self.emit("pull_request.opened", {"url": pull.url, "number": pull.number})
        await self._conclude(
            {"status": TaskStatus.REVIEW.value, "pr_url": pull.url, "error": None},
            status=TaskStatus.REVIEW.value,
            pr_url=pull.url,
            pr_number=pull.number,
        )
        await self.sandbox_status("done")

    async def _review_steps(self) -> None:
        """A review round: the pull request's branch in a new sandbox, the agent at work on the reviewers'
        requests, a new commit pushed to the pull request, and the agent's reply on it."""
        number, branch = self.task.pr_number, self.task.branch
        if number is None or branch is None:
            raise CannotReview("the task has no pull request to answer a review on")
        requests = await self._review_requests()
        self.sandbox, repository = await self._sandbox_and_clone()

        await self.step("branch")
        if not await self.git.cloned_branch_exists(self.sandbox, branch):
            raise CannotReview(
                f"the pull request's branch {branch} is no longer on GitHub; the review cannot be answered"
            )
        await self.git.checkout_remote_branch(self.sandbox, branch, self.terminal)
        await self.emit("task.branch", {"branch": branch, "resumed": True})

        await self.step("work")
        review = ReviewRound(
            round=self.task.review_round,
            pull_number=number,
            pull_url=self.task.pr_url or "",
            feedback=await self._feedback(repository, number, requests),
        )
        summary = await self._agent_work(repository, branch, True, review=review)

        await self.step("commit")
        message = f"{self.task.title}: review round {review.round}\n\nTask {self.task.id}"
        try:
            commit = await self.git.commit(self.sandbox, message, self.agent_name, self.terminal)
        except NothingToCommit:
            commit = None  # the agent answered without changing anything: its reply says why
        if not await self._pull_request_still_open(repository, number):
            return
        if commit is not None:
            await self.sandbox_status("pushing")
            await self.step("push")
            await self.git.push(self.sandbox, branch, self.terminal)

        await self.step("pull_request")
        # A merge or a close while the push was on its way: the reply would answer nobody.
        if not await self._pull_request_still_open(repository, number):
            return
        reply = await self.github.comment(repository, number, self._reply(summary, review.round, commit))
        await self.emit(
            "review.replied", {"round": review.round, "url": reply.url, "commit": commit, "summary": summary}
        )
        await self._conclude(
            {
                "status": TaskStatus.REVIEW.value,
                "pr_url": self.task.pr_url,
                "error": None,
                "reason": f"the agent answered review round {review.round}",
            },
            status=TaskStatus.REVIEW.value,
        )
        await self.sandbox_status("done")

    async def _pull_request_still_open(self, repository: Repository, number: int) -> bool:
        """Whether the round may go on: its task still in progress and its pull request still open. A pull
        request found merged or closed ends the task as its webhook would (if the webhook has not yet)."""
        status = await self._current_status()
        pull = await self.github.get_pull_request(repository, number) if status == TaskStatus.IN_PROGRESS else None
        if pull is not None and pull.open:
            return True
        if pull is not None and pull.merged:
            reason = f"pull request #{number} was merged while the agent worked"
            await self._conclude(
                {"status": TaskStatus.DONE.value, "pr_url": self.task.pr_url, "error": None, "reason": reason},
                status=TaskStatus.DONE.value,
            )
        elif pull is not None:
            reason = f"pull request #{number} was closed while the agent worked"
            await self._conclude(
                {
                    "status": TaskStatus.FAILED.value,
                    "pr_url": self.task.pr_url,
                    "error": CLOSED_REASON,
                    "reason": reason,
                },
                status=TaskStatus.FAILED.value,
                error=CLOSED_REASON,
            )
        else:
            reason = f"the task is {status} now"
        await self.emit("review.abandoned", {"round": self.task.review_round, "reason": reason})
        await self.sandbox_status("done")
        return False

    def _reply(self, summary: str, round: int, commit: str | None) -> str:
        change = f"commit {commit[:12]}" if commit else "no new commit"
        return f"{summary}\n\n---\n{self.agent_name} (Agent Squad), review round {round}: {change}."

    @runs_to_completion
    async def _review_requests(self) -> list[ReviewRequest]:
        async with self.services.sessions() as session:
            query = select(ReviewRequest).where(
                ReviewRequest.task_id == self.task.id, ReviewRequest.round == self.task.review_round
            )
            return list(await session.scalars(query.order_by(ReviewRequest.created_at, ReviewRequest.id)))

    async def _feedback(self, repository: Repository, number: int, requests: list[ReviewRequest]) -> list[Feedback]:
        """The round's requests, each review with its comments on lines (GitHub's webhook of a review carries
        none: they are read now); a line comment already among a review's is not asked for twice."""
        reviews = {request.github_id for request in requests if request.kind == "review"}
        comments = await self.github.review_comments(repository, number) if reviews else []
        of_reviews = {comment.id for comment in comments if comment.review_id in reviews}
        feedback = []
        for request in requests:
            if request.kind == "review_comment" and request.github_id in of_reviews:
                continue
            if request.kind == "review":
                lines = [(c.path, c.line, c.body) for c in comments if c.review_id == request.github_id]
            elif request.kind == "review_comment":
                lines = [(request.path or "", request.line, request.body)]
            else:
                lines = []
            body = "" if request.kind == "review_comment" else request.body
            feedback.append(Feedback(kind=request.kind, reviewer=request.reviewer, body=body, comments=lines))
        return feedback

    async def _agent_work(
        self, repository: Repository, branch: str, resumed: bool, *, review: ReviewRound | None = None
    ) -> str:
        """The agent's loop in the sandbox's clone, on the task's branch; returns its summary of the work.

        Every run starts the conversation afresh: a run that takes over from a dead worker starts from
        the clone (or from the branch an earlier run pushed), never from the dead run's sandbox.
        """
        assert self.sandbox is not None
        limits = self.services.agent_limits
        toolbox = Toolbox(
            self.services.sandboxes,
            self.sandbox,
            secrets=self.secrets,
            output_chars=limits.tool_output_chars,
            command_timeout_s=limits.command_timeout_s,
            on_output=self.terminal,
        )
        task = AgentTask(
            task_id=self.task.id,
            title=self.task.title,
            description=self.task.description,
            repository=repository.full_name,
            branch=branch,
            base_branch=repository.default_branch,
            resumed=resumed,
            agent_name=self.agent_name,
            review=review,
        )
        loop = AgentLoop(
            self.services.llm,
            toolbox,
            task,
            self,
            limits=limits,
            price=self.services.llm_price,
            secrets=self.secrets,
            spent_before=Spend(self.task.prompt_tokens, self.task.completion_tokens, self.task.cost_usd),
            metrics=self.services.metrics,
        )
        outcome = await loop.run()
        await self.emit("agent.finished", {"step": outcome.steps, "summary": outcome.summary})
        return outcome.summary or "(the agent gave no summary)"

    @runs_to_completion
    async def _load(self) -> None:
        async with self.services.sessions() as session:
            task = await session.get(Task, self.task_id)
            if task is None:
                raise LookupError(f"task {self.task_id} does not exist")
            squad = await session.get(Squad, task.squad_id)
            agent = await session.get(Agent, task.agent_id) if task.agent_id else None
        assert squad is not None
        self.task, self.squad = task, squad
        self.agent_name = agent.name if agent else "agent"

    async def emit(self, type: str, data: dict[str, Any], **task_changes: Any) -> None:
        """Store an event of the task, with the changes to the task it announces, in one transaction."""
        await self.emit_all([(type, data)], **task_changes)

    @runs_to_completion
    async def emit_all(self, events: Sequence[tuple[str, dict[str, Any]]], **task_changes: Any) -> None:
        """Store events of the task, in order, with the changes to the task they announce, in one transaction
        (the agent's turn: its message, its usage and its first tool call are news of the same moment)."""
        async with self.services.sessions() as session:
            if task_changes:
                stored = await session.get(Task, self.task.id)
                assert stored is not None
                for name, value in task_changes.items():
                    setattr(stored, name, value)
                    setattr(self.task, name, value)
            for type, data in events:
                await record_event(
                    session, self.task.squad_id, type, data, task_id=self.task.id, agent_id=self.task.agent_id
                )
            await session.commit()

    async def sandbox_status(self, status: str) -> None:
        await self.emit("sandbox.status", {"status": status, "sandbox_id": self.sandbox and self.sandbox.sandbox_id})

    async def step(self, name: str) -> None:
        self._finish_step()
        self._step = (name, time.perf_counter())
        await self.emit("pipeline.step", {"step": name, "index": STEPS.index(name) + 1, "total": len(STEPS)})

    def _current_step(self) -> str:
        return self._step[0] if self._step else "sandbox"

    def _finish_step(self) -> None:
        if self._step is not None:
            name, started = self._step
            self.services.metrics.step_seconds.labels(name).observe(time.perf_counter() - started)
            self._step = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """What this run keeps out of everything it says: the platform's secrets and its sandbox's
        envd access token (a command may print it, and it opens the sandbox to whoever holds it)."""
        token = self.sandbox.envd_access_token if self.sandbox else None
        return (*self.services.secrets, token) if token else self.services.secrets

    async def terminal(self, stream: str, text: str) -> None:
        await self.emit("terminal.output", {"stream": stream, "text": redact(text, self.secrets)})

    @runs_to_completion
    async def _store_sandbox(self, status: str) -> None:
        assert self.sandbox is not None
        async with self.services.sessions() as session:
            row = Sandbox(
                task_id=self.task.id,
                e2b_sandbox_id=self.sandbox.sandbox_id,
                envd_access_token=self.sandbox.envd_access_token,
                status=status,
                run_id=self.run_id,
            )
            session.add(row)
            await session.commit()
            self.sandbox_row_id = row.id

    async def _fail(self, reason: str) -> None:
        reason = redact(reason, self.secrets)
        log.warning("task %s failed: %s", self.task.id, reason)
        await self._conclude(
            {"status": TaskStatus.FAILED.value, "pr_url": None, "error": reason},
            status=TaskStatus.FAILED.value,
            error=reason,
        )
        await self.sandbox_status("failed")

    @runs_to_completion
    async def _conclude(self, data: dict[str, Any], **task_changes: Any) -> bool:
        """The run's outcome for its task (`task.status` with `data`, and the changes it announces), only
        while the task is still in progress: a webhook that moved it on (a merge, a close) has the last word.
        Returns whether the task took it."""
        async with self.services.sessions() as session:
            stored = await lock_task(session, self.task.id)
            if stored is None or stored.status != TaskStatus.IN_PROGRESS:
                log.info(
                    "task %s is %s already; its run's outcome (%s) changes nothing",
                    self.task.id,
                    stored.status if stored else "gone",
                    data["status"],
                )
                return False
            for name, value in task_changes.items():
                setattr(stored, name, value)
                setattr(self.task, name, value)
            await record_event(
                session, self.task.squad_id, "task.status", data, task_id=self.task.id, agent_id=self.task.agent_id
            )
            await session.commit()
            return True

    @runs_to_completion
    async def _current_status(self) -> str:
        async with self.services.sessions() as session:
            status = await session.scalar(select(Task.status).where(Task.id == self.task.id))
        return status or "gone"

    async def _destroy_sandboxes_of(self, run_ids: Sequence[str]) -> None:
        """Destroy what the given runs left: the sandboxes their rows record, then those E2B still runs
        for them that no row records (a run that died between E2B's answer and storing it)."""
        if not run_ids:
            return
        for row in await self._undestroyed_sandboxes_of(run_ids):
            try:
                await self.services.sandboxes.destroy(row.e2b_sandbox_id)
            except ServiceError as error:
                log.warning("could not destroy leftover sandbox %s: %s", row.e2b_sandbox_id, error.message)
                continue
            await self._mark_destroyed(row.id)
        await self._destroy_strays_of(run_ids)

    @runs_to_completion
    async def _undestroyed_sandboxes_of(self, run_ids: Sequence[str]) -> list[Sandbox]:
        async with self.services.sessions() as session:
            query = select(Sandbox).where(
                Sandbox.task_id == self.task.id, Sandbox.run_id.in_(run_ids), Sandbox.destroyed_at.is_(None)
            )
            return list(await session.scalars(query))

    async def _destroy_strays_of(self, run_ids: Sequence[str]) -> None:
        """Kill what E2B still runs for these runs: a creation that timed out here may have succeeded there
        (the answer came too late), leaving a sandbox the run never knew of. Found by the run's id in the
        metadata, never by the task's: a sandbox made by hand for the task, or by its next run, is not ours."""
        for run_id in run_ids:
            try:
                strays = await self.services.sandboxes.running_with_metadata({"run_id": run_id})
                for sandbox_id in strays:
                    log.warning("destroying stray sandbox %s of run %s (task %s)", sandbox_id, run_id, self.task.id)
                    await self.services.sandboxes.destroy(sandbox_id)
            except ServiceError as error:
                log.warning("could not look for stray sandboxes of run %s: %s", run_id, error.message)

    @runs_to_completion
    async def _mark_destroyed(self, row_id: str) -> None:
        async with self.services.sessions() as session:
            row = await session.get(Sandbox, row_id)
            if row is not None:
                row.status = "destroyed"
                row.destroyed_at = utcnow()
                await session.commit()

    async def _destroy_sandbox(self) -> None:
        if self.sandbox is None:
            return
        try:
            await self.services.sandboxes.destroy(self.sandbox.sandbox_id)
        except ServiceError as error:
            # The sandbox still expires at its timeout; say so instead of failing a finished task.
            log.warning("could not destroy sandbox %s: %s", self.sandbox.sandbox_id, error.message)
            return
        if self.sandbox_row_id:
            await self._mark_destroyed(self.sandbox_row_id)
