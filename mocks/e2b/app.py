"""The fake E2B's HTTP front: the control-plane REST API and, on the same port, envd.

Requests carrying an `E2b-Sandbox-Id` header are envd's (the SDK adds it when E2B_SANDBOX_URL points
every envd call at one URL); all others are the REST API's, authenticated by `X-API-Key`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mocks.common.admin import admin_routes
from mocks.common.operations import RecordingMiddleware, operation
from mocks.e2b.envd import SANDBOX_ID_HEADER, envd_not_found, envd_routes
from mocks.e2b.state import DEFAULT_TIMEOUT_SECONDS, FakeE2B, QuotaExceeded, e2b_error

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class BadRequest(Exception):
    pass


def parse_new_sandbox(raw: bytes) -> dict[str, Any]:
    """Validate a NewSandbox / NewSandboxV2 body the way the API's request validation does."""
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise BadRequest(f"Error when parsing request: {error}") from None
    if not isinstance(data, dict):
        raise BadRequest("Error when parsing request: the body must be a JSON object")
    template = data.get("templateID")
    if not isinstance(template, str) or not template:
        raise BadRequest('request body has an error: doesn\'t match schema: property "templateID" is missing')
    timeout = data.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
        raise BadRequest('request body has an error: property "timeout": value must be a non-negative integer')
    for name in ("metadata", "envVars"):
        value = data.get(name) or {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise BadRequest(f'request body has an error: property "{name}": value must be a map of strings')
    for name in ("autoPause", "secure", "allow_internet_access"):
        if name in data and not isinstance(data[name], bool):
            raise BadRequest(f'request body has an error: property "{name}": value must be a boolean')
    return data


def rest_routes(fake: FakeE2B) -> list[BaseRoute]:
    def unauthorized(request: Request) -> Response | None:
        key = request.headers.get("x-api-key")
        if not key:
            return e2b_error(401, "Missing API key, please provide it in the X-API-Key header")
        if not fake.is_valid_api_key(key):
            return e2b_error(401, "Invalid API key, please visit https://e2b.dev/docs/api-key for more information.")
        return None

    def sandbox_not_found(sandbox_id: str) -> Response:
        return e2b_error(404, f"sandbox \"{sandbox_id}\" doesn't exist or you don't have access to it")

    async def health(request: Request) -> Response:
        # The spec says 204; the project's contract asks every service for 200 when ready.
        return JSONResponse({"status": "ok"})

    async def create_sandbox(request: Request) -> Response:
        if denied := unauthorized(request):
            return denied
        try:
            data = parse_new_sandbox(await request.body())
        except BadRequest as error:
            return e2b_error(400, str(error))
        try:
            sandbox = fake.create_sandbox(
                data["templateID"],
                timeout=data.get("timeout", DEFAULT_TIMEOUT_SECONDS),
                metadata=data.get("metadata") or {},
                env_vars=data.get("envVars") or {},
            )
        except QuotaExceeded as error:
            return e2b_error(429, str(error))
        return JSONResponse(sandbox.to_json(), 201)

    async def list_sandboxes(request: Request) -> Response:
        if denied := unauthorized(request):
            return denied
        return JSONResponse([sandbox.to_listed_json() for sandbox in fake.running_sandboxes()])

    async def get_sandbox(request: Request) -> Response:
        if denied := unauthorized(request):
            return denied
        sandbox_id = request.path_params["sandbox_id"]
        sandbox = fake.get_sandbox(sandbox_id)
        if sandbox is None:
            return sandbox_not_found(sandbox_id)
        return JSONResponse(sandbox.to_detail_json())

    async def kill_sandbox(request: Request) -> Response:
        if denied := unauthorized(request):
            return denied
        sandbox_id = request.path_params["sandbox_id"]
        if not fake.kill_sandbox(sandbox_id):
            return sandbox_not_found(sandbox_id)
        return Response(status_code=204)

    async def set_sandbox_timeout(request: Request) -> Response:
        if denied := unauthorized(request):
            return denied
        try:
            data = json.loads(await request.body())
        except ValueError as error:
            return e2b_error(400, f"Error when parsing request: {error}")
        timeout = data.get("timeout") if isinstance(data, dict) else None
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
            return e2b_error(400, 'request body has an error: property "timeout" is missing or not an integer')
        sandbox_id = request.path_params["sandbox_id"]
        if not fake.set_timeout(sandbox_id, timeout):
            return sandbox_not_found(sandbox_id)
        return Response(status_code=204)

    return [
        Route("/health", operation(fake, "health", health), methods=["GET"]),
        Route("/sandboxes", operation(fake, "create_sandbox", create_sandbox), methods=["POST"]),
        Route("/v2/sandboxes", operation(fake, "create_sandbox", create_sandbox), methods=["POST"]),
        Route("/sandboxes", operation(fake, "list_sandboxes", list_sandboxes), methods=["GET"]),
        Route("/v2/sandboxes", operation(fake, "list_sandboxes", list_sandboxes), methods=["GET"]),
        Route("/sandboxes/{sandbox_id}", operation(fake, "get_sandbox", get_sandbox), methods=["GET"]),
        Route("/sandboxes/{sandbox_id}", operation(fake, "kill_sandbox", kill_sandbox), methods=["DELETE"]),
        Route(
            "/sandboxes/{sandbox_id}/timeout",
            operation(fake, "set_sandbox_timeout", set_sandbox_timeout),
            methods=["POST"],
        ),
    ]


async def rest_not_found(request: Request) -> Response:
    return e2b_error(404, f"Not found: {request.method} {request.url.path}")


class EnvdDispatch:
    """Send requests naming a sandbox (E2b-Sandbox-Id) to envd, the rest to the REST API."""

    def __init__(self, rest: ASGIApp, envd: ASGIApp) -> None:
        self.rest = rest
        self.envd = envd

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_envd = scope["type"] == "http" and any(
            name.lower() == SANDBOX_ID_HEADER.encode() for name, _ in scope["headers"]
        )
        await (self.envd if is_envd else self.rest)(scope, receive, send)


def build_app(fake: FakeE2B) -> ASGIApp:
    rest = Starlette(
        routes=[
            *admin_routes(fake),
            *rest_routes(fake),
            Route("/{path:path}", operation(fake, "not_found", rest_not_found), methods=ALL_METHODS),
        ]
    )
    envd = Starlette(
        routes=[
            *envd_routes(fake),
            Route("/{path:path}", operation(fake, "not_found", envd_not_found), methods=ALL_METHODS),
        ]
    )
    return RecordingMiddleware(EnvdDispatch(rest, envd), fake)
