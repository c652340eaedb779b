"""The live event stream (Server-Sent Events) of one squad."""

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from sse_starlette import EventSourceResponse

from app.auth import current_squad_for_stream
from app.events import event_payload, events_after
from app.models import Squad

router = APIRouter(tags=["events"])

# Event ids are 64-bit integers in the database; a larger one cannot be a real id.
MAX_EVENT_ID = 2**63 - 1


def _resume_point(header_value: str | None, query_value: int | None) -> int:
    if header_value is None:
        return query_value or 0
    try:
        value = int(header_value)
    except ValueError:
        raise HTTPException(400, "Last-Event-ID must be an event id (an integer)") from None
    if not 0 <= value <= MAX_EVENT_ID:
        raise HTTPException(400, f"Last-Event-ID must be between 0 and {MAX_EVENT_ID}")
    return value


@router.get("/events")
async def stream_events(
    request: Request,
    squad: Squad = Depends(current_squad_for_stream),
    agent_id: str | None = Query(None, max_length=32),
    task_id: str | None = Query(None, max_length=32),
    last_event_id: int | None = Query(None, ge=0, le=MAX_EVENT_ID),
    last_event_id_header: str | None = Header(None, alias="Last-Event-ID"),
) -> EventSourceResponse:
    cursor = _resume_point(last_event_id_header, last_event_id)
    app_state = request.app.state
    squad_id = squad.id

    async def messages() -> AsyncIterator[dict]:
        app_state.runtime.metrics.active_streams.inc()
        try:
            async for message in _follow():
                yield message
        finally:
            # Runs when the client goes away too: sse-starlette cancels the generator.
            app_state.runtime.metrics.active_streams.dec()

    async def _follow() -> AsyncIterator[dict]:
        nonlocal cursor
        while True:
            wake = app_state.signal.current()
            async with app_state.sessionmaker() as session:
                events = await events_after(session, squad_id, cursor, agent_id=agent_id, task_id=task_id)
            for event in events:
                cursor = event.id
                yield {"id": str(event.id), "data": json.dumps(event_payload(event))}
            if not events:
                try:
                    await asyncio.wait_for(wake.wait(), app_state.settings.sse_poll_interval_s)
                except TimeoutError:
                    pass

    return EventSourceResponse(messages(), ping=app_state.settings.sse_heartbeat_s)
