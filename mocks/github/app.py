"""The fake GitHub's HTTP front: the REST API subset the platform uses, git smart HTTP, and /_fake/ admin.

ROUTES is the service's route table: its operation names are those of faults, the journal and the respx
routes. A REST handler parses the request (validation.py), asks the state and represents what it answers
(representations.py); what the state or the checks refuse comes back as a GitHubError, which errors.py
words for the operation.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Scope

from mocks.common.admin import AdminTable, admin_error, admin_routes, settings_route
from mocks.common.deliverers import ThreadedDeliverer
from mocks.common.operations import RecordingMiddleware
from mocks.common.response_headers import Headers, ResponseHeadersMiddleware
from mocks.common.routes import Endpoint, catch_all, starlette_routes
from mocks.github.errors import (
    OPERATION_DOCS,
    RATE_LIMIT_DOCS,
    error_response,
    github_error,
    not_found,
    secondary_rate_limited,
)
from mocks.github.events import payload_builder
from mocks.github.git_http import basic_credentials, git_http
from mocks.github.rate_limits import ANONYMOUS
from mocks.github.representations import (
    NOT_FOUND_PAGE,
    branch_json,
    deliveries_link,
    delivery_item_json,
    delivery_json,
    full_repository_json,
    git_ref_json,
    hook_config_json,
    hook_json,
    issue_comment_json,
    link_header,
    merge_result_json,
    permissions_json,
    pull_request_json,
    pull_request_page,
    rate_limit_json,
    review_comment_json,
    review_json,
    user_id,
)
from mocks.github.state import ROLES, FakeGitHub, GitHubError, NotFound, PullRequest, Repository, RepositoryExists
from mocks.github.validation import (
    CURSOR_PREFIX,
    ISSUE_COMMENT,
    MERGE,
    PULL_REQUEST_UPDATE,
    REVIEW,
    REVIEW_COMMENT,
    parse_deliveries_query,
    parse_hook,
    parse_hook_config_update,
    parse_hook_update,
    parse_issue_comment,
    parse_merge,
    parse_new_pull_request,
    parse_pull_request_query,
    parse_pull_request_update,
    parse_review,
    parse_review_comment,
    path_id,
    pull_number,
)
from mocks.github.webhooks import Delivery, Hook

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
API_HEADERS = {"x-github-media-type": "github.v3; format=json", "x-github-api-version-selected": "2022-11-28"}
# What GitHub's secondary limit counts as creating content: pull requests, reviews and comments.
CONTENT_CREATING = frozenset({"create_pull_request", "create_review", "create_review_comment", "create_issue_comment"})
REQUEST_ID_KEY = "fake.github_request_id"
# What POST /_fake/rate_limits may change.
RATE_LIMIT_SETTINGS = frozenset({"content_creation_per_minute"})
Handler = Callable[[FakeGitHub, Request], Awaitable[Response]]
T = TypeVar("T")
C = TypeVar("C")  # a kind of comment


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
                        f"API rate limit exceeded for user ID {user_id(fake.login_for(token))}.",
                        documentation_url=RATE_LIMIT_DOCS,
                    )
        response.headers.update({**API_HEADERS, **window.headers()})
        # GitHub names the charset of its JSON (as recorded; starlette's JSONResponse does not).
        if response.headers.get("content-type") == "application/json":
            response.headers["content-type"] = JSON_CONTENT_TYPE
        return response

    return Endpoint(name, method, path, endpoint)


def request_token(request: Request) -> str | None:
    return api_token(request.headers.get("authorization"))


def repository(fake: FakeGitHub, request: Request) -> Repository:
    """The repository of the path, as the request's token sees it: 404 when it has no access."""
    return fake.repository(request.path_params["owner"], request.path_params["repo"], request_token(request) or "")


def pull_of(fake: FakeGitHub, request: Request) -> tuple[Repository, int]:
    """The repository of the path (as `repository`) and the number of its pull request the path names."""
    return repository(fake, request), pull_number(request.path_params["number"])


