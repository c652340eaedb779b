"""The migration that gives tasks what their agent spent on the LLM (tokens and USD): tasks stored
before it spent nothing, and it upgrades, downgrades and upgrades again with rows present. Runs on
SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""

import itertools
from datetime import UTC, datetime

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.runtime import MIGRATIONS_INI, alembic_command
from fixtures.databases import query, worker_database_url

pytestmark = [pytest.mark.migrations, pytest.mark.priority_p1]

REVISION = "0005"
_serial = itertools.count()


def previous_revision() -> str:
    """The revision this one follows, as the migration itself says."""
    revision = ScriptDirectory.from_config(Config(str(MIGRATIONS_INI))).get_revision(REVISION)
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


@pytest.fixture
def database(worker_id, tmp_path) -> str:
    return worker_database_url(f"{worker_id}_spend{next(_serial)}", tmp_path)


def test_tasks_stored_before_the_migration_spent_nothing_and_keep_through_downgrade_and_upgrade(database):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    alembic_command("upgrade", database, previous_revision())
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

    alembic_command("downgrade", database, previous_revision())
    columns = query(database, "SELECT * FROM tasks")
    assert len(columns) == 1 and 1200 not in columns[0], "the downgrade drops the spend columns"

    alembic_command("upgrade", database, REVISION)
    assert query(database, "SELECT id, status, prompt_tokens, cost_usd FROM tasks") == [("t1", "review", 0, 0.0)]
