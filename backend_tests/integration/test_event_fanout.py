"""The event fan-out (app/fanout.py) on a database of its own, with real commits.

The in-process tests' rolled-back transaction cannot show this: the fan-out reads committed rows
from its own sessions, and PostgreSQL sends a NOTIFY only when a transaction commits.
"""

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable

import anyio
import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fixtures.waiting import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

# Long enough that an event arriving within a test's deadline was not found by the poll.
NO_POLL_S = 60.0


@pytest.fixture
async def engine(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    from app.db import create_engine

    engine = create_engine(module_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from app.db import create_sessionmaker

    return create_sessionmaker(engine)


@pytest.fixture
def is_postgres(module_database_url: str) -> bool:
    return make_url(module_database_url).get_backend_name() == "postgresql"


@pytest.fixture
async def squad_id(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    from app.models import Squad

    async with sessionmaker() as session:
        squad = Squad(name=f"fanout-{uuid.uuid4().hex[:8]}", repository="acme/widgets", token_hash=uuid.uuid4().hex)
        session.add(squad)
        await session.commit()
        return squad.id


async def store_events(sessionmaker: async_sessionmaker[AsyncSession], squad_id: str, count: int, **ids) -> None:
    """`count` events in one transaction, committed, without telling anyone (as another process would)."""
    from app.events import record_event

    async with sessionmaker() as session:
        for number in range(count):
            await record_event(session, squad_id, "test.event", {"n": number}, **ids)
        await session.commit()


@contextlib.asynccontextmanager
async def hub_of(
    sessionmaker: async_sessionmaker[AsyncSession], *, poll_interval_s: float = NO_POLL_S, **options
) -> AsyncIterator[tuple]:
    from app.events import EventSignal
    from app.fanout import EventHub

    signal = EventSignal()
    hub = EventHub(sessionmaker, signal, poll_interval_s=poll_interval_s, **options)
    try:
        yield hub, signal
    finally:
        await hub.close()


class Reader:
    """Consumes one subscription in a task, recording event ids; `gate` pauses it between events."""

    def __init__(self, hub, squad_id: str, after_id: int = 0, **filters) -> None:
        self.ids: list[int] = []
        self.subscription = None
        self.gate = asyncio.Event()
        self.gate.set()
        self.changed = asyncio.Condition()
        self._task = asyncio.create_task(self._read(hub, squad_id, after_id, filters))

    async def _read(self, hub, squad_id: str, after_id: int, filters: dict) -> None:
        async with hub.subscribe(squad_id, after_id, **filters) as subscription:
            self.subscription = subscription
            async with self.changed:
                self.changed.notify_all()
            async for event in subscription.events():
                await self.gate.wait()
                async with self.changed:
                    self.ids.append(event.id)
                    self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[list[int]], bool], what: str, deadline_s: float = 10.0) -> None:
        try:
            with anyio.fail_after(deadline_s):
                async with self.changed:
                    await self.changed.wait_for(lambda: predicate(self.ids))
        except TimeoutError:
            raise AssertionError(f"waited {deadline_s:g} s for {what}; the reader has {self.ids}") from None

    async def wait_subscribed(self) -> None:
        await self.wait_for(lambda _ids: self.subscription is not None, "the subscription")

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def event_ids(sessionmaker: async_sessionmaker[AsyncSession], squad_id: str) -> list[int]:
    from app.events import events_after

    async with sessionmaker() as session:
        return [event.id for event in await events_after(session, squad_id, 0, limit=10_000)]


def count_event_reads(engine: AsyncEngine) -> list[str]:
    """Every SELECT on the events table the engine runs from now on (a list that grows)."""
    seen: list[str] = []

    @sqlalchemy_event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(_connection, _cursor, statement, *_args) -> None:
        normalized = " ".join(statement.split()).lower()
        if normalized.startswith("select") and "from events" in normalized:
            seen.append(normalized)

    return seen


async def test_one_read_of_the_table_serves_every_subscriber_of_a_squad(sessionmaker, engine, squad_id):
    await store_events(sessionmaker, squad_id, 1)
    async with hub_of(sessionmaker) as (hub, signal):
        readers = [Reader(hub, squad_id) for _ in range(100)]
        for reader in readers:
            await reader.wait_for(lambda ids: len(ids) == 1, "the stored event, replayed")
        reads = count_event_reads(engine)

        await store_events(sessionmaker, squad_id, 3)
        signal.notify()
        for reader in readers:
            await reader.wait_for(lambda ids: len(ids) == 4, "the three new events")

        stored = await event_ids(sessionmaker, squad_id)
        assert all(reader.ids == stored for reader in readers), "every subscriber gets every event, in order, once"
        # One read finds the three events; a wake during a read costs one more, and on a loaded machine
        # the subscribers' own catch-up may add a few. Read per subscriber, it would be 100 or more.
        assert len(reads) <= 5, f"{len(reads)} reads of the events table for 100 subscribers: {reads[:3]}"
        for reader in readers:
            await reader.stop()


async def test_a_stalled_subscriber_holds_back_no_one_and_catches_up_from_the_table(sessionmaker, squad_id):
    await store_events(sessionmaker, squad_id, 1)
    async with hub_of(sessionmaker, max_pending=5) as (hub, signal):
        stalled, moving = Reader(hub, squad_id), Reader(hub, squad_id)
        await stalled.wait_for(lambda ids: len(ids) == 1, "the replayed event")
        await moving.wait_for(lambda ids: len(ids) == 1, "the replayed event")
        stalled.gate.clear()  # its client stops reading: its buffer fills and overflows

        for _ in range(20):
            await store_events(sessionmaker, squad_id, 1)
            signal.notify()
        await moving.wait_for(lambda ids: len(ids) == 21, "all 21 events while the other one stalls")
        stalled.gate.set()
        await stalled.wait_for(lambda ids: len(ids) == 21, "all 21 events after it resumed")

        stored = await event_ids(sessionmaker, squad_id)
        assert moving.ids == stored
        assert stalled.ids == stored, "the stalled subscriber got every event, in order, once"
        assert stalled.subscription.replays >= 2, "the overflow was recovered by reading the table again"
        await stalled.stop()
        await moving.stop()


async def test_a_resumed_subscription_replays_after_its_id_then_follows_live_with_its_filter(sessionmaker, squad_id):
    await store_events(sessionmaker, squad_id, 4, task_id="t-one")
    await store_events(sessionmaker, squad_id, 2, task_id="t-two")
    history = await event_ids(sessionmaker, squad_id)
    async with hub_of(sessionmaker) as (hub, signal):
        reader = Reader(hub, squad_id, after_id=history[1], task_id="t-one")
        await reader.wait_for(lambda ids: len(ids) == 2, "the two missed events of task t-one")
        await store_events(sessionmaker, squad_id, 1, task_id="t-two")
        await store_events(sessionmaker, squad_id, 1, task_id="t-one")
        signal.notify()
        await reader.wait_for(lambda ids: len(ids) == 3, "the live event of task t-one")

        latest = (await event_ids(sessionmaker, squad_id))[-1]
        assert reader.ids == [history[2], history[3], latest]
        await reader.stop()


async def test_a_closed_stream_leaves_no_subscription_behind(sessionmaker, squad_id):
    async with hub_of(sessionmaker) as (hub, _signal):
        readers = [Reader(hub, squad_id) for _ in range(3)]
        for reader in readers:
            await reader.wait_subscribed()
        assert hub.subscriber_count == 3 and hub.watches(squad_id)

        for reader in readers:
            await reader.stop()

        assert hub.subscriber_count == 0 and not hub.watches(squad_id)


async def test_the_poll_finds_events_another_process_stored_without_a_signal(sessionmaker, squad_id):
    async with hub_of(sessionmaker, poll_interval_s=0.2) as (hub, _signal):
        reader = Reader(hub, squad_id)
        await reader.wait_subscribed()

        await store_events(sessionmaker, squad_id, 1)  # no signal.notify(): written elsewhere

        await reader.wait_for(lambda ids: len(ids) == 1, "the event, found by the poll")
        await reader.stop()


async def test_on_postgresql_a_notify_from_another_process_wakes_the_fanout(
    sessionmaker, squad_id, module_database_url, is_postgres
):
    if not is_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): LISTEN/NOTIFY")
    from app.pg_notify import PgEventListener

    # Another origin than this process's, as the fan-out of another app instance has.
    listen = functools.partial(PgEventListener, module_database_url, origin="another-instance")
    async with hub_of(sessionmaker, listen=listen) as (hub, _signal):
        reader = Reader(hub, squad_id)
        await reader.wait_subscribed()
        with anyio.fail_after(10):
            await hub.listener.wait_listening()

        await store_events(sessionmaker, squad_id, 2)  # no local signal; the poll is a minute away

        await reader.wait_for(lambda ids: len(ids) == 2, "both events, woken by NOTIFY", deadline_s=5)
        assert hub.listener.notifications >= 1
        await reader.stop()


