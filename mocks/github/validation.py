"""Checking request bodies and query parameters the way GitHub's REST API does.

GitHub checks a request against its schema before it acts: a body that is no JSON answers 400
"Problems parsing JSON", a missing or mistyped field 422 "Invalid request." with the schema's words,
and a pull request without a title 422 "Validation Failed" with a `missing_field` error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mocks.github.state import GitHubError, NotFound, PullRequestQuery, ValidationFailed

PULL_STATES = ("open", "closed", "all")
MAX_PER_PAGE = 100
# The fields of a new pull request and the JSON type each must have.
NEW_PULL_REQUEST_TYPES: dict[str, type | tuple[type, ...]] = {
    "title": str,
    "head": str,
    "base": str,
    "body": (str, type(None)),
    "head_repo": str,
    "draft": bool,
    "maintainer_can_modify": bool,
}


class InvalidRequest(GitHubError):
    """422 of GitHub's request-schema validation, e.g. `"head" wasn't supplied.`."""

    status = 422

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid request.\n\n{detail}")


class ProblemsParsingJSON(GitHubError):
    status = 400

    def __init__(self) -> None:
        super().__init__("Problems parsing JSON")


def type_problem(data: dict[str, Any]) -> str | None:
    """GitHub's schema message for the first field of the wrong type, if any."""
    for field, kind in NEW_PULL_REQUEST_TYPES.items():
        if field in data and not isinstance(data[field], kind):
            wanted = "a boolean" if kind is bool else "a string"
            return f"For 'properties/{field}', {json.dumps(data[field])} is not {wanted}."
    return None


def parse_new_pull_request(raw: bytes) -> dict[str, Any]:
    """The body of POST /repos/{owner}/{repo}/pulls, checked: head, base and a title, each of its type."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise ProblemsParsingJSON() from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"For 'links/0/schema', {json.dumps(data)} is not an object.")
    missing = [field for field in ("base", "head") if field not in data]
    if missing:
        quoted = ", ".join(f'"{field}"' for field in missing)
        raise InvalidRequest(f"{quoted} {'wasn' if len(missing) == 1 else 'weren'}'t supplied.")
    problem = type_problem(data)
    if problem:
        raise InvalidRequest(problem)
    if not data.get("title"):
        raise ValidationFailed([{"resource": "PullRequest", "code": "missing_field", "field": "title"}])
    return data


def parse_pull_request_query(query: Mapping[str, str]) -> PullRequestQuery:
    """The query of GET /repos/{owner}/{repo}/pulls; per_page is kept within 1..100, page from 1 on."""
    state = query.get("state", "open")
    if state not in PULL_STATES:
        raise InvalidRequest(f"For 'state', \"{state}\" is not one of {list(PULL_STATES)}.")
    try:
        per_page = min(MAX_PER_PAGE, max(1, int(query.get("per_page", "30"))))
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        raise InvalidRequest("per_page and page must be integers.") from None
    return PullRequestQuery(
        state=state,
        head=query.get("head"),
        base=query.get("base"),
        sort=query.get("sort", "created"),
        direction=query.get("direction"),
        per_page=per_page,
        page=page,
    )


def pull_number(raw: str) -> int:
    """The {pull_number} of a path: GitHub answers 404 for one that is no number."""
    if not raw.isdigit():
        raise NotFound()
    return int(raw)
