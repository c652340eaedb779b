"""Checking request bodies and query parameters the way the E2B API's OpenAPI request validation does.

The API validates every request against its spec before a handler runs and answers 400 in its
`Error` shape. Unknown body fields pass (the spec's objects do not forbid extra properties); a wrong
type, a value under a minimum, a missing required field or broken JSON do not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from mocks.e2b.state import MAX_PAGE, E2BError, SandboxQuery, SandboxState

# Field kinds of the request schemas the fake serves.
INTEGER, BOOLEAN, STRING, STRING_MAP = "integer", "boolean", "string", "string map"


class BadRequest(E2BError):
    """A request the API's validation refuses with 400; the message is the error body's `message`."""

    status = 400


@dataclass(frozen=True)
class Field:
    kind: str
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None


NEW_SANDBOX = {
    "templateID": Field(STRING, required=True),
    "timeout": Field(INTEGER, minimum=0),
    "autoPause": Field(BOOLEAN),
    "autoPauseMemory": Field(BOOLEAN),
    "secure": Field(BOOLEAN),
    "allow_internet_access": Field(BOOLEAN),
    "metadata": Field(STRING_MAP),
    "envVars": Field(STRING_MAP),
}
TIMEOUT_REQUEST = {"timeout": Field(INTEGER, required=True, minimum=0)}
REFRESH_REQUEST = {"duration": Field(INTEGER, minimum=0, maximum=3600)}
PAUSE_REQUEST = {"memory": Field(BOOLEAN)}
RESUME_REQUEST = {"timeout": Field(INTEGER, minimum=0), "autoPause": Field(BOOLEAN)}
CONNECT_REQUEST = {"timeout": Field(INTEGER, required=True, minimum=0)}
CONNECT_V2_REQUEST = {"timeout": Field(INTEGER, minimum=0), "memory": Field(BOOLEAN)}

SANDBOX_STATES = ("running", "paused")


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind == STRING:
        return isinstance(value, str)
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())


def parse_body(raw: bytes, fields: dict[str, Field], *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object, checked against `fields`; raises BadRequest as the API would."""
    if not raw.strip():
        if required:
            raise BadRequest("request body has an error: value is required but missing")
        return {}
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise BadRequest(f"request body has an error: failed to decode request body: {error}") from None
    if not isinstance(data, dict):
        raise BadRequest('request body has an error: doesn\'t match schema: Error at "/": value must be an object')
    for name, spec in fields.items():
        if name not in data:
            if spec.required:
                raise BadRequest(f'request body has an error: doesn\'t match schema: property "{name}" is missing')
            continue
        value = data[name]
        where = f'request body has an error: doesn\'t match schema: Error at "/{name}"'
        if not _kind_ok(spec.kind, value):
            article = "a" if spec.kind != INTEGER else "an"
            raise BadRequest(f"{where}: value must be {article} {spec.kind}")
        if spec.minimum is not None and value < spec.minimum:
            raise BadRequest(f"{where}: number must be at least {spec.minimum}")
        if spec.maximum is not None and value > spec.maximum:
            raise BadRequest(f"{where}: number must be at most {spec.maximum}")
    return data


def parse_metadata_query(raw: str | None) -> dict[str, str]:
    """The `metadata` query parameter: "k1=v1&k2=v2", the whole and each key and value URL-encoded."""
    if not raw:
        return {}
    pairs: dict[str, str] = {}
    for item in unquote_plus(raw).split("&"):
        parts = item.split("=")
        if len(parts) != 2:
            raise BadRequest("Error parsing metadata: invalid key value pair in query")
        pairs[unquote_plus(parts[0])] = unquote_plus(parts[1])
    return pairs


def parse_states(raw: str | None) -> tuple[SandboxState, ...]:
    """The `state` query parameter (form style, not exploded: "running,paused"); both when absent."""
    states = tuple(raw.split(",")) if raw else SANDBOX_STATES
    for state in states:
        if state not in SANDBOX_STATES:
            raise BadRequest(
                f'parameter "state" in query has an error: value {state} is not one of the allowed values '
                '["running","paused"]'
            )
    return tuple(SandboxState(state) for state in states)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return MAX_PAGE
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest('parameter "limit" in query has an error: value must be an integer') from None
    if not 1 <= limit <= MAX_PAGE:
        bound = "at least 1" if limit < 1 else f"at most {MAX_PAGE}"
        raise BadRequest(f'parameter "limit" in query has an error: number must be {bound}')
    return limit


def parse_order(raw: str | None) -> bool:
    """True for newest first (the default, "desc")."""
    if raw in (None, "desc"):
        return True
    if raw == "asc":
        return False
    raise BadRequest(
        f'parameter "order" in query has an error: value {raw} is not one of the allowed values ["asc","desc"]'
    )


def parse_started_after(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest('parameter "startedAfter" in query has an error: value must be a date-time') from None
    if moment.tzinfo is None:
        raise BadRequest('parameter "startedAfter" in query has an error: value must be a date-time')
    return moment


def parse_sandbox_query(query: Mapping[str, str]) -> SandboxQuery:
    """The filters and order of GET /v2/sandboxes (its `limit` and `nextToken` are the page's)."""
    return SandboxQuery(
        states=parse_states(query.get("state")),
        metadata=parse_metadata_query(query.get("metadata")),
        newest_first=parse_order(query.get("order")),
        started_after=parse_started_after(query.get("startedAfter")),
        template=query.get("template"),
    )
