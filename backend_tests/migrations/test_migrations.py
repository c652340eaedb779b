"""Alembic migrations: upgrade, downgrade and upgrade again with rows present, and a schema equal
to the models. Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (`make test` does)."""

import asyncio
import itertools
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.db import create_engine
from app.models import Base
from app.runtime import alembic_command
from fixtures.databases import worker_database_url

pytestmark = [pytest.mark.migrations, pytest.mark.priority_p1]

_serial = itertools.count()


@pytest.fixture
def empty_database(worker_id, tmp_path) -> str:
    return worker_database_url(f"{worker_id}_mig{next(_serial)}", tmp_path)


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
