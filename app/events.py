"""Persisted events, and how the rest of the platform learns that new ones were stored.

In this process: the commit of a session that stored events notifies the `EventSignal` its
sessionmaker names (`wakes(signal)`), which wakes whoever waits (the worker, the event fan-out of
app/fanout.py); no caller of `commit()` has to remember it. Across processes on PostgreSQL: every
event insert sends a NOTIFY on `EVENTS_CHANNEL` when its transaction commits (app/pg_notify.py
listens). Everywhere: the events table is the source of truth, read by id.
"""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from app.models import Event


class EventSignal:
    """Wakes every waiter after events were committed in this process.

    A waiter takes `current()` before it reads the table and waits on it afterwards, so an event
    committed between the read and the wait is never missed. Listeners added with
    `add_listener` are called on every `notify()` (they must not block).

    Not thread-safe (asyncio.Event): it is notified from the commits of AsyncSessions, which run
    in the greenlets of the event loop's own thread.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()
        for listener in list(self._listeners):
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)


# Any constant; it names the lock that orders event inserts on PostgreSQL.
_EVENT_ORDER_LOCK = 0x5351_5545_5645
# The PostgreSQL channel of "events were stored"; the payload is "<origin>:<squad id>".
EVENTS_CHANNEL = "squad_events"
# Who wrote: a listener ignores its own process's notifications (EventSignal already told it).
PROCESS_ORIGIN = uuid.uuid4().hex[:12]
# Where a session keeps the events recorded in its transaction until it commits.
_HELD_EVENTS = "held_events"
# Set while a transaction that stored events commits, so that its end wakes the signal.
_STORED_EVENTS = "stored_events"
# Where a session finds the signal its commits of events wake (put there by its sessionmaker).
_EVENT_SIGNAL = "event_signal"
# The lock and the NOTIFY of every squad with events in the transaction, in one round trip.
_LOCK_AND_NOTIFY = text(
    "SELECT pg_advisory_xact_lock(:key), "
    "(SELECT count(pg_notify(:channel, payload)) FROM unnest(CAST(:payloads AS text[])) AS payload)"
)


def wakes(signal: EventSignal) -> dict[str, Any]:
    """The `info` of a sessionmaker whose sessions notify `signal` after every commit that stored events."""
    return {_EVENT_SIGNAL: signal}


async def record_event(
    session: AsyncSession,
    squad_id: str,
    type: str,
    data: dict[str, Any] | None = None,
    *,
    task_id: str | None = None,
    agent_id: str | None = None,
) -> Event:
    """An event stored with the caller's commit (and dropped with its rollback).

    Streams resume after the highest id they have seen, so ids must become visible in order: on
    PostgreSQL two transactions could otherwise commit their sequence values out of order, and a
    reader that saw the later id would skip the earlier one for good. Event writers are serialised
    by an advisory lock from the moment the id is drawn to the commit, and that moment is made as
    late as it can be: the event is held by the session (not added to it, so no autoflush inserts
    it early) until `session.commit()`, which first flushes the transaction's other changes (the
    task, the job: statements that may wait on row locks), then takes the lock, then inserts the
    events and commits. The lock is held for one INSERT and the COMMIT, not for the whole
    transaction. The same statement queues the NOTIFY that other processes' streams wake on (sent
    at commit, one per squad and transaction). SQLite has a single writer and needs no lock.

    The event has its id after the commit; it is not in the session (nor visible to a query of the
    same transaction) before.
    """
    event = Event(squad_id=squad_id, type=type, data=data or {}, task_id=task_id, agent_id=agent_id)
    session.sync_session.info.setdefault(_HELD_EVENTS, []).append(event)
    return event


@orm_event.listens_for(Session, "before_commit")
def _store_held_events(session: Session) -> None:
    """At commit: the transaction's own changes first, then (PostgreSQL) the lock, then the events.

    Runs inside the commit; on an AsyncSession that is a greenlet, where these synchronous calls
    wait on the driver like any flush does. Commit's own flush, right after this, inserts the events.
    """
    held: list[Event] = session.info.pop(_HELD_EVENTS, [])
    if not held:
        return
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        squads = sorted({event.squad_id for event in held})
        session.connection().execute(
            _LOCK_AND_NOTIFY,
            {
                "key": _EVENT_ORDER_LOCK,
                "channel": EVENTS_CHANNEL,
                "payloads": [f"{PROCESS_ORIGIN}:{s}" for s in squads],
            },
        )
    session.add_all(held)
    session.info[_STORED_EVENTS] = True


@orm_event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    """Once the events are committed, wake whoever waits for them in this process.

    Only the outermost transaction's commit makes them visible to others (a savepoint's release does
    not). On an AsyncSession this runs in the commit's greenlet, in the event loop's thread, so the
    signal's asyncio.Event may be set here.
    """
    if session.in_nested_transaction() or not session.info.pop(_STORED_EVENTS, False):
        return
    signal: EventSignal | None = session.info.get(_EVENT_SIGNAL)
    if signal is not None:
        signal.notify()


@orm_event.listens_for(Session, "after_transaction_end")
def _drop_held_events(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without committing (rollback, close) takes its events with it."""
    if transaction.parent is None:
        session.info.pop(_HELD_EVENTS, None)
        session.info.pop(_STORED_EVENTS, None)


async def events_after(
    session: AsyncSession,
    squad_id: str,
    after_id: int,
    *,
    agent_id: str | None = None,
    task_id: str | None = None,
    limit: int = 500,
) -> list[Event]:
    query = select(Event).where(Event.squad_id == squad_id, Event.id > after_id)
    if agent_id:
        query = query.where(Event.agent_id == agent_id)
    if task_id:
        query = query.where(Event.task_id == task_id)
    result = await session.scalars(query.order_by(Event.id).limit(limit))
    return list(result)


async def events_of_all_squads_after(session: AsyncSession, after_id: int, *, limit: int = 500) -> list[Event]:
    """The next events of every squad, in id order: what the fan-out reads once for all streams."""
    result = await session.scalars(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit))
    return list(result)


async def latest_event_id(session: AsyncSession) -> int:
    return await session.scalar(select(func.max(Event.id))) or 0


def event_payload(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "squad_id": event.squad_id,
        "task_id": event.task_id,
        "agent_id": event.agent_id,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
    }
