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
    "update_pull_request": "https://docs.github.com/rest/pulls/pulls#update-a-pull-request",
    "merge_pull_request": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request",
    "check_if_merged": "https://docs.github.com/rest/pulls/pulls#check-if-a-pull-request-has-been-merged",
    "list_reviews": "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request",
    "create_review": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request",
    "get_review": "https://docs.github.com/rest/pulls/reviews#get-a-review-for-a-pull-request",
    "list_review_comments": "https://docs.github.com/rest/pulls/comments#list-review-comments-on-a-pull-request",
    "create_review_comment": "https://docs.github.com/rest/pulls/comments#create-a-review-comment-for-a-pull-request",
    "list_issue_comments": "https://docs.github.com/rest/issues/comments#list-issue-comments",
    "create_issue_comment": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
    "list_hooks": "https://docs.github.com/rest/repos/webhooks#list-repository-webhooks",
    "create_hook": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook",
    "get_hook": "https://docs.github.com/rest/repos/webhooks#get-a-repository-webhook",
    "update_hook": "https://docs.github.com/rest/repos/webhooks#update-a-repository-webhook",
    "delete_hook": "https://docs.github.com/rest/repos/webhooks#delete-a-repository-webhook",
    "get_hook_config": "https://docs.github.com/rest/repos/webhooks#get-a-webhook-configuration-for-a-repository",
    "update_hook_config": "https://docs.github.com/rest/repos/webhooks#update-a-webhook-configuration-for-a-repository",
    "ping_hook": "https://docs.github.com/rest/repos/webhooks#ping-a-repository-webhook",
    "test_hook": "https://docs.github.com/rest/repos/webhooks#test-the-push-repository-webhook",
    "list_hook_deliveries": "https://docs.github.com/rest/repos/webhooks#list-deliveries-for-a-repository-webhook",
    "get_hook_delivery": "https://docs.github.com/rest/repos/webhooks#get-a-delivery-for-a-repository-webhook",
    "redeliver_hook_delivery": "https://docs.github.com/rest/repos/webhooks#redeliver-a-delivery-for-a-repository-webhook",
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
    405: "Method Not Allowed",
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
