"""The request body, read before anything parses it, within a size and a time limit: every endpoint,
unauthenticated ones included.

A declared Content-Length over the limit is refused at once, unread (413). A chunked or undeclared
body is read until it passes the limit (413) or the time runs out (408): a client sending it a
byte at a time cannot hold the connection and its task for longer than REQUEST_BODY_TIMEOUT_S. A
refused request's connection is closed, so nothing more of its body is read. The body that passed
is handed to the app as one message, and the app's later `receive` calls go to the server again (an
event stream still learns when its client leaves).
"""

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def refuse(send: Send, status: int, detail: str) -> None:
    """The Problem shape of every other refusal, and the connection closed behind it."""
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class RequestBodyLimits:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_timeout_s: float,
        *,
        path_limits: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        """`path_limits`: the paths whose bodies have a limit of their own (GitHub's webhook deliveries),
        each with the setting that names it, in place of REQUEST_MAX_BODY_BYTES."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.path_limits.get(scope["path"], (self.max_body_bytes, "REQUEST_MAX_BODY_BYTES"))
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if declared is None and not chunked:
            await self.app(scope, receive, send)  # no body (HTTP/1.1 says so): nothing to hold back
            return
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):  # uvicorn refuses these itself; others may not
                await refuse(send, 400, "Content-Length must be a number of bytes")
                return
            if int(declared) > limit:
                await refuse(send, 413, _too_large(f"declares {int(declared)} bytes", limit, setting))
                return
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.body_timeout_s) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left before its body was whole: nobody to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await refuse(send, 413, _too_large(f"sent more than {limit} bytes", limit, setting))
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            await refuse(
                send,
                408,
                f"the request's body did not arrive within {self.body_timeout_s:g} s "
                f"({size} bytes came); the platform stopped waiting for it",
            )
            return
        await self.app(scope, _replaying(b"".join(chunks), receive), send)


def _too_large(what: str, limit: int, setting: str) -> str:
    return f"the request's body is too large: it {what}, and the platform takes at most {limit} bytes ({setting})"


def _replaying(body: bytes, receive: Receive) -> Receive:
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
