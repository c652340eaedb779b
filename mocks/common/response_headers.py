"""Headers a fake adds to every response of its API, computed per request (ids, timings).

A pure ASGI middleware rather than Starlette's BaseHTTPMiddleware, which would buffer streamed bodies
(git smart HTTP, server-sent events).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]
# Called when a request arrives: None leaves its response alone, else a callable that gives the headers to
# add when the response starts (so they can measure the time the request took).
HeadersFor = Callable[[Scope], Callable[[], Headers] | None]


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp, headers_for: HeadersFor) -> None:
        self.app = app
        self.headers_for = headers_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra = self.headers_for(scope) if scope["type"] == "http" else None
        if extra is None:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra()]
            await send(message)

        await self.app(scope, receive, send_with_headers)
