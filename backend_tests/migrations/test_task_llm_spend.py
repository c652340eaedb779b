"""The migration that gives tasks what their agent spent on the LLM (tokens and USD): tasks stored
before it spent nothing, and it upgrades, downgrades and upgrades again with rows present. Runs on
SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""

from datetime import UTC, datetime

import pytest

from app.runtime import alembic_command
from fixtures.databases import query, revision_before

pytestmark = [pytest.mark.migrations, pytest.mark.priority_p1]

REVISION = "0005"


def test_tasks_stored_before_the_migration_spent_nothing_and_keep_through_downgrade_and_upgrade(database):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    alembic_command("upgrade", database, revision_before(REVISION))
    query(database, "INSERT INTO squads VALUES ('s1', 'Squad', 'acme/widgets', 'hash', :now)", now=now)
    query(
        database,
        "INSERT INTO tasks (id, squad_id, title, description, status, created_at, updated_at) "
        "VALUES ('t1', 's1', 'Task', '', 'review', :now, :now)",
        now=now,
    )

    alembic_command("upgrade", database, REVISION)
    assert query(database, "SELECT id, prompt_tokens, completion_tokens, cost_usd FROM tasks") == [("t1", 0, 0, 0.0)]
    query(database, "UPDATE tasks SET prompt_tokens = 1200, completion_tokens = 80, cost_usd = 0.25")

    alembic_command("downgrade", database, revision_before(REVISION))
    columns = query(database, "SELECT * FROM tasks")
    assert len(columns) == 1 and 1200 not in columns[0], "the downgrade drops the spend columns"

    alembic_command("upgrade", database, REVISION)
    assert query(database, "SELECT id, status, prompt_tokens, cost_usd FROM tasks") == [("t1", "review", 0, 0.0)]
