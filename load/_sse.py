"""The platform's event stream as a Locust user reads it: opened, parsed, timed, and closed at the end.

Locust times a streamed response only up to its headers (locust #2342), so the users report what a
stream is about themselves, as request events of type SSE (names in load/_slo.py): the time to
connect, the time to the first event, and each event's delivery latency, measured from the event's
own `created_at` (the platform's clock; the suite runs on the same machine or a synchronised one).

Streams are read with httpx and httpx-sse, one client per Locust process (a connection per stream).
When the run stops, every open stream is closed, so users blocked on a quiet stream end at once
instead of waiting out --stop-timeout; a StreamFailure while `stopping()` is that, not a drop.
"""

import json
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from _slo import SSE
from httpx_sse import SSEError, connect_sse
from locust import events
from locust.env import Environment

EVENTS_PATH = "/api/v1/events"
# Longer than the platform's heartbeat (15 s): a quiet stream is not a dead one.
READ_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 30.0

Event = dict[str, Any]

# httpx logs every request at INFO: one line per stream would bury Locust's own output.
logging.getLogger("httpx").setLevel(logging.WARNING)

_client: httpx.Client | None = None
_open: set[httpx.Response] = set()
_stopping = False


def _shared_client() -> httpx.Client:
    global _client
    if _client is None:  # created on first use, so each forked worker process makes its own
        _client = httpx.Client(
            timeout=httpx.Timeout(CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
        )
    return _client


def stopping() -> bool:
    """True once this process began stopping the run: a stream that ends now was closed by us."""
    return _stopping


class StreamFailure(Exception):
    """The stream could not be opened, or broke; the message says how."""


class EventStream:
    """One open `GET /api/v1/events`: `connect_ms`, then `events()` until it ends."""

    def __init__(self, response: httpx.Response, source: Any, started: float) -> None:
        self.response = response
        self._source = source
        self.started = started  # time.perf_counter() when the request was sent
        self.connect_ms = (time.perf_counter() - started) * 1000

    def events(self) -> Iterator[Event]:
        """The stream's events in order (heartbeat comments skipped); returns when the stream ends."""
        try:
            for message in self._source.iter_sse():
                if not message.data:
                    continue  # a heartbeat comment
                event = json.loads(message.data)
                if message.id != str(event.get("id")):
                    raise StreamFailure(f"message id {message.id!r} differs from the event's id {event.get('id')!r}")
                yield event
        except (httpx.HTTPError, SSEError, OSError, ValueError) as error:
            raise StreamFailure(f"the stream broke: {error!r}") from error


@contextmanager
def open_stream(
    base_url: str, token: str, params: dict[str, str] | None = None, last_event_id: int | None = None
) -> Iterator[EventStream]:
    """Open the squad's stream; raises StreamFailure when it does not answer 200 with an event stream."""
    headers = {"Authorization": f"Bearer {token}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    started = time.perf_counter()
    with ExitStack() as cleanup:
        try:
            source = cleanup.enter_context(
                connect_sse(_shared_client(), "GET", f"{base_url}{EVENTS_PATH}", params=params or {}, headers=headers)
            )
        except (httpx.HTTPError, OSError) as error:
            raise StreamFailure(f"could not open the stream: {error!r}") from error
        response = source.response
        if response.status_code != 200:
            response.read()
            raise StreamFailure(f"expected HTTP 200, got {response.status_code}: {response.text[:200]}")
        _open.add(response)
        cleanup.callback(_open.discard, response)
        yield EventStream(response, source, started)


def stored_at(event: Event) -> float:
    """When the platform stored `event`: its `created_at` (UTC when it names no zone), as epoch seconds."""
    created = datetime.fromisoformat(event["created_at"])
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.timestamp()


def report(environment: Environment, name: str, ms: float, failure: BaseException | None = None) -> None:
    """A request event of type SSE, so the figure shows in Locust's statistics, charts and CSV."""
    environment.events.request.fire(
        request_type=SSE,
        name=name,
        response_time=max(ms, 0.0),
        response_length=0,
        exception=failure,
        context={},
    )


@events.test_start.add_listener
def _forget_the_last_stop(**_kwargs: object) -> None:
    global _stopping
    _stopping = False


@events.test_stopping.add_listener
def _close_open_streams(**_kwargs: object) -> None:
    global _stopping
    _stopping = True
    for response in list(_open):
        try:
            response.close()
        except Exception:  # noqa: S110 - closing a stream another greenlet is reading may complain; it is closed
            pass
