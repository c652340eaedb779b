"""The fake GitHub's HTTP front: the REST API subset the platform uses, git smart HTTP, and /_fake/ admin.

REST operations (names used by faults, the journal and the respx routes):
get_repository, get_branch, get_ref, list_pull_requests, create_pull_request, get_pull_request,
get_rate_limit; git: git_info_refs, git_upload_pack, git_receive_pack; web_pull_request (a page for
html_url); health.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

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
    github_error,
    invalid_request,
    not_found,
    problems_parsing_json,
    secondary_rate_limited,
    validation_failed,
)
from mocks.github.git_http import basic_credentials, git_http
from mocks.github.rate_limits import ANONYMOUS
from mocks.github.representations import (
    branch_json,
    git_ref_json,
    pull_request_json,
    rate_limit_json,
    repository_json,
    user_id,
)
from mocks.github.state import FakeGitHub, Repository, RepositoryExists, ValidationFailed

API_HEADERS = {"x-github-media-type": "github.v3; format=json", "x-github-api-version-selected": "2022-11-28"}
PULL_STATES = ("open", "closed", "all")
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


def find_repo(fake: FakeGitHub, request: Request) -> Repository | None:
    return fake.get_repo(request.path_params["owner"], request.path_params["repo"])


async def get_repository(fake: FakeGitHub, request: Request) -> Response:
    repo = find_repo(fake, request)
    if repo is None:
        return not_found("get_repository")
    return JSONResponse(repository_json(repo, base_url(request), fake.clone_url(repo, base_url(request))))


async def get_branch(fake: FakeGitHub, request: Request) -> Response:
    repo = find_repo(fake, request)
    if repo is None:
        return not_found("get_branch")
    branch = await run_in_threadpool(fake.get_branch, repo.owner, repo.name, request.path_params["branch"])
    if branch is None:
        return github_error(404, "Branch not found", documentation_url=OPERATION_DOCS["get_branch"])
    return JSONResponse(branch_json(repo, branch, base_url(request)))


async def get_ref(fake: FakeGitHub, request: Request) -> Response:
    repo = find_repo(fake, request)
    if repo is None:
        return not_found("get_ref")
    ref = request.path_params["ref"]
    found = await run_in_threadpool(fake.get_ref, repo.owner, repo.name, ref)
    if found is None:
        return not_found("get_ref")
    return JSONResponse(git_ref_json(repo, ref, *found, base_url(request)))


async def list_pull_requests(fake: FakeGitHub, request: Request) -> Response:
    repo = find_repo(fake, request)
    if repo is None:
        return not_found("list_pull_requests")
    query = request.query_params
    state = query.get("state", "open")
    if state not in PULL_STATES:
        return invalid_request("list_pull_requests", f"For 'state', \"{state}\" is not one of {list(PULL_STATES)}.")
    try:
        per_page = min(100, max(1, int(query.get("per_page", "30"))))
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        return invalid_request("list_pull_requests", "per_page and page must be integers.")
    pulls = await run_in_threadpool(fake.pull_requests, repo.owner, repo.name)
    head = query.get("head")
    if head:
        head_owner, _, head_ref = head.rpartition(":")
        pulls = [
            pull
            for pull in pulls
            if pull.head_ref == head_ref and (not head_owner or head_owner.lower() == repo.owner.lower())
        ]
    if query.get("base"):
        pulls = [pull for pull in pulls if pull.base_ref == query["base"]]
    if state != "all":
        pulls = [pull for pull in pulls if pull.state == state]
    newest_first = query.get("direction", "desc" if query.get("sort", "created") == "created" else "asc") == "desc"
    sort_key = "updated_at" if query.get("sort") in ("updated", "long-running") else "created_at"
    pulls.sort(key=lambda pull: (getattr(pull, sort_key), pull.number), reverse=newest_first)
    page_items = pulls[(page - 1) * per_page : page * per_page]
    api = base_url(request)
    clone_url = fake.clone_url(repo, api)
    response = JSONResponse([pull_request_json(repo, pull, api, clone_url, full=False) for pull in page_items])
    last_page = max(1, -(-len(pulls) // per_page))
    if last_page > 1:
        response.headers["link"] = pagination_links(request, page, last_page)
    return response


async def create_pull_request(fake: FakeGitHub, request: Request) -> Response:
    name = "create_pull_request"
    repo = find_repo(fake, request)
    if repo is None:
        return not_found(name)
    try:
        data = json.loads(await request.body())
    except ValueError:
        return problems_parsing_json(name)
    if not isinstance(data, dict):
        return invalid_request(name, f"For 'links/0/schema', {json.dumps(data)} is not an object.")
    missing = [field for field in ("base", "head") if field not in data]
    if missing:
        quoted = ", ".join(f'"{field}"' for field in missing)
        return invalid_request(name, f"{quoted} {'wasn' if len(missing) == 1 else 'weren'}'t supplied.")
    problem = type_problem(data)
    if problem:
        return invalid_request(name, problem)
    if not data.get("title"):
        return validation_failed(name, [{"resource": "PullRequest", "code": "missing_field", "field": "title"}])
    try:
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
    except ValidationFailed as error:
        return validation_failed(name, error.errors, error.message)
    api = base_url(request)
    body = pull_request_json(repo, pull, api, fake.clone_url(repo, api))
    return JSONResponse(body, 201, headers={"location": body["url"]})


async def get_pull_request(fake: FakeGitHub, request: Request) -> Response:
    repo = find_repo(fake, request)
    number = request.path_params["number"]
    if repo is None or not number.isdigit():
        return not_found("get_pull_request")
    pull = await run_in_threadpool(fake.get_pull_request, repo.owner, repo.name, int(number))
    if pull is None:
        return not_found("get_pull_request")
    api = base_url(request)
    return JSONResponse(pull_request_json(repo, pull, api, fake.clone_url(repo, api)))


async def get_rate_limit(fake: FakeGitHub, request: Request) -> Response:
    token = api_token(request.headers.get("authorization")) or ANONYMOUS
    window = fake.rate_limits.peek(token)
    return JSONResponse(rate_limit_json(window, int(fake.time()) + 3600))


def type_problem(data: dict[str, Any]) -> str | None:
    """GitHub's schema message for the first field of the wrong type, if any."""
    expected: dict[str, type | tuple[type, ...]] = {
        "title": str,
        "head": str,
        "base": str,
        "body": (str, type(None)),
        "head_repo": str,
        "draft": bool,
        "maintainer_can_modify": bool,
    }
    for field, kind in expected.items():
        if field in data and not isinstance(data[field], kind):
            wanted = "a boolean" if kind is bool else "a string"
            return f"For 'properties/{field}', {json.dumps(data[field])} is not {wanted}."
    return None


