"""Read-only sessions for the event fan-out that, on SQLite, do not take the write lock.

The platform's sessions begin with BEGIN IMMEDIATE (app/db.py), so on SQLite every session is a
writer: a read waits for the write lock and holds it, and the busy handler's back-off turns that
queue into long tails. The fan-out only reads (replays for new streams, the hub's reads of new
events), so it gets an engine of its own whose transactions begin DEFERRED on connections that
refuse writes (`PRAGMA query_only`). In WAL mode such readers neither wait for the writer nor
hold it up. On PostgreSQL reads never block writes, and the platform's sessions are used as they are.
"""

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# Readers open connections as they need them; WAL lets them all read at once.
READER_POOL_SIZE = 5
READER_MAX_OVERFLOW = 10


def sqlite_reader_engine(database_url: str) -> AsyncEngine | None:
    """An engine of read-only, deferred transactions on the same SQLite file; None for other databases
    (and for in-memory SQLite, whose contents another engine cannot see)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30},
        pool_size=READER_POOL_SIZE,
        max_overflow=READER_MAX_OVERFLOW,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, begins transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN DEFERRED")

    return engine


def reader_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
