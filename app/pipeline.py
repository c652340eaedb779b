"""The assignment pipeline: sandbox -> clone -> branch -> agent work -> commit -> push -> pull request.

Every step is announced as a persisted event; any failure marks the task failed with a readable
reason, and the sandbox is destroyed whatever happens.
"""

import logging
import re
import shlex
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.events import EventSignal, record_event
from app.models import Agent, Sandbox, Squad, Task, TaskStatus, utcnow
from app.redaction import redact
from app.services.e2b import E2BSandboxService, SandboxHandle
from app.services.errors import CommandFailed, ServiceError
from app.services.git import REPO_DIR, GitService
from app.services.github import GitHubService

log = logging.getLogger(__name__)

STEPS = ("sandbox", "clone", "branch", "work", "commit", "push", "pull_request")


def branch_name(task: Task) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", task.title.lower()).strip("-")[:40] or "task"
    return f"agent/{task.id[:8]}-{slug}"


class Pipeline:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        signal: EventSignal,
        sandboxes: E2BSandboxService,
        git: GitService,
        github: GitHubService,
        secrets: list[str],
        command_timeout_s: float = 120.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._signal = signal
        self._sandboxes = sandboxes
        self._git = git
        self._github = github
        self._secrets = secrets
        self._command_timeout_s = command_timeout_s

    async def run(self, task_id: str) -> None:
        run = _TaskRun(self, task_id)
        await run.load()
        await run.execute()

    async def _emit(self, task: Task, type: str, data: dict[str, Any], **task_changes: Any) -> None:
        async with self._sessionmaker() as session:
            if task_changes:
                stored = await session.get(Task, task.id)
                assert stored is not None
                for name, value in task_changes.items():
                    setattr(stored, name, value)
                    setattr(task, name, value)
            record_event(session, task.squad_id, type, data, task_id=task.id, agent_id=task.agent_id)
            await session.commit()
        self._signal.notify()


