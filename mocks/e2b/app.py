"""The fake E2B's HTTP front: the control-plane REST API and, on the same port, envd.

Requests carrying an `E2b-Sandbox-Id` header are envd's (the SDK adds it when E2B_SANDBOX_URL points
every envd call at one URL); all others are the REST API's, authenticated by `X-API-Key`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mocks.common.admin import admin_error, admin_routes, read_json_object
from mocks.common.operations import RecordingMiddleware, operation
from mocks.e2b import requests as checks
from mocks.e2b.envd import SANDBOX_ID_HEADER, envd_not_found, envd_routes
from mocks.e2b.requests import BadRequest
from mocks.e2b.scripted import InvalidScript, ScriptedCommand
from mocks.e2b.state import (
    API_DEFAULT_TIMEOUT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    FakeE2B,
    InvalidTimeout,
    QuotaExceeded,
    SandboxNotFound,
    SandboxState,
    WrongState,
    e2b_error,
    sandbox_not_found_message,
)

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
Handler = Callable[[Request], Awaitable[Response]]


def authenticated(fake: FakeE2B, handler: Handler) -> Handler:
    """`X-API-Key` as the API checks it: missing or unknown answers 401 in the Error shape."""

    async def endpoint(request: Request) -> Response:
        key = request.headers.get("x-api-key")
        if not key:
            return e2b_error(401, "Missing API key, please provide it in the X-API-Key header")
        if not fake.is_valid_api_key(key):
            return e2b_error(401, "Invalid API key, please visit https://e2b.dev/docs/api-key for more information.")
        try:
            return await handler(request)
        except BadRequest as error:
            return e2b_error(400, str(error))
        except InvalidTimeout as error:
            return e2b_error(400, str(error))
        except SandboxNotFound as error:
            return e2b_error(404, sandbox_not_found_message(error.args[0]))
        except WrongState as error:
            return e2b_error(409, str(error))
        except QuotaExceeded as error:
            return e2b_error(429, str(error))

    return endpoint


def rest_routes(fake: FakeE2B) -> list[BaseRoute]:
    def sandbox_id(request: Request) -> str:
        return request.path_params["sandbox_id"]

    async def health(request: Request) -> Response:
        # The spec says 204; the project's contract asks every service for 200 when ready.
        return JSONResponse({"status": "ok"})

    async def create_sandbox(request: Request) -> Response:
        data = checks.parse_body(await request.body(), checks.NEW_SANDBOX)
        sandbox = fake.create_sandbox(
            data["templateID"],
            timeout=data.get("timeout", API_DEFAULT_TIMEOUT_SECONDS),
            metadata=data.get("metadata") or {},
            env_vars=data.get("envVars") or {},
            auto_pause=data.get("autoPause", False),
        )
        return JSONResponse(sandbox.to_json(), 201)

    async def list_sandboxes_v1(request: Request) -> Response:
        """Deprecated GET /sandboxes: the running sandboxes, optionally filtered by metadata."""
        metadata = checks.parse_metadata_query(request.query_params.get("metadata"))
        listed = fake.list_sandboxes(states=[SandboxState.RUNNING], metadata=metadata)
        return JSONResponse([sandbox.to_listed_json() for sandbox in listed])

    async def list_sandboxes(request: Request) -> Response:
        """GET /v2/sandboxes: filters (metadata, state, template, startedAfter), order, cursor pagination."""
        query = request.query_params
        states = checks.parse_states(query.get("state"))
        metadata = checks.parse_metadata_query(query.get("metadata"))
        newest_first = checks.parse_order(query.get("order"))
        started_after = checks.parse_started_after(query.get("startedAfter"))
        limit = checks.parse_limit(query.get("limit"))
        cursor = checks.parse_page_token(query.get("nextToken"))
        listed = fake.list_sandboxes(
            states=[SandboxState(state) for state in states],
            metadata=metadata,
            template=query.get("template"),
            started_after=started_after,
            newest_first=newest_first,
        )
        if cursor is not None:
            keys = [(sandbox.started_at, sandbox.sandbox_id) for sandbox in listed]
            after = [index for index, key in enumerate(keys) if key == cursor]
            listed = listed[after[0] + 1 :] if after else listed
        page = listed[:limit]
        headers = {}
        if len(listed) > limit:
            headers["X-Next-Token"] = checks.page_token(page[-1].started_at, page[-1].sandbox_id)
        if "running" in states:
            headers["X-Total-Running"] = str(sum(1 for sandbox in listed if sandbox.running))
        return JSONResponse([sandbox.to_listed_json() for sandbox in page], headers=headers)

    async def get_sandbox(request: Request) -> Response:
        sandbox = fake.find_sandbox(sandbox_id(request))
        if sandbox is None:
            raise SandboxNotFound(sandbox_id(request))
        return JSONResponse(sandbox.to_detail_json())

    async def kill_sandbox(request: Request) -> Response:
        if not fake.kill_sandbox(sandbox_id(request)):
            raise SandboxNotFound(sandbox_id(request))
        return Response(status_code=204)

    async def set_sandbox_timeout(request: Request) -> Response:
        data = checks.parse_body(await request.body(), checks.TIMEOUT_REQUEST)
        if not fake.set_timeout(sandbox_id(request), data["timeout"]):
            raise SandboxNotFound(sandbox_id(request))
        return Response(status_code=204)

    async def refresh_sandbox(request: Request) -> Response:
        data = checks.parse_body(await request.body(), checks.REFRESH_REQUEST, required=False)
        if not fake.refresh(sandbox_id(request), data.get("duration")):
            raise SandboxNotFound(sandbox_id(request))
        return Response(status_code=204)

    async def pause_sandbox(request: Request) -> Response:
        checks.parse_body(await request.body(), checks.PAUSE_REQUEST, required=False)
        fake.pause(sandbox_id(request))
        return Response(status_code=204)

    async def resume_sandbox(request: Request) -> Response:
        data = checks.parse_body(await request.body(), checks.RESUME_REQUEST)
        sandbox = fake.resume(sandbox_id(request), data.get("timeout", API_DEFAULT_TIMEOUT_SECONDS))
        return JSONResponse(sandbox.to_json(), 201)

    def connect_endpoint(fields: dict[str, checks.Field]) -> Handler:
        async def connect_sandbox(request: Request) -> Response:
            """200 with the sandbox when it was running (its life only extended), 201 when it was resumed."""
            data = checks.parse_body(await request.body(), fields)
            sandbox, resumed = fake.connect(sandbox_id(request), data.get("timeout", DEFAULT_TIMEOUT_SECONDS))
            return JSONResponse(sandbox.to_json(), 201 if resumed else 200)

        return connect_sandbox

    def route(path: str, name: str, handler: Handler, method: str) -> Route:
        return Route(path, operation(fake, name, authenticated(fake, handler)), methods=[method])

    one = "/sandboxes/{sandbox_id}"
    return [
        Route("/health", operation(fake, "health", health), methods=["GET"]),
        route("/sandboxes", "create_sandbox", create_sandbox, "POST"),
        route("/v2/sandboxes", "create_sandbox", create_sandbox, "POST"),
        route("/sandboxes", "list_sandboxes", list_sandboxes_v1, "GET"),
        route("/v2/sandboxes", "list_sandboxes", list_sandboxes, "GET"),
        route(one, "get_sandbox", get_sandbox, "GET"),
        route(one, "kill_sandbox", kill_sandbox, "DELETE"),
        route(f"{one}/timeout", "set_sandbox_timeout", set_sandbox_timeout, "POST"),
        route(f"{one}/refreshes", "refresh_sandbox", refresh_sandbox, "POST"),
        route(f"{one}/pause", "pause_sandbox", pause_sandbox, "POST"),
        route(f"{one}/resume", "resume_sandbox", resume_sandbox, "POST"),
        route(f"{one}/connect", "connect_sandbox", connect_endpoint(checks.CONNECT_REQUEST), "POST"),
        route(f"/v2{one}/connect", "connect_sandbox", connect_endpoint(checks.CONNECT_V2_REQUEST), "POST"),
    ]


def scripted_command_routes(fake: FakeE2B) -> list[BaseRoute]:
    """E2B's own admin routes: GET / POST / DELETE /_fake/commands (scripted commands, see mocks.e2b.scripted)."""

    async def list_scripts(request: Request) -> Response:
        return JSONResponse([script.to_json() for script in fake.scripts.scripts()])

    async def add_script(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        try:
            script = fake.scripts.add(ScriptedCommand.from_json(data))
        except (InvalidScript, TypeError) as error:
            return admin_error(str(error))
        return JSONResponse(script.to_json(), 201)

    async def clear_scripts(request: Request) -> Response:
        fake.clear_scripted_commands()
        return Response(status_code=204)

    return [
        Route("/_fake/commands", list_scripts, methods=["GET"]),
        Route("/_fake/commands", add_script, methods=["POST"]),
        Route("/_fake/commands", clear_scripts, methods=["DELETE"]),
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
            *scripted_command_routes(fake),
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