async def test_on_sqlite_a_commit_of_another_process_wakes_the_fanout(
    sessionmaker, squad_id, module_database_url, is_postgres
):
    """Another web process's commit reaches this one's streams through `PRAGMA data_version`."""
    if is_postgres:
        pytest.skip("SQLite only: PostgreSQL has LISTEN/NOTIFY")
    from app.sqlite_wake import SqliteChangeListener, sqlite_file

    path = sqlite_file(module_database_url)
    assert path is not None
    listen = functools.partial(SqliteChangeListener, path)
    async with hub_of(sessionmaker, listen=listen) as (hub, _signal):
        await store_events(sessionmaker, squad_id, 1)
        reader = Reader(hub, squad_id)
        await reader.wait_for(lambda ids: len(ids) == 1, "the stored event, replayed: the stream is live now")

        def hub_has_read() -> None:
            assert hub.reads >= 1, "the hub has not read the table yet"

        # Its first read (at start) would find events stored before it: they must come later.
        await eventually_async(hub_has_read, deadline_s=5)
        await store_events(sessionmaker, squad_id, 2)  # no local signal; the poll is a minute away

        await reader.wait_for(lambda ids: len(ids) == 3, "both new events, woken by the data_version", deadline_s=5)
        assert hub.listener.changes >= 1
        await reader.stop()