class _TaskRun:
    """One execution of the pipeline for one task."""

    def __init__(self, pipeline: Pipeline, task_id: str) -> None:
        self.p = pipeline
        self.task_id = task_id
        self.sandbox: SandboxHandle | None = None
        self.sandbox_row_id: str | None = None

    async def load(self) -> None:
        async with self.p._sessionmaker() as session:
            task = await session.get(Task, self.task_id)
            if task is None:
                raise LookupError(f"task {self.task_id} does not exist")
            squad = await session.get(Squad, task.squad_id)
            agent = await session.get(Agent, task.agent_id) if task.agent_id else None
        assert squad is not None
        self.task, self.squad = task, squad
        self.agent_name = agent.name if agent else "agent"

    async def emit(self, type: str, data: dict[str, Any], **task_changes: Any) -> None:
        await self.p._emit(self.task, type, data, **task_changes)

    async def sandbox_status(self, status: str) -> None:
        await self.emit("sandbox.status", {"status": status, "sandbox_id": self.sandbox and self.sandbox.sandbox_id})

    async def step(self, name: str) -> None:
        await self.emit("pipeline.step", {"step": name, "index": STEPS.index(name) + 1, "total": len(STEPS)})

    async def terminal(self, stream: str, text: str) -> None:
        await self.emit("terminal.output", {"stream": stream, "text": redact(text, self.p._secrets)})

    async def execute(self) -> None:
        if self.task.status != TaskStatus.IN_PROGRESS:
            log.info("task %s is %s, nothing to do", self.task.id, self.task.status)
            return
        try:
            await self._steps()
        except ServiceError as error:
            reason = redact(f"{error.service}: {error.message}", self.p._secrets)
            await self._fail(reason)
        except Exception as error:
            log.exception("pipeline of task %s crashed", self.task.id)
            await self._fail(redact(f"internal error: {type(error).__name__}: {error}", self.p._secrets))
        finally:
            await self._destroy_sandbox()

    async def _steps(self) -> None:
        await self.sandbox_status("creating")
        await self.step("sandbox")
        self.sandbox = await self.p._sandboxes.create(metadata={"task_id": self.task.id, "squad_id": self.squad.id})
        await self._store_sandbox("ready")
        await self.sandbox_status("ready")

        repository = await self.p._github.get_repository(self.squad.repository)
        await self.step("clone")
        await self.sandbox_status("running")
        await self.p._git.clone(self.sandbox, repository.clone_url, repository.default_branch, self.terminal)

        branch = branch_name(self.task)
        await self.step("branch")
        await self.p._git.create_branch(self.sandbox, branch, self.terminal)
        await self.emit("task.branch", {"branch": branch}, branch=branch)

        await self.step("work")
        await self._agent_work()

        await self.step("commit")
        await self.p._git.commit(
            self.sandbox, f"{self.task.title}\n\nTask {self.task.id}", self.agent_name, self.terminal
        )

        await self.sandbox_status("pushing")
        await self.step("push")
        await self.p._git.push(self.sandbox, branch, self.terminal)

        await self.step("pull_request")
        # A retried job may already have opened it: never open a second one.
        pull = await self.p._github.find_open_pull_request(repository, branch)
        if pull is None:
            pull = await self.p._github.create_pull_request(
                repository,
                branch,
                self.task.title,
                f"{self.task.description}\n\nOpened by {self.agent_name}.",
            )
        await self.emit("pull_request.opened", {"url": pull.url, "number": pull.number})
        await self.emit(
            "task.status",
            {"status": TaskStatus.REVIEW.value, "pr_url": pull.url, "error": None},
            status=TaskStatus.REVIEW.value,
            pr_url=pull.url,
            pr_number=pull.number,
        )
        await self.sandbox_status("done")

    async def _agent_work(self) -> None:
        """The agent's change: a note of the task in the repository (the AI itself is out of scope)."""
        assert self.sandbox is not None
        path = f".agent-squad/task-{self.task.id}.md"
        content = f"# {self.task.title}\n\n{self.task.description}\n"
        command = (
            f"mkdir -p .agent-squad && printf '%s' {shlex.quote(content)} > {shlex.quote(path)}"
            f" && echo {shlex.quote(f'{self.agent_name} wrote {path}')}"
        )
        result = await self.p._sandboxes.run(
            self.sandbox, command, cwd=REPO_DIR, timeout_s=self.p._command_timeout_s, on_output=self.terminal
        )
        if result.exit_code != 0:
            raise CommandFailed("agent work", result.exit_code, result.output)

    async def _store_sandbox(self, status: str) -> None:
        assert self.sandbox is not None
        async with self.p._sessionmaker() as session:
            row = Sandbox(task_id=self.task.id, e2b_sandbox_id=self.sandbox.sandbox_id, status=status)
            session.add(row)
            await session.commit()
            self.sandbox_row_id = row.id

    async def _fail(self, reason: str) -> None:
        log.warning("task %s failed: %s", self.task.id, reason)
        await self.emit(
            "task.status",
            {"status": TaskStatus.FAILED.value, "pr_url": None, "error": reason},
            status=TaskStatus.FAILED.value,
            error=reason,
        )
        await self.sandbox_status("failed")

    async def _destroy_sandbox(self) -> None:
        if self.sandbox is None:
            return
        try:
            await self.p._sandboxes.destroy(self.sandbox.sandbox_id)
        except ServiceError as error:
            # The sandbox still expires at its timeout; say so instead of failing a finished task.
            log.warning("could not destroy sandbox %s: %s", self.sandbox.sandbox_id, error.message)
            return
        if self.sandbox_row_id:
            async with self.p._sessionmaker() as session:
                row = await session.get(Sandbox, self.sandbox_row_id)
                if row is not None:
                    row.status = "destroyed"
                    row.destroyed_at = utcnow()
                    await session.commit()
