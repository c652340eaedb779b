"""Event fan-out: one reader per process hands each new event to every open stream of its squad.

Without it, every open stream re-read the events table whenever anything was stored, so one event
cost one query per subscriber: 1,000 open boards meant 1,000 queries per event, each holding
SQLite's write lock (BEGIN IMMEDIATE) while it ran. Now:

- The hub reads the events stored since its high-water mark once, for all squads, when woken:
  by the `EventSignal` that commits of events notify in this process (app/events.py), by a
  PostgreSQL NOTIFY from another process (app/pg_notify.py), or by the poll interval as the
  fallback (SQLite, a lost listener).
- Each subscription gets the events of its squad (and its agent/task filter) in memory, in id
  order, encoded once for all, without waiting on any other subscriber: the hub only appends to
  a bounded buffer, and each stream writes to its own client at its own pace.
- The database stays the source of truth. A subscription first replays what it missed from the
  table (Last-Event-ID), in short sessions of one page each, then follows the hub. A subscriber so
  slow that its buffer overflows neither slows the others down nor holds memory: its buffer is
  dropped and it replays from the table again where it stopped.

Why nothing is lost or repeated: event ids become visible in id order (app/events.py), the hub is
at its high-water mark before any subscription registers, and a subscription registers before its
replay reads the table. Whatever the replay does not see was committed after it, so the hub reads
it later and buffers it; whatever both deliver is skipped by id.
"""

import asyncio
import contextlib
import functools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sse_starlette import ServerSentEvent

from app.db import runs_to_completion
from app.events import EventSignal, event_payload, events_after, events_of_all_squads_after, latest_event_id
from app.models import Event
from app.pg_notify import PgEventListener
from app.read_only import reader_sessionmaker, sqlite_reader_engine
from app.sqlite_wake import SqliteChangeListener, sqlite_file

log = logging.getLogger(__name__)

# Rows per query, for the hub and for replays.
PAGE_SIZE = 500
# The fan-out's own PostgreSQL connections: the hub's reads, and the replays and token checks of
# streams as they open (a burst of a thousand at once waits for these, not for the API's pool).
POSTGRES_READER_POOL_SIZE = 5
POSTGRES_READER_MAX_OVERFLOW = 10
# Events a subscription may have waiting before it is sent back to the table to catch up.
MAX_PENDING = 2000


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One stored event, encoded once as the SSE message every subscriber sends as is."""

    id: int
    squad_id: str
    agent_id: str | None
    task_id: str | None
    message: bytes

    @classmethod
    def of(cls, event: Event) -> "StreamEvent":
        encoded = ServerSentEvent(id=str(event.id), data=json.dumps(event_payload(event))).encode()
        return cls(event.id, event.squad_id, event.agent_id, event.task_id, encoded)


class DatabaseListener(Protocol):
    """Wakes the hub when another process stored events (app/pg_notify.py on PostgreSQL)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


# Makes the hub's DatabaseListener from the hub's `wake` and `watches` (whether a squad has streams here).
ListenerFactory = Callable[[Callable[[], None], Callable[[str], bool]], DatabaseListener]


class Subscription:
    """One stream's view of its squad's events: replayed from the table, then fed by the hub."""

    def __init__(
        self, hub: "EventHub", squad_id: str, after_id: int, agent_id: str | None, task_id: str | None
    ) -> None:
        self._hub = hub
        self.squad_id = squad_id
        self.agent_id = agent_id
        self.task_id = task_id
        self.cursor = after_id  # the last id delivered
        self._pending: deque[StreamEvent] = deque()
        self._ready = asyncio.Event()
        # Catch up from the table before trusting the buffer: at the start, and after an overflow.
        self._behind = True
        self.replays = 0

    def wants(self, event: StreamEvent) -> bool:
        return (self.agent_id is None or event.agent_id == self.agent_id) and (
            self.task_id is None or event.task_id == self.task_id
        )

    def offer(self, event: StreamEvent) -> None:
        """Called by the hub, never blocks: buffer the event, or fall behind when the buffer is full."""
        if self._behind or event.id <= self.cursor or not self.wants(event):
            return
        if len(self._pending) >= self._hub.max_pending:
            self._pending.clear()
            self._behind = True
        else:
            self._pending.append(event)
        self._ready.set()

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The squad's events after the resume point, in id order, each once; never ends by itself."""
        while True:
            if self._behind:
                self._behind = False
                self._pending.clear()
                self.replays += 1
                async for event in self._hub.replay(self):
                    self.cursor = event.id
                    yield event
                continue
            while self._pending and not self._behind:
                event = self._pending.popleft()
                if event.id > self.cursor:
                    self.cursor = event.id
                    yield event
            if not self._pending and not self._behind:
                self._ready.clear()
                await self._ready.wait()