async def test_on_postgresql_the_listener_comes_back_after_its_connection_is_killed(
    sessionmaker, engine, squad_id, module_database_url, is_postgres
):
    """Kill the listener's connection, store an event while nobody listens (its NOTIFY is lost), and
    the reconnected listener's catch-up read must deliver it; later events wake it again."""
    if not is_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): LISTEN/NOTIFY")
    from app.pg_notify import PgEventListener

    listen = functools.partial(PgEventListener, module_database_url, origin="another-instance", reconnect_delay_s=0.3)
    async with hub_of(sessionmaker, listen=listen) as (hub, _signal):
        listener = hub.listener
        reader = Reader(hub, squad_id)
        await reader.wait_subscribed()
        with anyio.fail_after(10):
            await listener.wait_listening()
        await store_events(sessionmaker, squad_id, 1)
        await reader.wait_for(lambda ids: len(ids) == 1, "the first event, woken by NOTIFY", 5)

        async with engine.connect() as connection:
            killed = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'"
                )
            )
        assert killed == 1, f"expected to kill the listener's connection, killed {killed}"
        with anyio.fail_after(10):
            await listener.wait_not_listening()  # it noticed: the NOTIFY of the next event is lost
        await store_events(sessionmaker, squad_id, 1)

        await reader.wait_for(lambda ids: len(ids) == 2, "the event stored while nobody listened", 5)
        assert listener.connections == 2
        await store_events(sessionmaker, squad_id, 1)
        await reader.wait_for(lambda ids: len(ids) == 3, "an event stored after the reconnection", 5)
        await reader.stop()


async def test_on_sqlite_the_fanout_reads_without_holding_up_writers(sessionmaker, squad_id, module_database_url):
    """The platform's sessions begin IMMEDIATE (each one a writer); the fan-out's must not."""
    from app.events import EventSignal
    from app.fanout import event_hub

    hub = event_hub(sessionmaker, EventSignal(), poll_interval_s=NO_POLL_S, database_url=module_database_url)
    if hub.reader_engine is None or hub.reader_engine.dialect.name != "sqlite":
        await hub.close()
        pytest.skip("SQLite only: PostgreSQL readers never block writers")
    try:
        async with hub.sessionmaker() as reading:
            await reading.execute(text("SELECT count(*) FROM events"))  # a read transaction is open now
            with anyio.fail_after(5):  # a writer behind a lock would wait for the busy timeout (30 s)
                await store_events(sessionmaker, squad_id, 1)
            with pytest.raises(Exception, match="readonly|read-only|attempt to write"):
                await reading.execute(text("DELETE FROM events"))
    finally:
        await hub.close()


