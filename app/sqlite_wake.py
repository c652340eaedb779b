"""SQLite's counterpart of app/pg_notify.py: wakes this process's event fan-out soon after another
process commits to the same database file, so a stream served by one web process sees the events
another one stored within milliseconds instead of at the fan-out's next poll.

SQLite has no LISTEN; it has `PRAGMA data_version`, which changes on a connection whenever any
other connection has committed since the last time it was asked. The listener asks on a read-only
connection of its own every CHECK_INTERVAL_S, from the first stream opened here on. The question reads
a counter in the WAL index held in shared memory, so it costs a few microseconds and is asked on the
event loop itself (a hand-off to a thread would cost more). A change wakes the hub, which reads
the table as it does on any wake: a commit without events costs one cheap read that finds nothing.
"""

import asyncio
import logging
import sqlite3
from collections.abc import Callable

from sqlalchemy.engine import make_url

from app.background_task import BackgroundTask

log = logging.getLogger(__name__)

# How long a commit in another process may go unnoticed: the added delivery delay of its events.
CHECK_INTERVAL_S = 0.02


def sqlite_file(database_url: str) -> str | None:
    """The path of a SQLite database file; None for any other database and for in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database


class SqliteChangeListener(BackgroundTask):
    def __init__(
        self,
        path: str,
        wake: Callable[[], None],
        _watches: Callable[[str], bool],
        *,
        interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        super().__init__("sqlite-change-listener")
        self._path = path
        self._wake = wake
        self._interval_s = interval_s
        self.changes = 0  # commits noticed, for tests

    async def _run(self) -> None:
        connection = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, check_same_thread=False)
        try:
            seen = _data_version(connection)
            while True:
                await asyncio.sleep(self._interval_s)
                try:
                    version = _data_version(connection)
                except sqlite3.Error:
                    # The file is busy for a moment (a checkpoint): the fan-out's poll still runs.
                    log.debug("could not read the database's data_version; asking again", exc_info=True)
                    continue
                if version != seen:
                    seen = version
                    self.changes += 1
                    self._wake()
        finally:
            connection.close()


def _data_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA data_version").fetchone()
    return int(row[0])
