"""Database engine and sessions for SQLite (embedded default) and PostgreSQL."""

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def create_engine(database_url: str, echo: bool = False) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
    _use_explicit_sqlite_transactions(engine)
    return engine


def _use_explicit_sqlite_transactions(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 driver, open transactions.

    The driver's own transaction handling breaks SAVEPOINT (which per-test isolation needs), and a
    deferred BEGIN that later writes can fail at once with "database is locked" instead of waiting
    for the busy timeout; BEGIN IMMEDIATE waits.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine, info: dict[str, Any] | None = None) -> async_sessionmaker[AsyncSession]:
    """`info` is every session's own copy of it (app/events.py keeps the signal its commits wake there)."""
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


P = ParamSpec("P")
T = TypeVar("T")


async def finish_then_cancel(work: Awaitable[T]) -> T:
    """Await `work` to its end even when the caller is cancelled meanwhile, once or many times; then
    let the cancellation through.

    A unit of work cut by cancellation makes SQLAlchemy terminate its connection, and a second
    cancellation during that (a stop whose grace runs out) races aiosqlite's close with its stop: the
    close never finishes, so the process cannot exit, and the connection can be lost with SQLite's
    write lock held, so every writer waits out the busy timeout and fails. A transaction takes
    milliseconds; waiting for it costs a stop nothing.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


def runs_to_completion(unit_of_work: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Mark a coroutine function that opens a session as one unit of work no cancellation cuts short
    (`finish_then_cancel`): the background tasks (workers, pipelines, the reaper, the event fan-out)
    are stopped by cancellation, and their database writes must not be cut by it."""

    @functools.wraps(unit_of_work)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await finish_then_cancel(unit_of_work(*args, **kwargs))

    return run
