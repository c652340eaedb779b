"""The fake E2B's HTTP front: the control-plane REST API and, on the same port, envd.

Requests carrying an `E2b-Sandbox-Id` header are envd's (the SDK adds it when E2B_SANDBOX_URL points
every envd call at one URL); all others are the REST API's, authenticated by `X-API-Key`. A handler
parses the request (validation), asks the state and represents what it answers (representations);
what the state or the checks refuse comes back as an E2BError and is answered in E2B's Error shape.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from mocks.common.admin import admin_routes, book_routes
from mocks.common.operations import RecordingMiddleware
from mocks.common.routes import Endpoint, catch_all, starlette_routes
from mocks.e2b import envd
from mocks.e2b.envd import SANDBOX_ID_HEADER
from mocks.e2b.errors import e2b_error, error_response
from mocks.e2b.representations import listed_sandbox_json, page_headers, sandbox_detail_json, sandbox_json
from mocks.e2b.scripted import InvalidScript, ScriptedCommand
from mocks.e2b.state import (
    API_DEFAULT_TIMEOUT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    E2BError,
    FakeE2B,
    SandboxNotFound,
    SandboxQuery,
    SandboxState,
)
from mocks.e2b.validation import (
    CONNECT_REQUEST,
    CONNECT_V2_REQUEST,
    NEW_SANDBOX,
    PAUSE_REQUEST,
    REFRESH_REQUEST,
    RESUME_REQUEST,
    TIMEOUT_REQUEST,
    Field,
    parse_body,
    parse_limit,
    parse_metadata_query,
    parse_sandbox_query,
)

Handler = Callable[[FakeE2B, Request], Awaitable[Response]]


def authenticated(handler: Handler) -> Handler:
    """`X-API-Key` as the API checks it: missing or unknown answers 401 in the Error shape."""

    async def endpoint(fake: FakeE2B, request: Request) -> Response:
        key = request.headers.get("x-api-key")
        if not key:
            return e2b_error(401, "Missing API key, please provide it in the X-API-Key header")
        if not fake.is_valid_api_key(key):
            return e2b_error(401, "Invalid API key, please visit https://e2b.dev/docs/api-key for more information.")
        try:
            return await handler(fake, request)
        except E2BError as error:
            return error_response(error)

    return endpoint


def sandbox_id(request: Request) -> str:
    return request.path_params["sandbox_id"]


async def health(fake: FakeE2B, request: Request) -> Response:
    # The spec says 204; the project's contract asks every service for 200 when ready.
    return JSONResponse({"status": "ok"})


async def create_sandbox(fake: FakeE2B, request: Request) -> Response:
    """`secure` as the API's description has it: only then an envd access token, which envd then requires."""
    data = parse_body(await request.body(), NEW_SANDBOX)
    sandbox = await run_in_threadpool(  # making its namespaces takes milliseconds: not on the event loop
        functools.partial(
            fake.create_sandbox,
            data["templateID"],
            timeout=data.get("timeout", API_DEFAULT_TIMEOUT_SECONDS),
            metadata=data.get("metadata") or {},
            env_vars=data.get("envVars") or {},
            auto_pause=data.get("autoPause", False),
            secure=data.get("secure", False),
        )
    )
    return JSONResponse(sandbox_json(sandbox), 201)


async def list_sandboxes_v1(fake: FakeE2B, request: Request) -> Response:
    """Deprecated GET /sandboxes: the running sandboxes, optionally filtered by metadata."""
    metadata = parse_metadata_query(request.query_params.get("metadata"))
    listed = fake.list_sandboxes(SandboxQuery(states=(SandboxState.RUNNING,), metadata=metadata))
    return JSONResponse([listed_sandbox_json(sandbox) for sandbox in listed])


async def list_sandboxes(fake: FakeE2B, request: Request) -> Response:
    """GET /v2/sandboxes: filters (metadata, state, template, startedAfter), order, cursor pagination."""
    query = request.query_params
    page = fake.list_sandboxes_page(
        parse_sandbox_query(query), limit=parse_limit(query.get("limit")), next_token=query.get("nextToken")
    )
    return JSONResponse([listed_sandbox_json(sandbox) for sandbox in page.sandboxes], headers=page_headers(page))


async def get_sandbox(fake: FakeE2B, request: Request) -> Response:
    sandbox = fake.find_sandbox(sandbox_id(request))
    if sandbox is None:
        raise SandboxNotFound(sandbox_id(request))
    return JSONResponse(sandbox_detail_json(sandbox))


async def kill_sandbox(fake: FakeE2B, request: Request) -> Response:
    if not await run_in_threadpool(fake.kill_sandbox, sandbox_id(request)):  # waits for its processes to end
        raise SandboxNotFound(sandbox_id(request))
    return Response(status_code=204)