class EventHub:
    """The per-process reader of the events table, and the registry of open subscriptions.

    Complete once constructed: woken by `signal` from then on, and by the database listener that
    `listen` makes, when given. Its reader starts with the first subscription and stops at `close`.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        signal: EventSignal,
        *,
        poll_interval_s: float,
        listen: ListenerFactory | None = None,
        reader_engine: AsyncEngine | None = None,
        max_pending: int = MAX_PENDING,
        page_size: int = PAGE_SIZE,
    ) -> None:
        """`reader_engine`: the engine of `sessionmaker` when it is the hub's own, disposed with the hub."""
        self.sessionmaker = sessionmaker
        self._signal = signal
        self._poll_interval_s = poll_interval_s
        self.reader_engine = reader_engine
        self.max_pending = max_pending
        self.page_size = page_size
        self._by_squad: dict[str, set[Subscription]] = {}
        self._wake = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self.high_water = 0
        # Counters, for tests: how often the hub read the table, and how many events it handed out.
        self.reads = 0
        self.offered = 0
        self.listener = listen(self.wake, self.watches) if listen is not None else None
        self._signal.add_listener(self.wake)

    @property
    def subscriber_count(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._by_squad.values())

    def watches(self, squad_id: str) -> bool:
        return squad_id in self._by_squad

    def wake(self) -> None:
        """Read the table soon (coalesced: many wakes during one read cause one more read)."""
        self._wake.set()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, squad_id: str, after_id: int = 0, *, agent_id: str | None = None, task_id: str | None = None
    ) -> AsyncIterator[Subscription]:
        await self._start()
        subscription = Subscription(self, squad_id, after_id, agent_id, task_id)
        self._by_squad.setdefault(squad_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscriptions = self._by_squad.get(squad_id)
            if subscriptions is not None:
                subscriptions.discard(subscription)
                if not subscriptions:
                    del self._by_squad[squad_id]

    async def replay(self, subscription: Subscription) -> AsyncIterator[StreamEvent]:
        """The subscription's events after its cursor, from the table, a page per short session."""
        cursor = subscription.cursor
        while True:
            page = await self._replay_page(subscription, cursor)
            for event in page:
                cursor = event.id
                yield event
            if len(page) < self.page_size:
                return

    @runs_to_completion
    async def _replay_page(self, subscription: Subscription, cursor: int) -> list[StreamEvent]:
        async with self.sessionmaker() as session:
            rows = await events_after(
                session,
                subscription.squad_id,
                cursor,
                agent_id=subscription.agent_id,
                task_id=subscription.task_id,
                limit=self.page_size,
            )
            return [StreamEvent.of(row) for row in rows]

    async def _start(self) -> None:
        if self._reader is not None:
            return
        async with self._starting:
            if self._reader is not None:
                return
            # The high-water mark is set before the first subscription registers (see the module doc).
            self.high_water = await self._latest_event_id()
            if self.listener is not None:
                await self.listener.start()
            self._reader = asyncio.create_task(self._read_forever(), name="event-fanout")

    async def _read_forever(self) -> None:
        while True:
            self._wake.clear()
            if self._by_squad:
                try:
                    await self._read_new()
                except Exception:
                    # The database went away for a moment: streams keep waiting, the next wake retries.
                    log.exception("the event fan-out could not read new events; retrying on the next wake")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the wake does, and the hub would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval_s):
                    await self._wake.wait()

    async def _read_new(self) -> None:
        while True:
            rows = await self._events_after_high_water()
            # Encoded once here, for every subscriber; events of squads nobody watches are skipped.
            page = [StreamEvent.of(row) for row in rows if row.squad_id in self._by_squad]
            self.reads += 1
            if rows:
                self.high_water = rows[-1].id
            for event in page:
                for subscription in self._by_squad.get(event.squad_id, ()):
                    subscription.offer(event)
                    self.offered += 1
            if len(rows) < self.page_size:
                return

    @runs_to_completion
    async def _latest_event_id(self) -> int:
        async with self.sessionmaker() as session:
            return await latest_event_id(session)

    @runs_to_completion
    async def _events_after_high_water(self) -> list[Event]:
        async with self.sessionmaker() as session:
            return await events_of_all_squads_after(session, self.high_water, limit=self.page_size)

    async def close(self) -> None:
        self._signal.remove_listener(self.wake)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self.listener is not None:
            await self.listener.close()
        if self.reader_engine is not None:
            await self.reader_engine.dispose()


def postgres_reader_engine(database_url: str) -> AsyncEngine:
    """The fan-out's reads on PostgreSQL: autocommit, so a read is one round trip (no BEGIN and
    ROLLBACK around it, no pre-ping on checkout), on a pool of its own that the API and workers
    cannot starve. Each statement sees what was committed before it, which is all the hub and
    the replays need. A connection lost with a restarted server fails one read; SQLAlchemy then
    replaces the pool's connections and the next wake reads again."""
    return create_async_engine(
        database_url,
        isolation_level="AUTOCOMMIT",
        # Refuses writes, like the SQLite readers: nothing reaches the table through the fan-out.
        connect_args={"server_settings": {"default_transaction_read_only": "on"}},
        pool_size=POSTGRES_READER_POOL_SIZE,
        max_overflow=POSTGRES_READER_MAX_OVERFLOW,
    )


def event_hub(
    sessionmaker: async_sessionmaker[AsyncSession],
    signal: EventSignal,
    *,
    poll_interval_s: float,
    database_url: str | None = None,
) -> EventHub:
    """The hub of one runtime. With the runtime's `database_url` it reads through sessions that do not
    take SQLite's write lock (app/read_only.py) or, on PostgreSQL, autocommit reads on a pool of their
    own (`postgres_reader_engine`), and is woken by other processes' commits too (PostgreSQL's
    NOTIFY, SQLite's data_version: app/sqlite_wake.py); without one (a runtime bound to a test's
    transaction) it reads through `sessionmaker`."""
    if database_url is not None and make_url(database_url).get_backend_name() == "postgresql":
        engine = postgres_reader_engine(database_url)
        return EventHub(
            reader_sessionmaker(engine),
            signal,
            poll_interval_s=poll_interval_s,
            listen=functools.partial(PgEventListener, database_url),
            reader_engine=engine,
        )
    readers = sqlite_reader_engine(database_url) if database_url is not None else None
    path = sqlite_file(database_url) if database_url is not None else None
    return EventHub(
        reader_sessionmaker(readers) if readers is not None else sessionmaker,
        signal,
        poll_interval_s=poll_interval_s,
        # Other processes on the same file (web workers, `python -m app worker`) commit events too.
        listen=functools.partial(SqliteChangeListener, path) if path is not None else None,
        reader_engine=readers,
    )
