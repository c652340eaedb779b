"""Every endpoint of a fake's service API is one named operation: faults and journal are keyed by it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mocks.common.abortable_http import drop_connection
from mocks.common.faults import FaultRule, RequestFacts
from mocks.common.service import FakeService, ObservedResponse

Handler = Callable[[Request], Awaitable[Response]]
# The service's own error response for a status (what a status fault without a body answers).
FaultBody = Callable[[int], Response]

OPERATION_KEY = "fake.operation"
BODY_KEY = "fake.body"
FAULT_KEY = "fake.fault"
FAULT_OWN_BODY_KEY = "fake.fault_own_body"
ADMIN_PREFIX = "/_fake/"
MALFORMED_JSON = b'{"message": "truncated'


def operation(service: FakeService, name: str, handler: Handler, fault_body: FaultBody) -> Handler:
    """Wrap `handler` so that it is journaled as `name` and the fault rules for `name` apply to it."""

    async def endpoint(request: Request) -> Response:
        request.scope[OPERATION_KEY] = name
        raw = await request.body()  # cached by Starlette: the handler can read it again
        request.scope[BODY_KEY] = _json_or_none(raw, request.headers.get("content-type", ""))
        rule = service.faults.take(name, lambda: request_facts(service, request))
        latency_ms = service.latency_ms + (rule.latency_ms if rule else 0)
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)  # the simulated network delay itself, not a wait
        if rule is not None:
            request.scope[FAULT_KEY] = rule.kind
            request.scope[FAULT_OWN_BODY_KEY] = rule.body is not None
            if rule.kind == "reset":
                return await drop_connection(request)
            if rule.kind == "malformed":
                return Response(MALFORMED_JSON, rule.status or 200, rule.headers, "application/json")
            if rule.status is not None:
                return fault_response(rule, fault_body)
        return await handler(request)

    endpoint.__name__ = name
    return endpoint


def request_facts(service: FakeService, request: Request) -> RequestFacts:
    """What a fault rule's `match` can look at (service-specific keys are computed only when asked)."""
    facts = RequestFacts(
        method=request.method,
        path=request.url.path,
        query=request.url.query,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.scope.get(BODY_KEY),
    )
    path_params = dict(request.path_params)
    facts.extra = lambda key: service.request_fact(key, facts, path_params)
    return facts


def fault_response(rule: FaultRule, fault_body: FaultBody) -> Response:
    assert rule.status is not None
    if rule.body is None:
        response = fault_body(rule.status)
    elif isinstance(rule.body, str):
        response = Response(rule.body, rule.status, media_type="text/plain")
    else:
        response = Response(json.dumps(rule.body), rule.status, media_type="application/json")
    response.headers.update(rule.headers)
    return response


class RecordingMiddleware:
    """Journals every request of the service API (admin calls under /_fake/ are not journaled)."""

    def __init__(self, app: ASGIApp, service: FakeService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        status: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        observers = self.service.response_observers
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            fault = scope.get(FAULT_KEY)
            self.service.record(
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=None if fault == "reset" else status,
                operation=scope.get(OPERATION_KEY, "unmatched"),
                body=scope.get(BODY_KEY),
                fault=fault,
            )

        def observe() -> None:
            observed = ObservedResponse(
                operation=scope.get(OPERATION_KEY, "unmatched"),
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status or 0,
                headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers},
                body=b"".join(chunks),
                fault=scope.get(FAULT_KEY),
                fault_has_own_body=bool(scope.get(FAULT_OWN_BODY_KEY)),
            )
            for observer in observers:
                observer(observed)

        async def send_and_watch(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                # Before anything leaves: a client that got its answer always finds the request journaled.
                record()
            elif message["type"] == "http.response.body" and observers:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    observe()  # before the last byte leaves, so the client never outruns the observers
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            record()  # no complete response: a dropped connection or an error


def _json_or_none(raw: bytes, content_type: str) -> Any:
    if not raw or "json" not in content_type or "connect" in content_type:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