def pagination_links(request: Request, page: int, last: int) -> str:
    def link(number: int, rel: str) -> str:
        return f'<{request.url.include_query_params(page=number)}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return ", ".join(links)


def git_service(service_path: str) -> Handler:
    async def handler(fake: FakeGitHub, request: Request) -> Response:
        return await git_http(fake, request, service_path)

    return handler


async def pull_request_page(fake: FakeGitHub, request: Request) -> Response:
    """A stand-in for github.com's pull request page, so html_url opens in a browser."""
    repo = fake.get_repo(request.path_params["owner"], request.path_params["repo"])
    number = request.path_params["number"]
    pull = None
    if repo is not None and number.isdigit():
        pull = await run_in_threadpool(fake.get_pull_request, repo.owner, repo.name, int(number))
    if repo is None or pull is None:
        return HTMLResponse("<h1>404</h1><p>This is not the web page you are looking for.</p>", 404)
    title = html.escape(pull.title)
    return HTMLResponse(
        f"<!doctype html><title>{title} · Pull Request #{pull.number} · {html.escape(repo.full_name)}</title>"
        f"<h1>{title} <span>#{pull.number}</span></h1>"
        f"<p class='state'>{pull.state}</p>"
        f"<p>{html.escape(repo.owner)}:{html.escape(pull.head_ref)} → {html.escape(pull.base_ref)}</p>"
        f"<pre>{html.escape(pull.body or '')}</pre>"
    )


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
    Endpoint("web_pull_request", "GET", f"{GIT}/pull/{{number}}", pull_request_page),
]


def fake_admin_routes(fake: FakeGitHub) -> list[BaseRoute]:
    """Besides the common admin API (mocks.common.admin):

    - POST /_fake/repos {"owner", "name", "default_branch"?}           -> 201 {full_name, clone_url, ...}
    - GET  /_fake/repos/{owner}/{repo}/branches/{branch}/log             -> 200 {"commits": [{sha, message}]}
    - POST /_fake/rate_limit {"token", "remaining"?, "limit"?, "reset"?, "status"? (403|429)} -> 200 window
    - POST /_fake/secondary_rate_limit {"token"? (absent: all), "retry_after"? (60), "status"? (403|429)} -> 204
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

    return [
        Route("/_fake/repos", create_repo, methods=["POST"]),
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
