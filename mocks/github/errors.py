"""GitHub's error bodies: {"message", "documentation_url", "status"} (+ "errors" for 422), and the answers
to the refusals of the state and of the request checks."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from mocks.github.state import GitHubError

DOCS = "https://docs.github.com/rest"

# documentation_url of each operation (its externalDocs in the OpenAPI description).
OPERATION_DOCS = {
    "get_repository": "https://docs.github.com/rest/repos/repos#get-a-repository",
    "list_pull_requests": "https://docs.github.com/rest/pulls/pulls#list-pull-requests",
    "create_pull_request": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
    "get_pull_request": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request",
    "get_rate_limit": "https://docs.github.com/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user",
    "get_branch": "https://docs.github.com/rest/branches/branches#get-a-branch",
    "get_ref": "https://docs.github.com/rest/git/refs#get-a-reference",
}
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
SECONDARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)

STATUS_MESSAGES = {
    400: "Bad Request",
    401: "Bad credentials",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Validation Failed",
    429: "API rate limit exceeded",
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request "
    "and contact us if the problem persists.",
}


def github_error(
    status: int,
    message: str | None = None,
    *,
    documentation_url: str = DOCS,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"message": message or STATUS_MESSAGES.get(status, "Error")}
    if errors is not None:
        body["errors"] = errors
    body["documentation_url"] = documentation_url
    body["status"] = str(status)
    return JSONResponse(body, status, headers=headers)


def not_found(operation: str | None = None) -> JSONResponse:
    return github_error(404, "Not Found", documentation_url=OPERATION_DOCS.get(operation or "", DOCS))


def error_response(operation: str, error: GitHubError) -> JSONResponse:
    """GitHub's answer to a request the state or the request checks refused, in `operation`."""
    return github_error(
        error.status, error.message, documentation_url=OPERATION_DOCS.get(operation, DOCS), errors=error.errors
    )


def secondary_rate_limited(status: int, retry_after: int, request_id: str) -> JSONResponse:
    """What GitHub answers past a secondary rate limit: 403 (or 429) with `retry-after`."""
    message = (
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
        f"If you reach out to GitHub Support for help, please include the request ID {request_id}."
    )
    return github_error(
        status, message, documentation_url=SECONDARY_RATE_LIMIT_DOCS, headers={"retry-after": str(retry_after)}
    )
