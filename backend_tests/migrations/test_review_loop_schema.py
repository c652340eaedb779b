"""The migration of the review loop (the deliveries applied, the review requests, the review round of a task
and the kind of a job): rows stored before it are first runs with no review, and it upgrades, downgrades
and upgrades again with rows present. Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from app.db import create_engine
from app.runtime import alembic_command
from fixtures.databases import query, revision_before

pytestmark = [pytest.mark.migrations, pytest.mark.priority_p1]

REVISION = "0006"
NEW_TABLES = {"webhook_deliveries", "review_requests"}


def tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_tasks_and_jobs_stored_before_are_first_runs_and_keep_through_downgrade_and_upgrade(database):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    alembic_command("upgrade", database, revision_before(REVISION))
    query(database, "INSERT INTO squads VALUES ('s1', 'Squad', 'acme/widgets', 'hash', :now)", now=now)
    query(
        database,
        "INSERT INTO tasks (id, squad_id, title, description, status, pr_number, created_at, updated_at) "
        "VALUES ('t1', 's1', 'Task', '', 'review', 7, :now, :now)",
        now=now,
    )
    query(
        database,
        "INSERT INTO jobs (id, task_id, state, attempts, created_at, updated_at) "
        "VALUES ('j1', 't1', 'done', 1, :now, :now)",
        now=now,
    )

    alembic_command("upgrade", database, REVISION)
    assert query(database, "SELECT review_round, pr_head_sha, pr_updated_at FROM tasks") == [(0, None, None)]
    assert query(database, "SELECT kind FROM jobs") == [("work",)]
    assert NEW_TABLES <= tables(database)
    query(
        database,
        "INSERT INTO webhook_deliveries (guid, event, action, task_id, received_at) "
        "VALUES ('g1', 'pull_request', 'closed', 't1', :now)",
        now=now,
    )
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        query(
            database,
            "INSERT INTO webhook_deliveries (guid, event, action, task_id, received_at) "
            "VALUES ('g1', 'pull_request', 'closed', 't1', :now)",
            now=now,
        )

    alembic_command("downgrade", database, revision_before(REVISION))
    assert not NEW_TABLES & tables(database)
    assert query(database, "SELECT id, status, pr_number FROM tasks") == [("t1", "review", 7)]
    assert query(database, "SELECT id, state FROM jobs") == [("j1", "done")]

    alembic_command("upgrade", database, "head")
    assert query(database, "SELECT review_round FROM tasks") == [(0,)]
    assert query(database, "SELECT kind FROM jobs") == [("work",)]