async def read_pull(fake: FakeGitHub, repo: Repository, number: int) -> PullRequest:
    """The repository's pull request `number`, as it is now (404 when there is none)."""
    _, pull = await run_in_threadpool(fake.pull_request, repo.owner, repo.name, number)
    return pull


async def get_repository(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    api = base_url(request)
    return JSONResponse(full_repository_json(repo, api, fake.clone_url(repo, api), repo.role(request_token(request))))


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
            user_login=acting_login(fake, request),
            api_url=base_url(request),
        )
    )
    api = base_url(request)
    body = pull_request_json(repo, pull, api, fake.clone_url(repo, api), role=repo.role(request_token(request)))
    return JSONResponse(body, 201, headers={"location": body["url"]})


async def get_pull_request(fake: FakeGitHub, request: Request) -> Response:
    repo, number = pull_of(fake, request)
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


# -- pull requests: updates, merges, reviews, comments ------------------------------------------------------
def acting_login(fake: FakeGitHub, request: Request) -> str:
    """The login of the user whose token made the request: what it does is done by them."""
    return fake.login_for(request_token(request))


def created(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, 201, headers={"location": body["url"]})


async def act_on_pull(
    fake: FakeGitHub,
    request: Request,
    parse: Callable[[bytes], dict[str, Any]],
    action: Callable[..., T],
    fields: dict[str, Any],
    **defaults: Any,
) -> tuple[Repository, int, T, str]:
    """The acting user does `action` (a FakeGitHub method) to the path's pull request, in a worker thread, with
    the `fields` (the body's schema in validation.py) of the body `parse` reads; an absent one is its default or None.

    Returns the repository, the pull request's number, what `action` answered and the API's base URL."""
    repo, number = pull_of(fake, request)
    data = parse(await request.body())
    values = {field: data.get(field, defaults.get(field)) for field in fields}
    api, login = base_url(request), acting_login(fake, request)
    done = await run_in_threadpool(lambda: action(repo.owner, repo.name, number, login=login, api_url=api, **values))
    return repo, number, done, api


async def update_pull_request(fake: FakeGitHub, request: Request) -> Response:
    repo, _, pull, api = await act_on_pull(
        fake, request, parse_pull_request_update, fake.update_pull_request, PULL_REQUEST_UPDATE
    )
    role = repo.role(request_token(request))
    return JSONResponse(pull_request_json(repo, pull, api, fake.clone_url(repo, api), role=role))


async def merge_pull_request(fake: FakeGitHub, request: Request) -> Response:
    _, _, sha, _ = await act_on_pull(fake, request, parse_merge, fake.merge_pull_request, MERGE, merge_method="merge")
    return JSONResponse(merge_result_json(sha))


async def check_if_merged(fake: FakeGitHub, request: Request) -> Response:
    repo, number = pull_of(fake, request)
    merged = await run_in_threadpool(fake.is_merged, repo.owner, repo.name, number)
    return Response(status_code=204 if merged else 404)  # no body either way, as GitHub answers


async def list_reviews(fake: FakeGitHub, request: Request) -> Response:
    repo, number = pull_of(fake, request)
    pull = await read_pull(fake, repo, number)
    api = base_url(request)
    return JSONResponse([review_json(repo, pull, review, api) for review in list(pull.reviews)])


async def create_review(fake: FakeGitHub, request: Request) -> Response:
    repo, number, review, api = await act_on_pull(fake, request, parse_review, fake.create_review, REVIEW, comments=[])
    pull = await read_pull(fake, repo, number)
    return JSONResponse(review_json(repo, pull, review, api))


async def get_review(fake: FakeGitHub, request: Request) -> Response:
    repo, number = pull_of(fake, request)
    review_id = path_id(request.path_params["review_id"])
    pull = await read_pull(fake, repo, number)
    review = next((review for review in list(pull.reviews) if review.id == review_id), None)
    if review is None:
        raise NotFound()
    return JSONResponse(review_json(repo, pull, review, base_url(request)))


