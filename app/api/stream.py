"""The live event stream (Server-Sent Events) of one squad.

Events reach the stream through the process's event fan-out (app/fanout.py): it replays what the
client missed from the table, then hands over each new event as it is stored, already encoded, so
an open stream costs no database query per event.
"""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from app.api.deps import get_runtime
from app.api.errors import documented
from app.auth import SESSION_COOKIE, bearer_scheme, squad_for_token, within_rate
from app.limits import Slot, too_many
from app.models import Agent, Squad, Task

router = APIRouter(tags=["events"])

# Event ids are 64-bit integers in the database; a larger one cannot be a real id.
MAX_EVENT_ID = 2**63 - 1
# When a squad with all its streams open may try again: a guess (streams end when their clients go),
# long enough that a client retrying at once does not hammer the platform.
STREAM_RETRY_AFTER_S = 5.0
# A client that has not taken a message for this long (its TCP window full) is disconnected, so it
# holds neither memory nor a task; it reconnects with Last-Event-ID and misses nothing.
SEND_TIMEOUT_S = 30.0


def _resume_point(header_value: str | None, query_value: int | None) -> int:
    if header_value is None:
        return query_value or 0
    # ASCII digits only: int() would also take " 7", "+7", "7_0" and non-ASCII digits such as "٣".
    if not (header_value.isascii() and header_value.isdigit()):
        raise HTTPException(400, "Last-Event-ID must be an event id (an integer)")
    try:
        value = int(header_value)
    except ValueError:  # more digits than Python converts: far past any real id
        raise HTTPException(400, f"Last-Event-ID must be between 0 and {MAX_EVENT_ID}") from None
    if not 0 <= value <= MAX_EVENT_ID:
        raise HTTPException(400, f"Last-Event-ID must be between 0 and {MAX_EVENT_ID}")
    return value


async def squad_of_stream(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    agent_id: str | None = Query(None, max_length=32),
    task_id: str | None = Query(None, max_length=32),
) -> Squad:
    """The bearer token, or the session cookie (a browser's EventSource cannot send headers).

    Checked with a session of the fan-out's, closed before streaming starts: on SQLite it reads
    without taking the write lock, so a burst of new streams does not queue behind (or hold up)
    the writers.
    """
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    runtime = get_runtime(request)
    async with runtime.fanout.sessionmaker() as session:
        squad = await squad_for_token(session, token, runtime.squads)
        within_rate(request, squad)
        # A filter naming another squad's agent or task is refused like a missing one (as everywhere in
        # the API), rather than opening a stream that could never deliver anything.
        if agent_id is not None:
            agent = await session.get(Agent, agent_id)
            if agent is None or agent.squad_id != squad.id:
                raise HTTPException(404, f"agent {agent_id} not found")
        if task_id is not None:
            task = await session.get(Task, task_id)
            if task is None or task.squad_id != squad.id:
                raise HTTPException(404, f"task {task_id} not found")
        return squad


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={
        200: {"description": "the squad's events, as Server-Sent Events", "content": {"text/event-stream": {}}},
        **documented(400, 401, 404, 503),  # and 429: a squad with all its streams open (SQUAD_MAX_STREAMS)
    },
)
async def stream_events(
    request: Request,
    squad: Squad = Depends(squad_of_stream),
    agent_id: str | None = Query(None, max_length=32),
    task_id: str | None = Query(None, max_length=32),
    last_event_id: int | None = Query(None, ge=0, le=MAX_EVENT_ID),
    last_event_id_header: str | None = Header(None, alias="Last-Event-ID"),
) -> EventSourceResponse:
    cursor = _resume_point(last_event_id_header, last_event_id)
    runtime = get_runtime(request)
    squad_id = squad.id
    most = runtime.settings.squad_max_streams
    if runtime.open_streams.held(squad_id) >= most:
        raise too_many(
            f"this squad already has {most} event streams open, the most it may have (SQUAD_MAX_STREAMS); "
            "close one, or try again later",
            STREAM_RETRY_AFTER_S,
        )

    async def messages() -> AsyncIterator[bytes]:
        runtime.metrics.active_streams.inc()
        try:
            async with runtime.fanout.subscribe(squad_id, cursor, agent_id=agent_id, task_id=task_id) as subscription:
                async for event in subscription.events():
                    yield event.message
        finally:
            # Runs when the client goes away too: sse-starlette cancels the generator.
            runtime.metrics.active_streams.dec()

    return HeldStream(
        runtime.open_streams.take(squad_id),
        messages(),
        ping=runtime.settings.sse_heartbeat_s,
        send_timeout=SEND_TIMEOUT_S,
    )


class HeldStream(EventSourceResponse):
    """A stream that holds one of its squad's stream slots until it ends, however it ends: finished,
    cut by the client, or never started."""

    def __init__(self, slot: Slot, *args: Any, **kwargs: Any) -> None:
        self.slot = slot
        super().__init__(*args, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()
