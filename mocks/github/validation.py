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
from mocks.github.webhooks import CONTENT_TYPES, is_hook_url

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


# -- bodies of the pull request, review, comment and hook operations --------------------------------------
# A field's rule: the JSON types it may have and, for a string, the values it may take.
Rule = tuple[tuple[type, ...], tuple[str, ...] | None]
STRING: Rule = ((str,), None)
NULLABLE_STRING: Rule = ((str, type(None)), None)
BOOLEAN: Rule = ((bool,), None)
INTEGER: Rule = ((int,), None)
ARRAY: Rule = ((list,), None)
OBJECT: Rule = ((dict,), None)
TYPE_WORDS = {str: "a string", bool: "a boolean", int: "an integer", list: "an array", dict: "an object"}

PULL_REQUEST_UPDATE = {
    "title": STRING,
    "body": NULLABLE_STRING,
    "state": ((str,), ("open", "closed")),
    "base": STRING,
    "maintainer_can_modify": BOOLEAN,
}
MERGE = {
    "commit_title": STRING,
    "commit_message": STRING,
    "sha": STRING,
    "merge_method": ((str,), ("merge", "squash", "rebase")),
}
REVIEW = {
    "commit_id": STRING,
    "body": STRING,
    "event": ((str,), ("APPROVE", "REQUEST_CHANGES", "COMMENT")),
    "comments": ARRAY,
}
REVIEW_DRAFT_COMMENT = {
    "path": STRING,
    "body": STRING,
    "position": INTEGER,
    "line": INTEGER,
    "side": STRING,
    "start_line": INTEGER,
    "start_side": STRING,
}
REVIEW_COMMENT = {
    "body": STRING,
    "commit_id": STRING,
    "path": STRING,
    "side": ((str,), ("LEFT", "RIGHT")),
    "line": INTEGER,
    "start_line": INTEGER,
    "start_side": ((str,), ("LEFT", "RIGHT", "side")),
    "in_reply_to": INTEGER,
    "subject_type": ((str,), ("line", "file")),
}
ISSUE_COMMENT = {"body": STRING}
HOOK = {"name": STRING, "config": OBJECT, "events": ARRAY, "active": BOOLEAN}
HOOK_UPDATE = {"config": OBJECT, "events": ARRAY, "add_events": ARRAY, "remove_events": ARRAY, "active": BOOLEAN}
HOOK_CONFIG = {"url": STRING, "content_type": STRING, "secret": STRING, "insecure_ssl": ((str, int), None)}
DELIVERY_STATUSES = ("success", "failure")
CURSOR_PREFIX = "v1_"


def json_object(raw: bytes, *, empty_allowed: bool = False) -> dict[str, Any]:
    """The request's JSON object: 400 "Problems parsing JSON" for what is no JSON (an empty body is an
    empty object where the operation's body is optional)."""
    if empty_allowed and not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ProblemsParsingJSON() from None
    if data is None and empty_allowed:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest(f"For 'links/0/schema', {json.dumps(data)} is not an object.")
    return data


def check(data: dict[str, Any], rules: dict[str, Rule], *, required: tuple[str, ...] = (), where: str = "") -> None:
    """GitHub's request-schema check: the required fields are there, each field has its type and value."""
    missing = [field for field in required if field not in data]
    if missing:
        quoted = ", ".join(f'"{field}"' for field in missing)
        raise InvalidRequest(f"{quoted} {'wasn' if len(missing) == 1 else 'weren'}'t supplied.")
    for field, (kinds, allowed) in rules.items():
        if field not in data:
            continue
        value = data[field]
        wrong_type = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
        if wrong_type:
            raise InvalidRequest(f"For 'properties/{where}{field}', {json.dumps(value)} is not {TYPE_WORDS[kinds[0]]}.")
        if allowed is not None and value not in allowed:
            raise InvalidRequest(
                f"For 'properties/{where}{field}', {json.dumps(value)} is not one of {json.dumps(list(allowed))}."
            )


def parse_pull_request_update(raw: bytes) -> dict[str, Any]:
    data = json_object(raw)
    check(data, PULL_REQUEST_UPDATE)
    return data


def parse_merge(raw: bytes) -> dict[str, Any]:
    """The body of PUT .../pulls/{n}/merge, which may be empty (a merge commit, GitHub's default titles)."""
    data = json_object(raw, empty_allowed=True)
    check(data, MERGE)
    return data


