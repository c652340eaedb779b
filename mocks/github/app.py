"""The fake GitHub's HTTP front: the REST API subset the platform uses, git smart HTTP, and /_fake/ admin.

ROUTES is the service's route table: its operation names are those of faults, the journal and the respx
routes. A REST handler parses the request (validation.py), asks the state and represents what it answers
(representations.py); what the state or the checks refuse comes back as a GitHubError, which errors.py
words for the operation.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mocks.common.admin import admin_error, admin_routes, read_json_object
from mocks.common.operations import RecordingMiddleware
from mocks.common.routes import Endpoint, catch_all, starlette_routes
from mocks.github.errors import (
    OPERATION_DOCS,
    RATE_LIMIT_DOCS,
    error_response,
    github_error,
    not_found,
    secondary_rate_limited,
)
from mocks.github.git_http import basic_credentials, git_http
from mocks.github.rate_limits import ANONYMOUS
from mocks.github.representations import (
    NOT_FOUND_PAGE,
    branch_json,
    git_ref_json,
    link_header,
    permissions_json,
    pull_request_json,
    pull_request_page,
    rate_limit_json,
    repository_json,
    user_id,
)
from mocks.github.state import ROLES, FakeGitHub, GitHubError, NotFound, Repository, RepositoryExists
from mocks.github.validation import parse_new_pull_request, parse_pull_request_query, pull_number

API_HEADERS = {"x-github-media-type": "github.v3; format=json", "x-github-api-version-selected": "2022-11-28"}
CONTENT_CREATING = frozenset({"create_pull_request"})
REQUEST_ID_KEY = "fake.github_request_id"
Handler = Callable[[FakeGitHub, Request], Awaitable[Response]]


def api_token(header: str | None) -> str | None:
    """The token of `Authorization: Bearer T`, `token T` or Basic with the token as password."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token"):
        return value.strip()
    if scheme.lower() == "basic":
        credentials = basic_credentials(header)
        return credentials[1] if credentials else ""
    return ""


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def rest(name: str, method: str, path: str, handler: Handler, *, anonymous: bool = False) -> Endpoint:
    """A REST operation: authentication and the rate limits, as GitHub applies them to every REST call."""

    async def endpoint(fake: FakeGitHub, request: Request) -> Response:
        token = api_token(request.headers.get("authorization"))
        if token is None and not anonymous:
            window = fake.rate_limits.peek(ANONYMOUS)
            response: Response = github_error(401, "Requires authentication", documentation_url=OPERATION_DOCS[name])
        elif token is not None and not fake.is_valid_token(token):
            window = fake.rate_limits.peek(ANONYMOUS)
            response = github_error(401, "Bad credentials")
        else:
            key = token or ANONYMOUS
            secondary = fake.rate_limits.check_secondary(key, creates_content=name in CONTENT_CREATING)
            if secondary is not None:
                window = fake.rate_limits.peek(key)
                request_id = request.scope.get(REQUEST_ID_KEY, "")
                response = secondary_rate_limited(secondary.status, secondary.retry_after, request_id)
            else:
                if name == "get_rate_limit":  # asking for the rate limit does not count against it
                    window, allowed = fake.rate_limits.peek(key), True
                else:
                    window, allowed = fake.rate_limits.consume(key)
                if allowed:
                    try:
                        response = await handler(fake, request)
                    except GitHubError as error:
                        response = error_response(name, error)
                    except KeyError:  # the repository went away meanwhile (reset)
                        response = not_found(name)
                else:
                    response = github_error(
                        window.status,
                        f"API rate limit exceeded for user ID {user_id(fake.user_login)}.",
                        documentation_url=RATE_LIMIT_DOCS,
                    )
        response.headers.update({**API_HEADERS, **window.headers()})
        return response

    return Endpoint(name, method, path, endpoint)


def request_token(request: Request) -> str | None:
    return api_token(request.headers.get("authorization"))


def repository(fake: FakeGitHub, request: Request) -> Repository:
    """The repository of the path, as the request's token sees it: 404 when it has no access."""
    return fake.repository(request.path_params["owner"], request.path_params["repo"], request_token(request) or "")


