"""Alembic migrations: upgrade, downgrade and upgrade again with rows present, and a schema equal
to the models; the migration to one active job per task, on a database that holds two. Runs on SQLite,
and on PostgreSQL when TEST_DATABASE_URL is set (`make test` does)."""

import asyncio
import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import create_engine
from app.models import Base
from app.runtime import alembic_command
from fixtures.databases import query, worker_database_url

pytestmark = [pytest.mark.migrations, pytest.mark.priority_p1]

_serial = itertools.count()


@pytest.fixture
def empty_database(worker_id, tmp_path) -> str:
    return worker_database_url(f"{worker_id}_mig{next(_serial)}", tmp_path)


def schema_differences(url: str) -> list:
    async def run() -> list:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def insert_rows(url: str) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    query(url, "INSERT INTO squads VALUES ('s1', 'Squad', 'acme/widgets', 'hash', :now)", now=now)
    query(
        url,
        "INSERT INTO tasks (id, squad_id, title, description, status, created_at, updated_at) "
        "VALUES ('t1', 's1', 'Task', '', 'review', :now, :now)",
        now=now,
    )
    query(
        url,
        "INSERT INTO sandboxes (id, task_id, e2b_sandbox_id, status, created_at) "
        "VALUES ('b1', 't1', 'sbx', 'done', :now)",
        now=now,
    )
    query(
        url,
        "INSERT INTO events (squad_id, task_id, type, data, created_at) "
        "VALUES ('s1', 't1', 'task.created', '{}', :now)",
        now=now,
    )


# On every pull request too: the tier holds at least one test of each capability of the platform.
@pytest.mark.priority_p0
def test_upgrade_downgrade_upgrade_keeps_the_rows(empty_database):
    alembic_command("upgrade", empty_database, "0001")
    insert_rows(empty_database)

    alembic_command("upgrade", empty_database, "head")
    assert query(empty_database, "SELECT id, envd_access_token FROM sandboxes") == [("b1", None)]
    alembic_command("downgrade", empty_database, "0001")
    assert query(empty_database, "SELECT id, status FROM tasks") == [("t1", "review")]
    assert query(empty_database, "SELECT id FROM sandboxes") == [("b1",)]
    alembic_command("upgrade", empty_database, "head")

    assert query(empty_database, "SELECT id, title FROM tasks") == [("t1", "Task")]
    assert query(empty_database, "SELECT type FROM events") == [("task.created",)]
    assert schema_differences(empty_database) == []


def test_downgrade_to_base_and_back_gives_the_models_schema(empty_database):
    alembic_command("upgrade", empty_database, "head")
    alembic_command("downgrade", empty_database, "base")
    alembic_command("upgrade", empty_database, "head")

    assert schema_differences(empty_database) == []


def test_the_migrated_schema_equals_the_models(empty_database):
    alembic_command("upgrade", empty_database, "head")

    assert schema_differences(empty_database) == []


def test_migrations_started_together_in_one_process_all_reach_head(worker_id, tmp_path):
    """Alembic keeps the running migration in module globals: runtimes starting together, or a test
    session migrating two databases from two threads (the worker-restart stack's, in the background,
    and the in-process one), must not clobber each other's (one hung, the other lost its context)."""
    failures: list[BaseException] = []

    def migrate_to_head(url: str) -> None:
        try:
            alembic_command("upgrade", url, "head")
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    for round_ in range(3):
        urls = [worker_database_url(f"{worker_id}_twin{round_}{n}", tmp_path) for n in range(2)]
        threads = [threading.Thread(target=migrate_to_head, args=(url,), daemon=True) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert not any(thread.is_alive() for thread in threads), f"round {round_}: a migration hung"
        assert failures == [], f"round {round_}: {failures!r}"
        assert [schema_differences(url) for url in urls] == [[], []]


# -- one active job per task ----------------------------------------------------------------------------------
# The migration to one queued or running job per task: a database that concurrent assignments left with
# two active jobs of a task upgrades (the duplicates are retired, a running job kept before a queued one),
# downgrades and upgrades again.

EARLY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def database_before_the_index(worker_id, tmp_path) -> str:
    url = worker_database_url(f"{worker_id}_jobidx{next(_serial)}", tmp_path)
    alembic_command("upgrade", url, "0002")
    return url


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
