"""The platform's tables: squads, agents, tasks, sandboxes, events and pipeline jobs; and what GitHub's
webhooks brought: the deliveries applied, and the reviews asking the agent for changes."""

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class TaskStatus(enum.StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    DONE = "done"
    FAILED = "failed"


class JobKind(enum.StrEnum):
    WORK = "work"  # an assignment: from the default branch to a pull request
    REVIEW = "review"  # a review round: the pull request's branch, the reviews' requests, a reply


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# A job in these states is the task's run, or about to be: a task has at most one.
ACTIVE_JOB_STATES = (JobState.QUEUED, JobState.RUNNING)
_ACTIVE_JOB = text("state IN ('queued', 'running')")


class Squad(Base):
    __tablename__ = "squads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    repository: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    squad_id: Mapped[str] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    squad_id: Mapped[str] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.TODO)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    branch: Mapped[str | None] = mapped_column(String(250))
    pr_url: Mapped[str | None] = mapped_column(String(500))
    pr_number: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # What the task's agent runs spent on the LLM, all runs together, as the provider counted it.
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # The review rounds started so far: 0 while the task's first run works, N once reviews asked for
    # changes N times (each round a run of its own on the same branch and pull request).
    review_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The pull request's head commit and `updated_at` as the last webhook applied told them: a delivery
    # older than that (a late redelivery) must not undo what a newer one did.
    pr_head_sha: Mapped[str | None] = mapped_column(String(40))
    pr_updated_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Sandbox(Base):
    __tablename__ = "sandboxes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    e2b_sandbox_id: Mapped[str] = mapped_column(String(100))
    # envd's per-sandbox token: needed to run commands later (the step endpoints); never returned.
    envd_access_token: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    # The pipeline run that made it (a job's `run_id`); none for one made by hand through the API.
    # Cleanup goes by run, so a run never destroys a sandbox it did not make.
    run_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column()


class Event(Base):
    __tablename__ = "events"
    # Never reuse an id: a client resuming with Last-Event-ID must not skip a recycled one.
    # Streams read one squad's events in id order, hence the composite index.
    __table_args__ = (Index("ix_events_squad_id_id", "squad_id", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    squad_id: Mapped[str] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(32), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    # The database's own guarantee of one run per task, whatever races the API's conditional
    # update may miss: a second queued or running job of a task cannot be stored.
    __table_args__ = (
        Index(
            "uq_jobs_task_id_active",
            "task_id",
            unique=True,
            sqlite_where=_ACTIVE_JOB,
            postgresql_where=_ACTIVE_JOB,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=JobKind.WORK, server_default=JobKind.WORK.value)
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    # Every claim starts a run of its own id (the current or last one here, the ones before it in
    # `earlier_run_ids`): the run's sandboxes carry it, and a takeover destroys its predecessors' by it.
    run_id: Mapped[str | None] = mapped_column(String(32))
    earlier_run_ids: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """A GitHub delivery the platform applied, by its `X-GitHub-Delivery` GUID: the same GUID again (a
    redelivery, a replay) is found here and changes nothing twice. Deliveries that changed nothing (not
    the platform's repository or pull request, an event it does not act on) are not kept."""

    __tablename__ = "webhook_deliveries"

    guid: Mapped[str] = mapped_column(String(100), primary_key=True)
    event: Mapped[str] = mapped_column(String(50))
    action: Mapped[str | None] = mapped_column(String(50))
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewRequest(Base):
    """What a reviewer asked the task's agent to change: a review requesting changes, or a comment
    addressed to the agent. `round` is the review round that took it; None while it waits for one (it
    came while a run of the task was active: the next round takes every waiting request at once)."""

    __tablename__ = "review_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # review, comment (the conversation's), review_comment (a line's)
    github_id: Mapped[int] = mapped_column(BigInteger)  # the review's or the comment's id on GitHub
    reviewer: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str | None] = mapped_column(String(500))  # a line comment's file and line
    line: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(500))
    round: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