async def get_repository(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    api = base_url(request)
    return JSONResponse(repository_json(repo, api, fake.clone_url(repo, api), repo.role(request_token(request))))


async def get_branch(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    branch = await run_in_threadpool(fake.get_branch, repo.owner, repo.name, request.path_params["branch"])
    if branch is None:
        raise NotFound("Branch not found")
    return JSONResponse(branch_json(repo, branch, base_url(request)))


async def get_ref(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    ref = request.path_params["ref"]
    found = await run_in_threadpool(fake.get_ref, repo.owner, repo.name, ref)
    if found is None:
        raise NotFound()
    return JSONResponse(git_ref_json(repo, ref, *found, base_url(request)))


async def list_pull_requests(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    query = parse_pull_request_query(request.query_params)
    page = await run_in_threadpool(fake.list_pull_requests, repo.owner, repo.name, query)
    api = base_url(request)
    clone_url = fake.clone_url(repo, api)
    role = repo.role(request_token(request))
    response = JSONResponse(
        [pull_request_json(repo, pull, api, clone_url, full=False, role=role) for pull in page.pulls]
    )
    link = link_header(page, lambda number: str(request.url.include_query_params(page=number)))
    if link is not None:
        response.headers["link"] = link
    return response


async def create_pull_request(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    data = parse_new_pull_request(await request.body())
    pull = await run_in_threadpool(
        lambda: fake.create_pull_request(
            repo.owner,
            repo.name,
            head=data["head"],
            base=data["base"],
            title=data["title"],
            body=data.get("body"),
            draft=bool(data.get("draft", False)),
            maintainer_can_modify=bool(data.get("maintainer_can_modify", False)),
        )
    )
    api = base_url(request)
    body = pull_request_json(repo, pull, api, fake.clone_url(repo, api), role=repo.role(request_token(request)))
    return JSONResponse(body, 201, headers={"location": body["url"]})


async def get_pull_request(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    number = pull_number(request.path_params["number"])
    pull = await run_in_threadpool(fake.get_pull_request, repo.owner, repo.name, number)
    if pull is None:
        raise NotFound()
    api = base_url(request)
    return JSONResponse(
        pull_request_json(repo, pull, api, fake.clone_url(repo, api), role=repo.role(request_token(request)))
    )


async def get_rate_limit(fake: FakeGitHub, request: Request) -> Response:
    token = api_token(request.headers.get("authorization")) or ANONYMOUS
    window = fake.rate_limits.peek(token)
    return JSONResponse(rate_limit_json(window, int(fake.time()) + 3600))


def git_service(service_path: str) -> Handler:
    async def handler(fake: FakeGitHub, request: Request) -> Response:
        return await git_http(fake, request, service_path)

    return handler


async def web_pull_request(fake: FakeGitHub, request: Request) -> Response:
    repo = fake.get_repo(request.path_params["owner"], request.path_params["repo"])
    number = request.path_params["number"]
    pull = None
    if repo is not None and number.isdigit():
        pull = await run_in_threadpool(fake.get_pull_request, repo.owner, repo.name, int(number))
    if repo is None or pull is None:
        return HTMLResponse(NOT_FOUND_PAGE, 404)
    return HTMLResponse(pull_request_page(repo, pull))


async def health(fake: FakeGitHub, request: Request) -> Response:
    return JSONResponse({"status": "ok"})


REPO = "/repos/{owner}/{repo}"
GIT = "/{owner}/{repo}"
# The service's route table, in the order the app matches it (the respx router's named routes too).
ROUTES = [
    rest("get_repository", "GET", REPO, get_repository),
    rest("get_branch", "GET", f"{REPO}/branches/{{branch:path}}", get_branch),
    rest("get_ref", "GET", f"{REPO}/git/ref/{{ref:path}}", get_ref),
    rest("list_pull_requests", "GET", f"{REPO}/pulls", list_pull_requests),
    rest("create_pull_request", "POST", f"{REPO}/pulls", create_pull_request),
    rest("get_pull_request", "GET", f"{REPO}/pulls/{{number}}", get_pull_request),
    rest("get_rate_limit", "GET", "/rate_limit", get_rate_limit, anonymous=True),
    Endpoint("git_info_refs", "GET", f"{GIT}/info/refs", git_service("info/refs")),
    Endpoint("git_upload_pack", "POST", f"{GIT}/git-upload-pack", git_service("git-upload-pack")),
    Endpoint("git_receive_pack", "POST", f"{GIT}/git-receive-pack", git_service("git-receive-pack")),
    Endpoint("health", "GET", "/health", health),
    Endpoint("web_pull_request", "GET", f"{GIT}/pull/{{number}}", web_pull_request),
]


def fake_admin_routes(fake: FakeGitHub) -> list[BaseRoute]:
    """Besides the common admin API (mocks.common.admin):

    - POST /_fake/repos {"owner", "name", "default_branch"?}           -> 201 {full_name, clone_url, ...}
    - GET  /_fake/repos/{owner}/{repo}/branches/{branch}/log             -> 200 {"commits": [{sha, message}]}
    - POST /_fake/rate_limit {"token", "remaining"?, "limit"?, "reset"?, "status"? (403|429)} -> 200 window
    - POST /_fake/secondary_rate_limit {"token"? (absent: all), "retry_after"? (60), "status"? (403|429)} -> 204
    - DELETE /_fake/repos/{owner}/{repo}                                 -> 204 (404: no such repository)
    - POST /_fake/repos/{owner}/{repo}/permissions {"token", "permission": none|pull|triage|push|maintain|admin}
                                                                         -> 200 {"permission", "permissions"}
    """

    async def create_repo(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        owner, name = data.get("owner"), data.get("name")
        default_branch = data.get("default_branch") or "main"
        if not isinstance(owner, str) or not isinstance(name, str) or not isinstance(default_branch, str):
            return admin_error("owner and name (strings) are required")
        try:
            repo = await run_in_threadpool(fake.create_repo, owner, name, default_branch)
        except ValueError as error:
            return admin_error(str(error))
        except RepositoryExists as error:
            return admin_error(str(error), 409)
        return JSONResponse(
            {
                "full_name": repo.full_name,
                "clone_url": fake.clone_url(repo, base_url(request)),
                "default_branch": repo.default_branch,
                "html_url": f"{base_url(request)}/{repo.full_name}",
            },
            201,
        )

    async def branch_log(request: Request) -> Response:
        params = request.path_params
        try:
            commits = await run_in_threadpool(fake.branch_log, params["owner"], params["repo"], params["branch"])
        except KeyError as error:
            return admin_error(str(error.args[0]), 404)
        return JSONResponse({"commits": commits})

    async def set_rate_limit(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        token = data.get("token")
        values = {key: data.get(key) for key in ("remaining", "limit", "reset", "status")}
        if not isinstance(token, str) or not all(
            value is None or (isinstance(value, int) and not isinstance(value, bool)) for value in values.values()
        ):
            return admin_error("token (string) and integer remaining/limit/reset/status are required")
        try:
            fake.set_rate_limit(token, **values)
        except ValueError as error:
            return admin_error(str(error))
        return JSONResponse(fake.rate_limit(token).to_json())

    async def trip_secondary_rate_limit(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        token, retry_after, status = data.get("token"), data.get("retry_after", 60), data.get("status", 403)
        if token is not None and not isinstance(token, str):
            return admin_error("token must be a string (or absent: every token)")
        if not isinstance(retry_after, int) or isinstance(retry_after, bool) or not isinstance(status, int):
            return admin_error("retry_after and status must be integers")
        try:
            fake.trip_secondary_rate_limit(token, retry_after=retry_after, status=status)
        except ValueError as error:
            return admin_error(str(error))
        return Response(status_code=204)

    async def set_permission(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        token, role = data.get("token"), data.get("permission")
        if not isinstance(token, str) or not token or not isinstance(role, str):
            return admin_error(f"token and permission ({', '.join(ROLES)}) are required strings")
        params = request.path_params
        try:
            fake.set_permission(params["owner"], params["repo"], token, role)
        except ValueError as error:
            return admin_error(str(error))
        except KeyError as error:
            return admin_error(str(error.args[0]), 404)
        return JSONResponse({"permission": role, "permissions": permissions_json(role)})

    async def delete_repo(request: Request) -> Response:
        try:
            await run_in_threadpool(fake.delete_repo, request.path_params["owner"], request.path_params["repo"])
        except KeyError as error:
            return admin_error(str(error.args[0]), 404)
        return Response(status_code=204)

    return [
        Route("/_fake/repos", create_repo, methods=["POST"]),
        Route("/_fake/repos/{owner}/{repo}", delete_repo, methods=["DELETE"]),
        Route("/_fake/repos/{owner}/{repo}/permissions", set_permission, methods=["POST"]),
        Route("/_fake/repos/{owner}/{repo}/branches/{branch:path}/log", branch_log, methods=["GET"]),
        Route("/_fake/rate_limit", set_rate_limit, methods=["POST"]),
        Route("/_fake/secondary_rate_limit", trip_secondary_rate_limit, methods=["POST"]),
    ]


async def rest_not_found(fake: FakeGitHub, request: Request) -> Response:
    return not_found()


class RequestIdMiddleware:
    """Every GitHub response carries an `x-github-request-id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ":".join(secrets.token_hex(n).upper() for n in (2, 2, 3, 3, 4))
        scope[REQUEST_ID_KEY] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-github-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def build_app(fake: FakeGitHub) -> ASGIApp:
    app = Starlette(
        routes=[
            *admin_routes(fake),
            *fake_admin_routes(fake),
            *starlette_routes(fake, ROUTES, github_error),
            catch_all(fake, rest_not_found, github_error),
        ]
    )
    return RecordingMiddleware(RequestIdMiddleware(app), fake)
