"""Dropping a connection on purpose (the "reset" fault), on both transports.

uvicorn gives an ASGI app no way to close the socket: raising only turns into a 500. So the thread
server and `python -m` run this subclass of uvicorn's h11 protocol, which hands the app an
`abort` callable in `scope["extensions"]`. In-process (respx + ASGITransport) there is no socket:
`ConnectionDropped` is raised instead and the respx bridge turns it into httpx's own transport error.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from uvicorn.protocols.http.h11_impl import H11Protocol

ABORT_EXTENSION = "fake.abort_connection"


class ConnectionDropped(Exception):
    """The fake decided to drop this request's connection without answering."""


class AbortableH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app_with_abort(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope.setdefault("extensions", {})[ABORT_EXTENSION] = self._abort
            await inner(scope, receive, send)

        self.app = app_with_abort

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def drop_connection(request: Request) -> Response:
    abort = request.scope.get("extensions", {}).get(ABORT_EXTENSION)
    if abort is None:
        raise ConnectionDropped(f"{request.method} {request.url.path}: connection dropped by a reset fault")
    abort()
    # Wait until uvicorn has seen the connection go, so it does not complain that no response was sent.
    while (await request.receive())["type"] != "http.disconnect":
        pass
    return Response(status_code=499)  # never reaches the client
