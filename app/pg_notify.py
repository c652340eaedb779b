"""PostgreSQL LISTEN for "events were stored", so streams on every app instance wake at once.

app/events.py sends `NOTIFY squad_events, '<origin>:<squad id>'` with every transaction that stores
events. This listener holds one connection of its own (asyncpg, outside the pool: LISTEN needs a
connection that stays put), and wakes the event fan-out of this process when another process stored
events of a squad that has open streams here. Its own process's notifications are ignored:
`EventSignal` already told the fan-out.

A lost connection (a restarted server, `pg_terminate_backend`) is replaced after a short pause,
and the fan-out reads once after every (re)connection, so nothing stored meanwhile waits for the
poll. While no listener is connected the fan-out's poll interval still finds every event.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.background_task import BackgroundTask
from app.events import EVENTS_CHANNEL, PROCESS_ORIGIN

log = logging.getLogger(__name__)

# Pause before reconnecting a lost listener connection.
RECONNECT_DELAY_S = 1.0
# How often a quiet listener connection is checked.
HEALTH_CHECK_S = 30.0


def asyncpg_dsn(database_url: str) -> str:
    """The libpq-style URL asyncpg connects with, from SQLAlchemy's `postgresql+asyncpg://...`."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgEventListener(BackgroundTask):
    def __init__(
        self,
        database_url: str,
        wake: Callable[[], None],
        watches: Callable[[str], bool],
        *,
        channel: str = EVENTS_CHANNEL,
        origin: str = PROCESS_ORIGIN,
        reconnect_delay_s: float = RECONNECT_DELAY_S,
    ) -> None:
        super().__init__("pg-event-listener")
        self._dsn = asyncpg_dsn(database_url)
        self._wake = wake
        self._watches = watches
        self._channel = channel
        self._origin = origin
        self._reconnect_delay_s = reconnect_delay_s
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self.notifications = 0  # from other processes, for tests
        self.connections = 0

    @property
    def listening(self) -> bool:
        return self._connected.is_set()

    async def wait_listening(self) -> None:
        """Returns once the listener is connected (callers bound it with a deadline)."""
        await self._connected.wait()

    async def wait_not_listening(self) -> None:
        """Returns once the listener has no connection (callers bound it with a deadline)."""
        await self._disconnected.wait()

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        origin, _, squad_id = payload.partition(":")
        if origin == self._origin:
            return
        self.notifications += 1
        if self._watches(squad_id):
            self._wake()

    async def _run(self) -> None:
        while True:
            try:
                await self._listen_once()
                log.warning("the event listener's PostgreSQL connection closed; reconnecting")
            except Exception as error:  # whatever broke the connection, the listener carries on
                log.warning("the event listener has no PostgreSQL connection (%r); reconnecting", error)
            # A pause between attempts, so a database that is down is not hammered.
            await asyncio.sleep(self._reconnect_delay_s)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            await connection.add_listener(self._channel, self._on_notification)
            self.connections += 1
            self._disconnected.clear()
            self._connected.set()
            self._wake()  # events stored while nobody listened are read now, not at the next poll
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):  # asyncio.timeout: see EventHub._read_forever
                    async with asyncio.timeout(HEALTH_CHECK_S):
                        await lost.wait()
                if not lost.is_set():
                    await connection.fetchval("SELECT 1")  # raises when the connection died silently
        finally:
            self._connected.clear()
            self._disconnected.set()
            if not connection.is_closed():
                connection.terminate()
