"""Persisted events and the in-process signal that wakes SSE streams when new ones are stored."""

import asyncio
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Event


class EventSignal:
    """Wakes every waiting stream after events were committed in this process.

    A stream takes `current()` before it reads the table and waits on it afterwards, so an event
    committed between the read and the wait is never missed.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


# Any constant; it names the lock that orders event inserts on PostgreSQL.
_EVENT_ORDER_LOCK = 0x5351_5545_5645


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
    held until commit serialises event writers. SQLite already has a single writer.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENT_ORDER_LOCK})
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
