"""Persisted events, and how the rest of the platform learns that new ones were stored.

In this process: `EventSignal.notify()` after a commit wakes whoever waits (the worker, the event
fan-out of app/fanout.py). Across processes on PostgreSQL: every event insert sends a NOTIFY on
`EVENTS_CHANNEL` when its transaction commits (app/pg_notify.py listens). Everywhere: the events
table is the source of truth, read by id.
"""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Event


class EventSignal:
    """Wakes every waiter after events were committed in this process.

    A waiter takes `current()` before it reads the table and waits on it afterwards, so an event
    committed between the read and the wait is never missed. Listeners added with
    `add_listener` are called on every `notify()` (they must not block).
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


async def record_event(
    session: AsyncSession,
    squad_id: str,
    type: str,
    data: dict[str, Any] | None = None,
    *,
    task_id: str | None = None,
    agent_id: str | None = None,
) -> Event:
    """Add an event to the session; it is stored with the caller's commit.

    Streams resume after the highest id they have seen, so ids must become visible in order. On
    PostgreSQL two transactions could commit their sequence values out of order; an advisory lock
    held until commit serialises event writers. SQLite already has a single writer. On PostgreSQL
    the same statement queues the NOTIFY that other processes' streams wake on (sent at commit,
    dropped on rollback, one per squad and transaction).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key), pg_notify(:channel, :payload)"),
            {"key": _EVENT_ORDER_LOCK, "channel": EVENTS_CHANNEL, "payload": f"{PROCESS_ORIGIN}:{squad_id}"},
        )
    event = Event(squad_id=squad_id, type=type, data=data or {}, task_id=task_id, agent_id=agent_id)
    session.add(event)
    return event


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
