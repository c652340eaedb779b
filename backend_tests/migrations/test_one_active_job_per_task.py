"""The migration to one queued or running job per task: a database that concurrent assignments left with
two active jobs of a task upgrades (the duplicates are retired, a running job kept before a queued one),
downgrades and upgrades again. Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.db import create_engine
from app.runtime import alembic_command
from fixtures.databases import worker_database_url

pytestmark = [pytest.mark.migrations, pytest.mark.priority_p1]

_serial = itertools.count()
EARLY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def database_before_the_index(worker_id, tmp_path) -> str:
    url = worker_database_url(f"{worker_id}_jobidx{next(_serial)}", tmp_path)
    alembic_command("upgrade", url, "0002")
    return url


def query(url: str, sql: str, **params: Any) -> list[tuple]:
    async def run() -> list[tuple]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(sql), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def insert_job(url: str, job_id: str, task_id: str, state: str, minutes: int) -> None:
    at = EARLY + timedelta(minutes=minutes)
    query(
        url,
        "INSERT INTO jobs (id, task_id, state, attempts, created_at, updated_at) "
        "VALUES (:id, :task_id, :state, 0, :at, :at)",
        id=job_id,
        task_id=task_id,
        state=state,
        at=at,
    )


def insert_task(url: str, task_id: str) -> None:
    query(
        url,
        "INSERT INTO tasks (id, squad_id, title, description, status, created_at, updated_at) "
        "VALUES (:id, 's1', 'Task', '', 'in_progress', :now, :now)",
        id=task_id,
        now=EARLY,
    )


def test_duplicate_active_jobs_are_retired_and_the_upgrade_round_trips(database_before_the_index):
    url = database_before_the_index
    query(url, "INSERT INTO squads VALUES ('s1', 'Squad', 'acme/widgets', 'hash', :now)", now=EARLY)
    for task_id in ("t1", "t2", "t3"):
        insert_task(url, task_id)
    # t1: queued twice, then a worker claimed the later one; t2: queued twice; t3: one run, and an old one.
    insert_job(url, "j1a", "t1", "queued", 0)
    insert_job(url, "j1b", "t1", "running", 1)
    insert_job(url, "j2a", "t2", "queued", 0)
    insert_job(url, "j2b", "t2", "queued", 1)
    insert_job(url, "j3a", "t3", "done", 0)
    insert_job(url, "j3b", "t3", "queued", 1)

    alembic_command("upgrade", url, "head")

    states = dict(query(url, "SELECT id, state FROM jobs"))
    assert states == {
        "j1a": "failed",
        "j1b": "running",
        "j2a": "queued",
        "j2b": "failed",
        "j3a": "done",
        "j3b": "queued",
    }
    alembic_command("downgrade", url, "0002")
    insert_job(url, "j3c", "t3", "queued", 2)  # allowed again without the index
    query(url, "DELETE FROM jobs WHERE id = 'j3c'")
    alembic_command("upgrade", url, "head")
    with pytest.raises(Exception, match="(?i)unique"):
        insert_job(url, "j3d", "t3", "running", 3)


def test_the_index_stays_partial_through_later_migrations_down_and_up(database_before_the_index):
    """SQLite changes a table by copying it: a later migration's downgrade must keep the index partial."""
    url = database_before_the_index
    query(url, "INSERT INTO squads VALUES ('s1', 'Squad', 'acme/widgets', 'hash', :now)", now=EARLY)
    insert_task(url, "t1")
    alembic_command("upgrade", url, "head")
    alembic_command("downgrade", url, "0003")

    insert_job(url, "j1", "t1", "done", 0)
    insert_job(url, "j2", "t1", "failed", 1)
    insert_job(url, "j3", "t1", "queued", 2)
    with pytest.raises(Exception, match="(?i)unique"):
        insert_job(url, "j4", "t1", "running", 3)
    alembic_command("upgrade", url, "head")
    assert sorted(query(url, "SELECT id, state FROM jobs")) == [("j1", "done"), ("j2", "failed"), ("j3", "queued")]
