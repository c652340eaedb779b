"""The in-process transport of a fake: a respx router whose routes hand the httpx.Request to the ASGI app.

Follows respx's "reusable router" pattern: one router per remote API, named routes (so a test can
assert `router["create_pull_request"].called`), a catch-all last (answered by the fake itself, hence
with the real service's 404 shape), `assert_all_mocked=True` so nothing escapes to the network, and
`assert_all_called=False` because a test uses only a few routes.

Works with httpx.AsyncClient (the platform's seam). A sync httpx.Client works too when no event loop
runs in its thread. The app's whole response is buffered (as with httpx.ASGITransport), so a command
stream arrives in one piece here; tests of timing and streaming use the thread server instead
(encode/httpx#2186).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from urllib.parse import unquote

import httpx
import respx
from respx.patterns import M, Pattern
from starlette.types import ASGIApp, Message

from mocks.common.abortable_http import ConnectionDropped
from mocks.common.routes import CATCH_ALL, Endpoint, path_regex


async def call_app(app: ASGIApp, request: httpx.Request) -> httpx.Response:
    """Answer `request` with the ASGI `app`, in this event loop, the way an HTTP server would call it.

    (httpx.ASGITransport does the same, but looks for trio with a failing import on every request,
    which makes up a good part of an in-process call's cost.)
    """
    url = request.url
    body = request.content
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": unquote(url.path),
        "raw_path": url.raw_path.split(b"?")[0],
        "query_string": url.query,
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "server": (url.host, url.port or {"http": 80, "https": 443}.get(url.scheme, 80)),
        "client": ("127.0.0.1", 12345),
        "extensions": {},
    }
    body_sent = False
    response_done = asyncio.Event()
    status: int | None = None
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await response_done.wait()  # the client "leaves" once it has the whole answer
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                response_done.set()

    try:
        await app(scope, receive, send)
    finally:
        response_done.set()
    if status is None:
        raise RuntimeError(f"{request.method} {url}: the app returned without a response")
    return httpx.Response(status, headers=headers, content=b"".join(chunks), request=request)


def forward_to(app: ASGIApp):
    """A respx side effect that answers a request with `app`, as a real server would."""

    async def answer(request: httpx.Request) -> httpx.Response:
        await request.aread()
        try:
            return await call_app(app, request)
        except ConnectionDropped as error:
            # What httpx raises when a server closes the connection without answering.
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from error

    def side_effect(request: httpx.Request):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # A sync client, since no loop runs in this thread: run the app to completion here.
            request.read()
            return asyncio.run(answer(request))
        return answer(request)  # an async client: respx awaits the coroutine

    return side_effect


def origin_pattern(base_url: str) -> tuple[Pattern, str]:
    url = httpx.URL(base_url)
    port = url.port or {"http": 80, "https": 443}[url.scheme]
    return M(scheme=url.scheme, host=url.host, port=port), url.path.rstrip("/")


def asgi_router(
    app: ASGIApp,
    base_urls: Sequence[str],
    table: Sequence[Endpoint],
    *,
    passthrough_urls: Sequence[str] = (),
) -> respx.MockRouter:
    """A respx router that sends every request for `base_urls` to `app`.

    The entries of the fake's route table (mocks.common.routes) become named routes, in the table's
    order, one per operation name; a catch-all named "not_found" comes last and is answered by the app
    too. Requests to `passthrough_urls` (e.g. the fake's own thread server) go to the network.
    """
    router = respx.mock(assert_all_mocked=True, assert_all_called=False)
    origins = [origin_pattern(base_url) for base_url in base_urls]
    side_effect = forward_to(app)
    for passthrough in passthrough_urls:
        pattern, _ = origin_pattern(passthrough)
        router.route(pattern).pass_through()
    for name, entries in named_routes(table).items():
        pattern = _any_of(endpoint_pattern(entry, origins) for entry in entries)
        router.route(pattern, name=name).mock(side_effect=side_effect)
    catch_all = _any_of(origin & M(path__startswith=prefix or "/") for origin, prefix in origins)
    router.route(catch_all, name=CATCH_ALL).mock(side_effect=side_effect)
    return router


def endpoint_pattern(entry: Endpoint, origins: Sequence[tuple[Pattern, str]]) -> Pattern:
    """The requests of one table entry: its method, and its path below any of the base URLs."""
    path = path_regex(entry.path)
    return M(method=entry.method) & _any_of(
        origin & M(path__regex=f"^{re.escape(prefix)}{path}$") for origin, prefix in origins
    )


def named_routes(table: Sequence[Endpoint]) -> dict[str, list[Endpoint]]:
    """The table's entries by operation name, in the order the names first appear.

    An entry with the method and path of an earlier one is left out: respx tells requests apart by
    method and URL only, so the earlier route would take all its requests (E2B's envd health shares
    GET /health with the REST API's, and only the app, by a header, tells them apart).
    """
    routes: dict[str, list[Endpoint]] = {}
    seen: set[tuple[str, str]] = set()
    for entry in table:
        key = (entry.method, path_regex(entry.path))
        if key not in seen:
            seen.add(key)
            routes.setdefault(entry.name, []).append(entry)
    return routes


def _any_of(patterns) -> Pattern:
    combined: Pattern | None = None
    for pattern in patterns:
        combined = pattern if combined is None else combined | pattern
    if combined is None:
        raise ValueError("at least one base URL is needed")
    return combined
