"""The board's reads on SQLite, run on the event loop itself instead of through aiosqlite.

aiosqlite runs every call of a connection on a thread of its own: a read of one page of tasks is
about nine hand-offs there and back (take the connection, BEGIN, cursor, execute, fetch, close,
rollback), and each hand-off wakes a thread and passes the interpreter's lock twice. Under load
those hand-offs cost more CPU than the query. A read of a few rows from a local file in WAL mode
takes tens of microseconds and never waits for a writer, so running it right where the request is
served costs less than handing it off.

Only reads go this way (the connection is `query_only`), only on a SQLite file the runtime owns,
and never longer than a short busy timeout: a read that would wait for the rare lock a WAL reader
meets (the WAL being reset, or recovered after a crash) gives up at once and is read again through
the request's own session, so the event loop is never held up.
"""

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.sqlite_wake import sqlite_file

log = logging.getLogger(__name__)

# How long a read may wait for a lock before it is handed to the request's session instead.
BUSY_TIMEOUT_MS = 20


class InlineReader:
    """Reads through one synchronous, read-only connection to the runtime's SQLite file."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Reads that met a lock and went through the request's session: for tests and logs.
        self.handed_off = 0

    @classmethod
    def for_database(cls, database_url: str) -> "InlineReader | None":
        """A reader for a SQLite file; None for any other database (their drivers do not block the
        loop this way, or cannot run on it) and for in-memory SQLite (another connection sees nothing)."""
        path = sqlite_file(database_url)
        if path is None:
            return None
        url = make_url(database_url)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            # One connection: reads run one at a time on the loop's thread.
            pool_size=1,
            max_overflow=0,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, begins transactions
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN DEFERRED")

        return cls(engine)

    def rows(self, query: Executable) -> Sequence[Row[Any]] | None:
        """The query's rows, or None when the file was locked (read it through a session then)."""
        try:
            with self.engine.connect() as connection:
                return connection.execute(query).all()
        except OperationalError as error:
            if "locked" not in str(error.orig) and "busy" not in str(error.orig):
                raise
            self.handed_off += 1
            log.info("a board read met a lock; reading it through the request's session instead")
            return None

    def close(self) -> None:
        self.engine.dispose()


async def read_rows(reader: InlineReader | None, session: AsyncSession, query: Executable) -> Sequence[Row[Any]]:
    """The rows of a read-only query: inline when the runtime has a reader, else through `session`."""
    if reader is not None:
        rows = reader.rows(query)
        if rows is not None:
            return rows
    return (await session.execute(query)).all()