async def advisory_lock_waiters(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        )


async def done_or_waiting_for_a_lock(task: asyncio.Task, engine: AsyncEngine, deadline_s: float = 10.0) -> None:
    """Return once `task` finished or some session waits for an advisory lock (whichever comes first)."""
    with anyio.fail_after(deadline_s):
        while not task.done() and await advisory_lock_waiters(engine) == 0:
            await asyncio.wait({task}, timeout=0.02)  # wakes at once when the task ends; else polls again


async def test_on_postgresql_an_event_id_becomes_visible_only_after_every_smaller_one(
    sessionmaker, engine, squad_id, is_postgres
):
    """Ids must become visible in order, or a reader past a later id skips an earlier one for good.

    Writer A is stopped inside its commit, right after its event's INSERT (its id drawn, not yet
    committed). Writer B then stores an event (a larger id) and commits: B must wait for A, so that
    while A is stopped no reader sees anything past what it saw before; then both ids appear, A's first.
    """
    if not is_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has a single writer")
    from sqlalchemy.util import await_only

    from app.events import events_after, record_event

    before = max(await event_ids(sessionmaker, squad_id), default=0)
    inserted, release = asyncio.Event(), asyncio.Event()
    stopped: list[str] = []

    @sqlalchemy_event.listens_for(engine.sync_engine, "after_cursor_execute")
    def stop_after_the_first_event_insert(_connection, _cursor, statement, *_args) -> None:
        if not stopped and statement.lstrip().lower().startswith("insert into events"):
            stopped.append(statement)
            inserted.set()
            await_only(release.wait())  # inside the commit's greenlet: the transaction stays open

    async def write(number: int) -> None:
        async with sessionmaker() as session:
            await record_event(session, squad_id, "test.order", {"writer": number})
            await session.commit()

    writer_a = asyncio.create_task(write(1))
    with anyio.fail_after(10):
        await inserted.wait()
    writer_b = asyncio.create_task(write(2))
    try:
        await done_or_waiting_for_a_lock(writer_b, engine)
        async with sessionmaker() as session:
            visible = [event.id for event in await events_after(session, squad_id, before)]
        assert not writer_b.done() and visible == [], (
            f"while writer A's event was inserted but not committed, writer B committed (done: {writer_b.done()}) "
            f"and a reader saw ids {visible} past {before}: it would skip writer A's id"
        )
    finally:
        release.set()
    with anyio.fail_after(10):
        await writer_a
        await writer_b

    async with sessionmaker() as session:
        stored = await events_after(session, squad_id, before)
    assert [event.data["writer"] for event in stored] == [1, 2], "A drew the smaller id, B the larger"


async def test_on_postgresql_an_open_transaction_with_an_event_holds_up_no_other_event_writer(
    sessionmaker, squad_id, is_postgres
):
    """The event lock is taken inside the commit, not when the event is recorded: a transaction that
    recorded an event and goes on working (here: it stays open) does not stop others storing theirs."""
    if not is_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): the event lock")
    from app.events import record_event

    async with sessionmaker() as slow:
        slow_event = await record_event(slow, squad_id, "test.slow", {})
        await slow.execute(text("SELECT 1"))  # more work in the same transaction (an autoflush too)

        try:
            with anyio.fail_after(5):  # behind a lock held since record_event it would wait for ever
                await store_events(sessionmaker, squad_id, 1)
        except TimeoutError:
            raise AssertionError(
                "another writer could not store an event within 5 s while a transaction that had recorded one "
                "was still open: the event lock is held before the commit"
            ) from None

        await slow.commit()
    stored = await event_ids(sessionmaker, squad_id)
    assert stored[-1] == slow_event.id, f"the slow transaction's event is stored, last: {stored}"
