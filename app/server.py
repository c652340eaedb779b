"""The web server: uvicorn, with the limits a slow or greedy client meets before the app sees it.

uvicorn gives a keep-alive timeout (an idle connection between requests is closed), a cap on the
connections and tasks it serves at once (`limit_concurrency`, 503 past it) and a cap on the size of
the request head (h11's, 16 KiB by default). It has no deadline for the request head itself: a client
that connects and then sends its headers a byte at a time, or never finishes them, keeps the
connection forever (each byte even cancels the keep-alive timer). `HeaderDeadlineH11Protocol` adds
one: the head of each request must be complete within REQUEST_HEADER_TIMEOUT_S of the connection
opening or, on a kept-alive connection, of the head's first byte, or the connection is answered 408
and closed. A kept-alive connection on which nothing arrives is the keep-alive timeout's to close,
silently: a 408 there would be read as the answer to the next request a client (or a proxy
keeping connections to the platform) sends on it. The body's deadline is the app's
(app/http_limits.py).

Where httptools is installed (a dependency of the platform) the server parses HTTP with it rather
than with h11, which is pure Python: a board read costs a fifth less CPU. httptools has no cap on
the request head, so `HeaderDeadlineHttpToolsProtocol` adds h11's (MAX_HEAD_BYTES, 431 past it)
beside the same deadline; h11's protocol is kept for a platform installed without httptools.
"""

import asyncio
import logging
import os
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: h11 serves
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

from app import logs
from app.runtime import migrate
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)

# What uvicorn serves, by import path (spawned web processes import it themselves): the app with
# the garbage collector tuned for serving (app/serving.py).
SERVED_APP = "app.serving:app"


def closing_answer(status: bytes, body: bytes) -> bytes:
    """A whole plain-text HTTP answer, written straight to a connection that is then closed."""
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


TIMEOUT_RESPONSE = closing_answer(
    b"408 Request Timeout", b"the request's headers did not arrive in time; the connection is closed\n"
)
# The largest request head taken, as h11's default.
MAX_HEAD_BYTES = 16 * 1024
TOO_LARGE_RESPONSE = closing_answer(b"431 Request Header Fields Too Large", b"the request's headers are too large\n")


class _HeadDeadline:
    """A deadline on each request's head (`header_timeout_s`), for either of uvicorn's HTTP protocols:
    a client that has not sent a whole head in time gets a 408 and the connection is closed. Each
    protocol says when a head starts being awaited (`_await_a_head`) and when it arrived; on a
    kept-alive connection the deadline starts with the head's first byte (`data_received`)."""

    header_timeout_s = 10.0
    _head_deadline: asyncio.TimerHandle | None = None
    _awaiting_head = False
    # The protocol's own, which this mixin is put in front of.
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: tuple[str, int] | None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._await_a_head()
        self._start_the_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head and self._head_deadline is None:
            self._start_the_deadline()
        super().data_received(data)  # type: ignore[misc]

    def _await_a_head(self) -> None:
        self._head_arrived()
        self._awaiting_head = True

    def _start_the_deadline(self) -> None:
        self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_too_slow)

    def _head_arrived(self) -> None:
        self._awaiting_head = False
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or not self._awaiting_head:
            return
        self._awaiting_head = False
        log.warning(
            "closing the connection from %s: no complete request head within %s s",
            f"{self.client[0]}:{self.client[1]}" if self.client else "?",
            self.header_timeout_s,
        )
        self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()


class HeaderDeadlineH11Protocol(_HeadDeadline, H11Protocol):
    """uvicorn's h11 protocol, with a deadline on each request's head."""

    def handle_events(self) -> None:
        super().handle_events()
        # h11 leaves IDLE for the client once a whole request head has been parsed.
        if self.conn.their_state is not h11.IDLE:
            self._head_arrived()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The connection is kept for the next request (keep-alive): its head has the same deadline.
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_a_head()


if HttpToolsProtocol is not None:

    class HeaderDeadlineHttpToolsProtocol(_HeadDeadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with the same deadline on each request's head as
        HeaderDeadlineH11Protocol, and h11's cap on its size."""

        _head_bytes = 0

        def data_received(self, data: bytes) -> None:
            if self._awaiting_head:
                # The head's bytes in this piece: up to the blank line that ends it, if it is here.
                end = data.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else end + 4
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._head_arrived()
                    if not self.transport.is_closing():
                        self.transport.write(TOO_LARGE_RESPONSE)
                        self.transport.close()
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._head_arrived()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # The next request's head has its deadline, unless it arrived already (pipelined).
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self._await_a_head()

        def _await_a_head(self) -> None:
            super()._await_a_head()
            self._head_bytes = 0

    class EnvironmentHttpToolsProtocol(HeaderDeadlineHttpToolsProtocol):
        """As EnvironmentH11Protocol, on httptools."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.header_timeout_s = get_settings().request_header_timeout_s


class EnvironmentH11Protocol(HeaderDeadlineH11Protocol):
    """The protocol of the web processes that uvicorn starts (SERVER_WORKERS > 1): they are spawned,
    and get the protocol by its import path, so it reads its deadline from their settings."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = get_settings().request_header_timeout_s


def protocol_for(settings: Settings) -> type[asyncio.Protocol]:
    base = HeaderDeadlineH11Protocol if HttpToolsProtocol is None else HeaderDeadlineHttpToolsProtocol
    return type("PlatformHTTPProtocol", (base,), {"header_timeout_s": settings.request_header_timeout_s})


def environment_protocol() -> str:
    """The import path of the protocol of spawned web processes."""
    protocol = EnvironmentH11Protocol if HttpToolsProtocol is None else EnvironmentHttpToolsProtocol
    return f"{__name__}:{protocol.__name__}"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What `python -m app` gives uvicorn besides the app, the host and the port."""
    return {
        "http": protocol_for(settings),
        "timeout_keep_alive": settings.server_keep_alive_s,
        "limit_concurrency": settings.server_max_connections,
        **({"log_config": logs.uvicorn_log_config()} if settings.log_format == "json" else {}),
    }


def serve(host: str, port: int, settings: Settings) -> None:
    if settings.server_workers == 1:
        uvicorn.run(SERVED_APP, host=host, port=port, **uvicorn_options(settings))
        return
    if settings.squad_auto_migrate:
        # Once, before the processes start: several processes migrating one database at once race.
        migrate(settings.database_url)
        os.environ["SQUAD_AUTO_MIGRATE"] = "false"
    log.info("serving with %d web processes", settings.server_workers)
    uvicorn.run(
        SERVED_APP,
        host=host,
        port=port,
        workers=settings.server_workers,
        **(uvicorn_options(settings) | {"http": environment_protocol()}),
    )