def parse_review(raw: bytes) -> dict[str, Any]:
    data = json_object(raw, empty_allowed=True)
    check(data, REVIEW)
    for comment in data.get("comments", []):
        if not isinstance(comment, dict):
            raise InvalidRequest(f"For 'items', {json.dumps(comment)} is not an object.")
        check(comment, REVIEW_DRAFT_COMMENT, required=("path", "body"), where="comments/items/")
    return data


def parse_review_comment(raw: bytes) -> dict[str, Any]:
    """A reply (`in_reply_to`) needs only its body; another comment its body, commit_id and path."""
    data = json_object(raw)
    required = ("body",) if "in_reply_to" in data else ("body", "commit_id", "path")
    check(data, REVIEW_COMMENT, required=required)
    if data.get("subject_type", "line") == "line" and "in_reply_to" not in data and "line" not in data:
        raise ValidationFailed([{"resource": "PullRequestReviewComment", "code": "missing_field", "field": "line"}])
    return data


def parse_issue_comment(raw: bytes) -> dict[str, Any]:
    data = json_object(raw)
    check(data, ISSUE_COMMENT, required=("body",))
    return data


def parse_hook(raw: bytes) -> dict[str, Any]:
    """The body of POST /repos/{owner}/{repo}/hooks: config.url a URL GitHub can post to, name "web"."""
    data = json_object(raw, empty_allowed=True)
    check(data, HOOK)
    config = data.get("config") or {}
    check(config, HOOK_CONFIG, where="config/")
    check_hook_events(data.get("events", []))
    if data.get("name", "web") != "web":
        raise ValidationFailed([{"resource": "Hook", "code": "invalid", "field": "name"}])
    check_hook_config(config)
    return data


def parse_hook_update(raw: bytes) -> dict[str, Any]:
    data = json_object(raw)
    check(data, HOOK_UPDATE)
    for field in ("events", "add_events", "remove_events"):
        check_hook_events(data.get(field, []))
    if "config" in data:
        check(data["config"], HOOK_CONFIG, where="config/")
        check_hook_config(data["config"])
    return data


def check_hook_events(events: list[Any]) -> None:
    for event in events:
        if not isinstance(event, str):
            raise InvalidRequest(f"For 'items', {json.dumps(event)} is not a string.")


def check_hook_config(config: dict[str, Any]) -> None:
    if not is_hook_url(config.get("url")):
        message = "The URL you've entered is not valid. Please make sure that you encode all special characters first"
        raise ValidationFailed([{"resource": "Hook", "code": "custom", "message": message}])
    if config.get("content_type", "form") not in CONTENT_TYPES:
        raise ValidationFailed([{"resource": "Hook", "code": "invalid", "field": "content_type"}])
    if str(config.get("insecure_ssl", "0")) not in ("0", "1"):
        raise ValidationFailed([{"resource": "Hook", "code": "invalid", "field": "insecure_ssl"}])


def parse_deliveries_query(query: Mapping[str, str]) -> tuple[int, int | None, str | None]:
    """(per_page, the id the page starts below or None, status "success"/"failure" or None) of a
    GET .../hooks/{id}/deliveries; a cursor is the one its previous page's `link` named."""
    try:
        per_page = min(MAX_PER_PAGE, max(1, int(query.get("per_page", "30"))))
    except ValueError:
        raise InvalidRequest("per_page must be an integer.") from None
    cursor = query.get("cursor")
    before: int | None = None
    if cursor:
        if not cursor.startswith(CURSOR_PREFIX) or not cursor[len(CURSOR_PREFIX) :].isdigit():
            raise BadRequest("Bad Request")
        before = int(cursor[len(CURSOR_PREFIX) :])
    status = query.get("status")
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidRequest(f"For 'status', {json.dumps(status)} is not one of {json.dumps(list(DELIVERY_STATUSES))}.")
    return per_page, before, status


class BadRequest(GitHubError):
    status = 400


def path_id(raw: str) -> int:
    """A numeric id of a path ({hook_id}, {delivery_id}, {review_id}): 404 for one that is no number."""
    if not raw.isdigit():
        raise NotFound()
    return int(raw)


def parse_hook_config_update(raw: bytes) -> dict[str, Any]:
    """The body of PATCH .../hooks/{id}/config: only the fields it gives change."""
    data = json_object(raw, empty_allowed=True)
    check(data, HOOK_CONFIG)
    check_hook_config({"url": "https://example.com", **data})
    return data
