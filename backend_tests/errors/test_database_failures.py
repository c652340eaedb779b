"""The database failing under a request: a 503 that says so, nothing half-written, and the next request works.

On PostgreSQL, backend_tests/errors/test_live_recovery.py drops the server's connections for real; here
the failure comes from the driver at the moment a statement is sent, as a lost connection or a full disk
shows itself, and works on SQLite too.
"""

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from app.models import Task
from fixtures.factories import task_data
from fixtures.squads import make_squad

pytestmark = [pytest.mark.errors, pytest.mark.priority_p0]


class FailingWrites:
    """Makes the next `count` INSERT statements of a connection fail as the driver would."""

    def __init__(self, count: int) -> None:
        self.left = count

    def __call__(self, connection, cursor, statement: str, parameters, context, executemany) -> None:
        if self.left and statement.lstrip().upper().startswith("INSERT"):
            self.left -= 1
            raise OperationalError(statement, parameters, sqlite3.OperationalError("disk I/O error"))


@pytest.fixture
def failing_writes(db_connection) -> Iterator[FailingWrites]:
    failing = FailingWrites(0)
    event.listen(db_connection.sync_connection, "before_cursor_execute", failing)
    yield failing
    event.remove(db_connection.sync_connection, "before_cursor_execute", failing)


async def count_tasks(db_session, squad_id: str) -> int:
    return await db_session.scalar(select(func.count()).select_from(Task).where(Task.squad_id == squad_id))


async def test_a_write_the_database_refuses_is_a_503_and_the_retry_succeeds(
    app_client, fake_github, db_session, failing_writes
):
    api = await make_squad(app_client, fake_github)
    failing_writes.left = 2

    refused = [await api.call("POST", "/api/v1/tasks", json=task_data()) for _ in range(2)]
    stored_meanwhile = await count_tasks(db_session, api.squad["id"])
    retried = await api.call("POST", "/api/v1/tasks", json=task_data(title="written once the database is back"))

    for response in refused:
        assert response.status_code == 503, response.text
        assert response.json() == {"detail": "the database is unavailable; try again"}
    assert stored_meanwhile == 0, "a refused write must leave nothing behind"
    assert retried.status_code == 201, retried.text
    assert await count_tasks(db_session, api.squad["id"]) == 1


async def test_a_read_during_a_database_failure_is_a_503_not_a_traceback(app_client, fake_github, db_connection):
    api = await make_squad(app_client, fake_github)

    def fail_every_statement(connection, cursor, statement, parameters, context, executemany) -> None:
        raise OperationalError(statement, parameters, sqlite3.OperationalError("unable to open database file"))

    event.listen(db_connection.sync_connection, "before_cursor_execute", fail_every_statement)
    try:
        response = await api.call("GET", "/api/v1/tasks")
    finally:
        event.remove(db_connection.sync_connection, "before_cursor_execute", fail_every_statement)

    assert response.status_code == 503, response.text
    assert "SELECT" not in response.text and "Traceback" not in response.text
    assert (await api.call("GET", "/api/v1/tasks")).status_code == 200
