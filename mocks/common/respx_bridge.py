"""The in-process transport of a fake: a respx router whose routes hand the httpx.Request to the ASGI app.

Follows respx's "reusable router" pattern: one router per remote API, named routes (so a test can
assert `router["create_pull_request"].called`), a catch-all last (answered by the fake itself, hence
with the real service's 404 shape), `assert_all_mocked=True` so nothing escapes to the network, and
`assert_all_called=False` because a test uses only a few routes.

Works with httpx.AsyncClient (the platform's seam). A sync httpx.Client works too when no event loop
runs in its thread. `httpx.ASGITransport` buffers the whole response, so a command stream arrives in
one piece here; tests of timing and streaming use the thread server instead (encode/httpx#2186).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import respx
from respx.patterns import M, Pattern
from starlette.types import ASGIApp

from mocks.common.abortable_http import ConnectionDropped


@dataclass(frozen=True)
class RouteSpec:
    name: str
    method: str
    path_regex: str  # anchored regex of the path below the base URL, e.g. r"/sandboxes/[^/]+"


CATCH_ALL = "not_found"


def forward_to(app: ASGIApp):
    """A respx side effect that answers a request with `app`, as a real server would."""

    async def answer(request: httpx.Request) -> httpx.Response:
        await request.aread()
        # A fresh request whose body is a plain byte stream, whatever client built the original.
        forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=request.content)
        try:
            response = await httpx.ASGITransport(app=app).handle_async_request(forwarded)
        except ConnectionDropped as error:
            # What httpx raises when a server closes the connection without answering.
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from error
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

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
    routes: Sequence[RouteSpec],
    *,
    passthrough_urls: Sequence[str] = (),
) -> respx.MockRouter:
    """A respx router that sends every request for `base_urls` to `app`.

    `routes` become named routes (in order); a catch-all named "not_found" comes last and is answered
    by the app too. Requests to `passthrough_urls` (e.g. the fake's own thread server) go to the network.
    """
    router = respx.mock(assert_all_mocked=True, assert_all_called=False)
    origins = [origin_pattern(base_url) for base_url in base_urls]
    side_effect = forward_to(app)
    for passthrough in passthrough_urls:
        pattern, _ = origin_pattern(passthrough)
        router.route(pattern).pass_through()
    for spec in routes:
        pattern = _any_of(
            origin & M(path__regex=f"^{re.escape(prefix)}{spec.path_regex}$") for origin, prefix in origins
        )
        router.route(pattern & M(method=spec.method), name=spec.name).mock(side_effect=side_effect)
    catch_all = _any_of(origin & M(path__startswith=prefix or "/") for origin, prefix in origins)
    router.route(catch_all, name=CATCH_ALL).mock(side_effect=side_effect)
    return router


def _any_of(patterns) -> Pattern:
    combined: Pattern | None = None
    for pattern in patterns:
        combined = pattern if combined is None else combined | pattern
    if combined is None:
        raise ValueError("at least one base URL is needed")
    return combined
