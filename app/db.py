"""Database engine and sessions for SQLite (embedded default) and PostgreSQL."""

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# A process's connections to a SQLite file. Each transaction there takes the file's one write lock
# (BEGIN IMMEDIATE, below), so a second connection's transaction could only wait for it, and it
# waits in SQLite's busy handler: asleep for 1 to 100 ms at a time, waking to find the lock taken
# again. Many writers of one process queued that way had tails of half a second (50 new tasks a
# second beside 5,000 streams: POST p95 540 ms, events delivered at p99 310 ms; with one
# connection, 230 ms). With one connection they queue in the pool instead, first come first served,
# and each starts the moment the last one ends. Other processes (more web processes, the worker)
# still meet in the busy handler, and so does a lease renewal, which has a connection of its own
# to bound its wait (app/runtime.py).
WRITERS_PER_PROCESS = 1
# How long a transaction waits for a lock (SQLite's write lock, a PostgreSQL row lock) by default.
LOCK_WAIT_S = 30.0
# The execution option that bounds it for one transaction, given when its connection is taken
# (`session.connection(execution_options=lock_wait(s))` before the session's first statement): work
# that would rather fail fast and try again than queue behind the other writers (a lease renewal).
_LOCK_WAIT_OPTION = "squad_lock_wait_s"
# Where a SQLite connection remembers the busy timeout last set on it.
_BUSY_TIMEOUT_MS = "squad_busy_timeout_ms"


def lock_wait(seconds: float) -> dict[str, Any]:
    """Execution options under which a transaction waits at most `seconds` for a lock, then fails."""
    return {_LOCK_WAIT_OPTION: seconds}


def create_engine(database_url: str, echo: bool = False) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
        _bound_postgresql_lock_waits(engine)
        return engine

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": LOCK_WAIT_S}, pool_size=WRITERS_PER_PROCESS, max_overflow=0
    )
    _use_explicit_sqlite_transactions(engine)
    return engine


def _bound_postgresql_lock_waits(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection):
        wait_s = connection.get_execution_options().get(_LOCK_WAIT_OPTION)
        if wait_s is not None:
            # Local to the transaction: the pooled connection goes back with the server's default.
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(wait_s * 1000))}")


def _use_explicit_sqlite_transactions(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 driver, open transactions.

    The driver's own transaction handling breaks SAVEPOINT (which per-test isolation needs), and a
    deferred BEGIN that later writes can fail at once with "database is locked" instead of waiting
    for the busy timeout; BEGIN IMMEDIATE waits.
    """

    default_ms = int(LOCK_WAIT_S * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={default_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        record.info[_BUSY_TIMEOUT_MS] = default_ms

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection):
        # The busy timeout belongs to the connection, not the transaction: set it for each transaction
        # that asks for another one, and back to the default for the next that does not.
        wait_s = connection.get_execution_options().get(_LOCK_WAIT_OPTION)
        wanted_ms = default_ms if wait_s is None else max(1, int(wait_s * 1000))
        info = connection.connection.info
        if info.get(_BUSY_TIMEOUT_MS) != wanted_ms:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={wanted_ms}")
            info[_BUSY_TIMEOUT_MS] = wanted_ms
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
