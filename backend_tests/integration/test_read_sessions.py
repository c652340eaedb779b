"""On SQLite, requests that only read get sessions that cannot write, so they never take the write lock."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.requests import Request

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


@pytest.fixture
async def sqlite_app(tmp_path):
    """The app with a runtime of its own on a SQLite file (the in-process tests share one transaction)."""
    from app.main import attach_runtime, create_app
    from app.runtime import Runtime, migrate
    from app.settings import Settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}"
    await asyncio.to_thread(migrate, url)  # Alembic runs its own event loop
    settings = Settings(database_url=url, squad_auto_migrate=False, squad_run_worker=False)
    async with Runtime(settings) as runtime:
        app = create_app(settings)
        attach_runtime(app, runtime)
        yield app


async def write_through_the_session_of(app, method: str) -> None:
    from app.api.deps import get_session

    request = Request({"type": "http", "method": method, "app": app, "headers": []})
    sessions = get_session(request)
    session = await anext(sessions)
    try:
        await session.execute(text("CREATE TABLE probe (n INTEGER)"))
        await session.rollback()
    finally:
        await sessions.aclose()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_reading_request_gets_a_session_that_refuses_writes(sqlite_app, method):
    with pytest.raises(OperationalError, match="readonly"):
        await write_through_the_session_of(sqlite_app, method)


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_a_writing_request_gets_a_session_that_writes(sqlite_app, method):
    await write_through_the_session_of(sqlite_app, method)