def comment_handlers(
    parse: Callable[[bytes], dict[str, Any]],
    create: Callable[[FakeGitHub], Callable[..., C]],
    fields: dict[str, Any],
    represent: Callable[[Repository, PullRequest, C, str], dict[str, Any]],
    listed: Callable[[PullRequest], Iterable[C]],
    **defaults: Any,
) -> tuple[Handler, Handler]:
    """GET and POST of a pull request's comments: review comments (on lines of the diff) and issue comments
    (on the conversation) are listed and created alike, each kind with its own body, state call and JSON."""

    async def list_comments(fake: FakeGitHub, request: Request) -> Response:
        repo, number = pull_of(fake, request)
        pull = await read_pull(fake, repo, number)
        api = base_url(request)
        return JSONResponse([represent(repo, pull, comment, api) for comment in listed(pull)])

    async def create_comment(fake: FakeGitHub, request: Request) -> Response:
        # parse has made sure of the body: every comment needs one.
        repo, number, comment, api = await act_on_pull(fake, request, parse, create(fake), fields, **defaults)
        pull = await read_pull(fake, repo, number)
        return created(represent(repo, pull, comment, api))

    return list_comments, create_comment


list_review_comments, create_review_comment = comment_handlers(
    parse_review_comment,
    lambda fake: fake.create_review_comment,
    REVIEW_COMMENT,
    review_comment_json,
    lambda pull: pull.visible_review_comments(),
    subject_type="line",
)
list_issue_comments, create_issue_comment = comment_handlers(
    parse_issue_comment,
    lambda fake: fake.create_issue_comment,
    ISSUE_COMMENT,
    issue_comment_json,
    lambda pull: list(pull.issue_comments),
)


# -- repository webhooks -----------------------------------------------------------------------------
def hook_of(fake: FakeGitHub, request: Request) -> tuple[Repository, Hook]:
    repo = repository(fake, request)
    return repo, fake.hook(repo.owner, repo.name, path_id(request.path_params["hook_id"]))