async def set_sandbox_timeout(fake: FakeE2B, request: Request) -> Response:
    data = parse_body(await request.body(), TIMEOUT_REQUEST)
    if not fake.set_timeout(sandbox_id(request), data["timeout"]):
        raise SandboxNotFound(sandbox_id(request))
    return Response(status_code=204)


async def refresh_sandbox(fake: FakeE2B, request: Request) -> Response:
    data = parse_body(await request.body(), REFRESH_REQUEST, required=False)
    if not fake.refresh(sandbox_id(request), data.get("duration")):
        raise SandboxNotFound(sandbox_id(request))
    return Response(status_code=204)


async def pause_sandbox(fake: FakeE2B, request: Request) -> Response:
    parse_body(await request.body(), PAUSE_REQUEST, required=False)
    fake.pause(sandbox_id(request))
    return Response(status_code=204)


async def resume_sandbox(fake: FakeE2B, request: Request) -> Response:
    data = parse_body(await request.body(), RESUME_REQUEST)
    sandbox = fake.resume(sandbox_id(request), data.get("timeout", API_DEFAULT_TIMEOUT_SECONDS))
    return JSONResponse(sandbox_json(sandbox), 201)


def connect_sandbox(fields: dict[str, Field]) -> Handler:
    async def connect(fake: FakeE2B, request: Request) -> Response:
        """200 with the sandbox when it was running (its life only extended), 201 when it was resumed."""
        data = parse_body(await request.body(), fields)
        sandbox, resumed = fake.connect(sandbox_id(request), data.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        return JSONResponse(sandbox_json(sandbox), 201 if resumed else 200)

    return connect


SANDBOX = "/sandboxes/{sandbox_id}"
# The REST API, authenticated by X-API-Key.
REST_ROUTES = [
    Endpoint("health", "GET", "/health", health),
    Endpoint("create_sandbox", "POST", "/sandboxes", authenticated(create_sandbox)),
    Endpoint("create_sandbox", "POST", "/v2/sandboxes", authenticated(create_sandbox)),
    Endpoint("list_sandboxes", "GET", "/sandboxes", authenticated(list_sandboxes_v1)),
    Endpoint("list_sandboxes", "GET", "/v2/sandboxes", authenticated(list_sandboxes)),
    Endpoint("get_sandbox", "GET", SANDBOX, authenticated(get_sandbox)),
    Endpoint("kill_sandbox", "DELETE", SANDBOX, authenticated(kill_sandbox)),
    Endpoint("set_sandbox_timeout", "POST", f"{SANDBOX}/timeout", authenticated(set_sandbox_timeout)),
    Endpoint("refresh_sandbox", "POST", f"{SANDBOX}/refreshes", authenticated(refresh_sandbox)),
    Endpoint("pause_sandbox", "POST", f"{SANDBOX}/pause", authenticated(pause_sandbox)),
    Endpoint("resume_sandbox", "POST", f"{SANDBOX}/resume", authenticated(resume_sandbox)),
    Endpoint("connect_sandbox", "POST", f"{SANDBOX}/connect", authenticated(connect_sandbox(CONNECT_REQUEST))),
    Endpoint("connect_sandbox", "POST", f"/v2{SANDBOX}/connect", authenticated(connect_sandbox(CONNECT_V2_REQUEST))),
]
# envd, on the same port, for the requests that name a sandbox in E2b-Sandbox-Id (authenticated by its
# access token).
ENVD_ROUTES = [
    Endpoint("envd_health", "GET", "/health", envd.health),
    Endpoint("files_read", "GET", "/files", envd.download_file),
    Endpoint("files_write", "POST", "/files", envd.upload_file),
    Endpoint("process_start", "POST", "/process.Process/Start", envd.process_start),
]
# The service's route table: the app serves each part on its side of the dispatch; the respx router
# (router.py) names its routes after all of it, the REST API's first.
ROUTES = [*REST_ROUTES, *ENVD_ROUTES]


def scripted_command_routes(fake: FakeE2B) -> list[BaseRoute]:
    """E2B's own admin routes: GET / POST / DELETE /_fake/commands (scripted commands, see mocks.e2b.scripted)."""
    return book_routes("/_fake/commands", fake.scripts, ScriptedCommand.from_json, (InvalidScript, TypeError))


async def rest_not_found(fake: FakeE2B, request: Request) -> Response:
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
            *starlette_routes(fake, REST_ROUTES, e2b_error),
            catch_all(fake, rest_not_found, e2b_error),
        ]
    )
    envd_app = Starlette(
        routes=[*starlette_routes(fake, ENVD_ROUTES, e2b_error), catch_all(fake, envd.not_found, e2b_error)]
    )
    return RecordingMiddleware(EnvdDispatch(rest, envd_app), fake)