async def create_hook(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    data = parse_hook(await request.body())
    config = data.get("config") or {}
    api = base_url(request)
    hook = await run_in_threadpool(
        lambda: fake.create_hook(
            repo.owner,
            repo.name,
            url=config["url"],
            content_type=config.get("content_type", "form"),
            secret=config.get("secret"),
            insecure_ssl=str(config.get("insecure_ssl", "0")),
            events=data.get("events", ["push"]),
            active=data.get("active", True),
            login=acting_login(fake, request),
            api_url=api,
        )
    )
    return created(hook_json(hook, api))


async def list_hooks(fake: FakeGitHub, request: Request) -> Response:
    repo = repository(fake, request)
    return JSONResponse([hook_json(hook, base_url(request)) for hook in fake.hooks(repo.owner, repo.name)])


async def get_hook(fake: FakeGitHub, request: Request) -> Response:
    _, hook = hook_of(fake, request)
    return JSONResponse(hook_json(hook, base_url(request)))


async def update_hook(fake: FakeGitHub, request: Request) -> Response:
    repo, hook = hook_of(fake, request)
    data = parse_hook_update(await request.body())
    updated = fake.update_hook(
        repo.owner,
        repo.name,
        hook.id,
        config=data.get("config"),
        events=data.get("events"),
        add_events=data.get("add_events", []),
        remove_events=data.get("remove_events", []),
        active=data.get("active"),
    )
    return JSONResponse(hook_json(updated, base_url(request)))


async def delete_hook(fake: FakeGitHub, request: Request) -> Response:
    repo, hook = hook_of(fake, request)
    fake.delete_hook(repo.owner, repo.name, hook.id)
    return Response(status_code=204)


async def ping_hook(fake: FakeGitHub, request: Request) -> Response:
    repo, hook = hook_of(fake, request)
    login, api = acting_login(fake, request), base_url(request)
    await run_in_threadpool(lambda: fake.ping_hook(repo.owner, repo.name, hook.id, login=login, api_url=api))
    return Response(status_code=204)


async def test_hook(fake: FakeGitHub, request: Request) -> Response:
    repo, hook = hook_of(fake, request)
    login, api = acting_login(fake, request), base_url(request)
    await run_in_threadpool(lambda: fake.test_hook(repo.owner, repo.name, hook.id, login=login, api_url=api))
    return Response(status_code=204)


async def get_hook_config(fake: FakeGitHub, request: Request) -> Response:
    _, hook = hook_of(fake, request)
    return JSONResponse(hook_config_json(hook))


async def update_hook_config(fake: FakeGitHub, request: Request) -> Response:
    repo, hook = hook_of(fake, request)
    config = parse_hook_config_update(await request.body())
    updated = fake.update_hook(repo.owner, repo.name, hook.id, config=config, whole_config=False)
    return JSONResponse(hook_config_json(updated))


async def list_hook_deliveries(fake: FakeGitHub, request: Request) -> Response:
    repo, hook = hook_of(fake, request)
    per_page, below, status = parse_deliveries_query(request.query_params)
    deliveries = [
        delivery
        for delivery in fake.hook_deliveries(repo.owner, repo.name, hook.id)
        if (below is None or delivery.id < below) and (status is None or delivery.succeeded == (status == "success"))
    ]
    page, more = deliveries[:per_page], len(deliveries) > per_page
    response = JSONResponse([delivery_item_json(delivery) for delivery in page])
    next_cursor = f"{CURSOR_PREFIX}{page[-1].id}" if more else None
    link = deliveries_link(next_cursor, lambda cursor: str(request.url.include_query_params(cursor=cursor)))
    if link is not None:
        response.headers["link"] = link
    return response


async def get_hook_delivery(fake: FakeGitHub, request: Request) -> Response:
    repo, hook = hook_of(fake, request)
    delivery_id = path_id(request.path_params["delivery_id"])
    return JSONResponse(delivery_json(fake.hook_delivery(repo.owner, repo.name, hook.id, delivery_id)))


async def redeliver_hook_delivery(fake: FakeGitHub, request: Request) -> Response:
    repo, hook = hook_of(fake, request)
    delivery = fake.hook_delivery(repo.owner, repo.name, hook.id, path_id(request.path_params["delivery_id"]))
    await run_in_threadpool(fake.redeliver, delivery.id)
    return JSONResponse({}, 202)


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
    rest("update_pull_request", "PATCH", f"{REPO}/pulls/{{number}}", update_pull_request),
    rest("merge_pull_request", "PUT", f"{REPO}/pulls/{{number}}/merge", merge_pull_request),
    rest("check_if_merged", "GET", f"{REPO}/pulls/{{number}}/merge", check_if_merged),
    rest("list_reviews", "GET", f"{REPO}/pulls/{{number}}/reviews", list_reviews),
    rest("create_review", "POST", f"{REPO}/pulls/{{number}}/reviews", create_review),
    rest("get_review", "GET", f"{REPO}/pulls/{{number}}/reviews/{{review_id}}", get_review),
    rest("list_review_comments", "GET", f"{REPO}/pulls/{{number}}/comments", list_review_comments),
    rest("create_review_comment", "POST", f"{REPO}/pulls/{{number}}/comments", create_review_comment),
    rest("list_issue_comments", "GET", f"{REPO}/issues/{{number}}/comments", list_issue_comments),
    rest("create_issue_comment", "POST", f"{REPO}/issues/{{number}}/comments", create_issue_comment),
    rest("list_hooks", "GET", f"{REPO}/hooks", list_hooks),
    rest("create_hook", "POST", f"{REPO}/hooks", create_hook),
    rest("get_hook", "GET", f"{REPO}/hooks/{{hook_id}}", get_hook),
    rest("update_hook", "PATCH", f"{REPO}/hooks/{{hook_id}}", update_hook),
    rest("delete_hook", "DELETE", f"{REPO}/hooks/{{hook_id}}", delete_hook),
    rest("get_hook_config", "GET", f"{REPO}/hooks/{{hook_id}}/config", get_hook_config),
    rest("update_hook_config", "PATCH", f"{REPO}/hooks/{{hook_id}}/config", update_hook_config),
    rest("ping_hook", "POST", f"{REPO}/hooks/{{hook_id}}/pings", ping_hook),
    rest("test_hook", "POST", f"{REPO}/hooks/{{hook_id}}/tests", test_hook),
    rest("list_hook_deliveries", "GET", f"{REPO}/hooks/{{hook_id}}/deliveries", list_hook_deliveries),
    rest("get_hook_delivery", "GET", f"{REPO}/hooks/{{hook_id}}/deliveries/{{delivery_id}}", get_hook_delivery),
    rest(
        "redeliver_hook_delivery",
        "POST",
        f"{REPO}/hooks/{{hook_id}}/deliveries/{{delivery_id}}/attempts",
        redeliver_hook_delivery,
    ),
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
    - GET/POST /_fake/rate_limits {"content_creation_per_minute"?}   -> 200 the settings: how many pull requests,
                                                                         reviews and comments a token may make a minute
    - DELETE /_fake/repos/{owner}/{repo}                                 -> 204 (404: no such repository)
    - POST /_fake/repos/{owner}/{repo}/permissions {"token", "permission": none|pull|triage|push|maintain|admin}
                                                                         -> 200 {"permission", "permissions"}
    """
    table = AdminTable()

    @table.json_route("POST", "/_fake/repos")
    async def create_repo(request: Request, data: dict[str, Any]) -> Response:
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

    @table.route("GET", "/_fake/repos/{owner}/{repo}/branches/{branch:path}/log")
    async def branch_log(request: Request) -> Response:
        params = request.path_params
        try:
            commits = await run_in_threadpool(fake.branch_log, params["owner"], params["repo"], params["branch"])
        except KeyError as error:
            return admin_error(str(error.args[0]), 404)
        return JSONResponse({"commits": commits})

    @table.json_route("POST", "/_fake/rate_limit")
    async def set_rate_limit(request: Request, data: dict[str, Any]) -> Response:
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

    @table.json_route("POST", "/_fake/secondary_rate_limit")
    async def trip_secondary_rate_limit(request: Request, data: dict[str, Any]) -> Response:
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

    def rate_limit_settings() -> dict[str, Any]:
        return {"content_creation_per_minute": fake.content_creation_per_minute}

    def set_rate_limit_settings(data: dict[str, Any]) -> None:
        if "content_creation_per_minute" in data:
            fake.content_creation_per_minute = data["content_creation_per_minute"]

    @table.route("GET", "/_fake/rate_limits")
    async def get_rate_limit_settings(request: Request) -> Response:
        return JSONResponse(rate_limit_settings())

    table.routes.append(
        settings_route("/_fake/rate_limits", RATE_LIMIT_SETTINGS, set_rate_limit_settings, rate_limit_settings)
    )

    @table.json_route("POST", "/_fake/repos/{owner}/{repo}/permissions")
    async def set_permission(request: Request, data: dict[str, Any]) -> Response:
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

    @table.route("DELETE", "/_fake/repos/{owner}/{repo}")
    async def delete_repo(request: Request) -> Response:
        try:
            await run_in_threadpool(fake.delete_repo, request.path_params["owner"], request.path_params["repo"])
        except KeyError as error:
            return admin_error(str(error.args[0]), 404)
        return Response(status_code=204)

    return table.routes


async def rest_not_found(fake: FakeGitHub, request: Request) -> Response:
    return not_found()


def request_id_header(scope: Scope) -> Callable[[], Headers]:
    """Every GitHub response carries an `x-github-request-id` (kept in the scope for the error bodies)."""
    request_id = ":".join(secrets.token_hex(n).upper() for n in (2, 2, 3, 3, 4))
    scope[REQUEST_ID_KEY] = request_id
    return lambda: [(b"x-github-request-id", request_id.encode())]


def connect_webhooks(fake: FakeGitHub) -> None:
    """Give the state what it needs to deliver webhooks, unless a test gave it its own deliverer already:
    payloads from representations.py, and a worker thread that sends them."""
    if fake.webhooks.payloads is None:
        fake.webhooks.payloads = payload_builder(fake)
    if fake.deliverer is None:
        fake.deliverer = ThreadedDeliverer()


def webhook_admin_routes(fake: FakeGitHub) -> list[BaseRoute]:
    """Users and webhook deliveries, besides fake_admin_routes:

    - POST /_fake/users {"login", "token"}              -> 201 {"login", "id"}: requests with `token` are `login`'s
    - GET  /_fake/users                                   -> 200 [{"login", "id"}]
    - GET  /_fake/deliveries?hook_id=                     -> 200 [delivery, with "pending", "body" as sent]
    - POST /_fake/deliveries/{id}/redeliver               -> 202 the new delivery
    - POST /_fake/deliveries/wait {"timeout"? (10)}       -> 204 once none is pending, 504 {"error"} if some still are
    """
    table = AdminTable()

    def user(login: str) -> dict[str, Any]:
        return {"login": login, "id": user_id(login)}

    @table.json_route("POST", "/_fake/users")
    async def add_user(request: Request, data: dict[str, Any]) -> Response:
        login, token = data.get("login"), data.get("token")
        if not isinstance(login, str) or not isinstance(token, str) or not token:
            return admin_error("login and token (strings) are required")
        try:
            fake.add_token(token, login)
        except ValueError as error:
            return admin_error(str(error))
        return JSONResponse(user(login), 201)

    @table.route("GET", "/_fake/users")
    async def list_users(request: Request) -> Response:
        return JSONResponse([user(login) for login in fake.logins()])

    def delivery_dump(delivery: Delivery) -> dict[str, Any]:
        return {
            **delivery_json(delivery),
            "hook_id": delivery.hook_id,
            "pending": delivery.pending,
            "body": delivery.body.decode(errors="replace"),
        }

    @table.route("GET", "/_fake/deliveries")
    async def list_deliveries(request: Request) -> Response:
        hook_id = request.query_params.get("hook_id")
        if hook_id is not None and not hook_id.isdigit():
            return admin_error("hook_id must be a number")
        deliveries = fake.deliveries(int(hook_id) if hook_id is not None else None)
        return JSONResponse([delivery_dump(delivery) for delivery in deliveries])

    @table.route("POST", "/_fake/deliveries/{delivery_id}/redeliver")
    async def redeliver(request: Request) -> Response:
        delivery_id = request.path_params["delivery_id"]
        try:
            again = await run_in_threadpool(fake.redeliver, int(delivery_id) if delivery_id.isdigit() else -1)
        except KeyError as error:
            return admin_error(str(error.args[0]), 404)
        return JSONResponse(delivery_dump(again), 202)

    @table.json_route("POST", "/_fake/deliveries/wait")
    async def wait(request: Request, data: dict[str, Any]) -> Response:
        timeout = data.get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            return admin_error("timeout must be a non-negative number of seconds")
        try:
            await fake.wait_for_deliveries_async(timeout)
        except TimeoutError as error:
            return admin_error(str(error), 504)
        return Response(status_code=204)

    return table.routes


def build_app(fake: FakeGitHub) -> ASGIApp:
    connect_webhooks(fake)
    app = Starlette(
        routes=[
            *admin_routes(fake),
            *fake_admin_routes(fake),
            *webhook_admin_routes(fake),
            *starlette_routes(fake, ROUTES, github_error),
            catch_all(fake, rest_not_found, github_error),
        ]
    )
    return RecordingMiddleware(ResponseHeadersMiddleware(app, request_id_header), fake)
