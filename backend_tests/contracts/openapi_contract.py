"""Every response a fake gives during the contract suite, checked against the official schema of its operation.

The fakes call an observer with each response of their service API (mocks.common.service); the
observer finds the operation of the official description (specs/*.schemas.json, regenerated from
../shared/specs by specs/regenerate.py) by method and path, and checks the status is one the operation
declares and the body is valid against that status's schema. Decisions, where the descriptions are silent:

- An error status the operation does not declare (401 on most GitHub operations, 429 past E2B's
  sandbox quota, 400 from E2B's request validation...) is checked against the service's general
  error schema: GitHub `basic-error`, E2B and envd `Error`. A success status it does not declare fails.
- Requests that are no OpenAPI operation are not checked here: git smart HTTP, envd's Connect RPC
  (its stream is checked envelope by envelope in test_envd_process_stream.py), the fake GitHub's
  pull request web page and health. The catch-all 404 of an unknown path must still be the
  service's error JSON.
- Paths the fakes serve that are newer than the spec snapshot are checked as their older twin
  (POST /v2/sandboxes as POST /sandboxes, POST /v2/sandboxes/{id}/connect as .../connect).
- Known, deliberate deviations are listed in DEVIATIONS with their reason.
- A "malformed" fault, or a fault whose rule supplies its own body, is answered verbatim, and a "reset"
  fault has no answer at all: not checked.
- OpenAI's description is OpenAPI 3.1, whose schemas are JSON Schema 2020-12 (`const`, `type` lists,
  `$ref` beside other keywords): it is checked with a 2020-12 validator, the others with draft 4. It
  still writes `nullable` in places (the stream's `finish_reason`, `usage`), read as "or null" as for 3.0.
  Its paths are below the server's /v1, which the fake serves them under.
- An answer the description allows as a server-sent event stream (`event_stream_schema`: a chat
  completion with `stream: true`) is checked event by event: `data: <JSON>` events each valid against
  the event schema, the last one `data: [DONE]`.

Fakes running in another process (python -m mocks.*) are checked client-side with client_side_problems().
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema

from mocks.common.service import ObservedResponse

SPECS = Path(__file__).resolve().parent / "specs"
# Path parameters that may hold slashes (GitHub's branch names and refs).
SLASHED_PARAMETERS = {"branch", "ref"}
ALIASES = {
    "e2b": {
        "POST /v2/sandboxes": "POST /sandboxes",
        "POST /v2/sandboxes/{sandboxID}/connect": "POST /sandboxes/{sandboxID}/connect",
    }
}
# envd shares the fake E2B's port; its operations are told apart by the fake's operation names.
ENVD_OPERATIONS = {"envd_health": "GET /health", "files_read": "GET /files", "files_write": "POST /files"}
FALLBACK_ERROR = {"github": "basic-error", "e2b": "Error", "envd": "Error", "openai": "ErrorResponse"}
# The path every operation of a description is served under (its `servers` URL's path).
PATH_PREFIX = {"openai": "/v1"}
VALIDATORS: dict[str, type[jsonschema.protocols.Validator]] = {"openai": jsonschema.Draft202012Validator}
EVENT_STREAM = "text/event-stream"
DONE = "[DONE]"
DEVIATIONS = {
    ("e2b", "GET /health", 200): "the project asks every service for 200 when ready (the spec says 204)",
}

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None and "T" in value


@FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schemas are JSON Schema (draft 4) but for `nullable`: turn it into "or null"."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: openapi_to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def load(service: str) -> dict[str, Any]:
    """specs/<service>.schemas.json with its component schemas made plain JSON Schema."""
    document = json.loads((SPECS / f"{service}.schemas.json").read_text())
    document["components"]["schemas"] = openapi_to_json_schema(document["components"]["schemas"])
    for operation in document["operations"].values():
        for response in operation["responses"].values():
            for key in ("schema", "event_stream_schema"):
                if key in response:
                    response[key] = openapi_to_json_schema(response[key])
    return document


def schema_problems(service: str, schema: dict[str, Any], instance: Any) -> list[str]:
    components = load(service)["components"]
    validator_class = VALIDATORS.get(service, jsonschema.Draft4Validator)
    validator = validator_class({**schema, "components": components}, format_checker=FORMATS)
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.path))
    return [f"{'/'.join(map(str, error.path)) or '(root)'}: {error.message[:200]}" for error in errors[:5]]


def component_problems(service: str, name: str, instance: Any, *, array: bool = False) -> list[str]:
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    return schema_problems(service, {"type": "array", "items": ref} if array else ref, instance)


def _template_regex(template: str) -> re.Pattern[str]:
    def parameter(match: re.Match[str]) -> str:
        return ".+" if match.group(1) in SLASHED_PARAMETERS else "[^/]+"

    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", parameter, re.escape(template)) + "$")


@dataclass
class ServiceContract:
    """The operations of one fake's official description, found by method and path."""

    name: str  # "github", "e2b" or "openai"
    routes: list[tuple[str, re.Pattern[str], str]] = field(init=False)

    def __post_init__(self) -> None:
        keys = [*load(self.name)["operations"], *ALIASES.get(self.name, {})]
        self.routes = []
        for key in keys:
            method, template = key.split(" ", 1)
            self.routes.append((method, _template_regex(PATH_PREFIX.get(self.name, "") + template), key))

    def operation_key(self, observed: ObservedResponse) -> tuple[str, str] | None:
        """(service, "METHOD /template") of the operation a response answers, or None."""
        if self.name == "e2b" and observed.operation in ENVD_OPERATIONS:
            return "envd", ENVD_OPERATIONS[observed.operation]
        for method, regex, key in self.routes:
            if method == observed.method and regex.match(observed.path):
                return self.name, ALIASES.get(self.name, {}).get(key, key)
        return None

    def problems(self, observed: ObservedResponse) -> list[str]:
        """What is wrong with `observed` against the description ([] when it is right or not checked)."""
        if observed.fault in ("malformed", "reset") or observed.fault_has_own_body or observed.status == 0:
            return []
        found = self.operation_key(observed)
        content_type = observed.headers.get("content-type", "").split(";")[0].strip()
        is_json = content_type == "application/json"
        if found is None:
            if observed.status >= 400 and is_json:  # an unknown path: still the service's error shape
                return self._body_problems(
                    self.name, {"$ref": f"#/components/schemas/{FALLBACK_ERROR[self.name]}"}, observed
                )
            return []
        service, key = found
        if (service, key, observed.status) in DEVIATIONS:
            return []
        declared = load(service)["operations"][key]["responses"].get(str(observed.status))
        if declared is None:
            if observed.status < 400:
                return [f"{key} answered {observed.status}, which the description does not declare"]
            declared = {
                "content_type": "application/json",
                "schema": {"$ref": f"#/components/schemas/{FALLBACK_ERROR[service]}"},
            }
        if declared["content_type"] is None:
            return (
                [] if not observed.body else [f"{key} {observed.status} must have no body, got {observed.body[:80]!r}"]
            )
        if content_type == EVENT_STREAM and "event_stream_schema" in declared:
            return self._event_stream_problems(service, declared["event_stream_schema"], observed, key)
        if content_type != declared["content_type"]:
            return [
                f"{key} {observed.status}: content type {content_type!r}, "
                f"the description says {declared['content_type']!r}"
            ]
        if declared["schema"] is None:
            return []
        return self._body_problems(service, declared["schema"], observed, key)

    def _body_problems(
        self, service: str, schema: dict[str, Any], observed: ObservedResponse, key: str | None = None
    ) -> list[str]:
        label = key or f"{observed.method} {observed.path}"
        try:
            body = json.loads(observed.body)
        except ValueError:
            return [f"{label} {observed.status}: the body is not JSON: {observed.body[:80]!r}"]
        return [f"{label} {observed.status}: {problem}" for problem in schema_problems(service, schema, body)]

    def _event_stream_problems(
        self, service: str, schema: dict[str, Any], observed: ObservedResponse, key: str
    ) -> list[str]:
        label = f"{key} {observed.status} (stream)"
        try:
            datas = event_stream_data(observed.body.decode())
        except ValueError as error:
            return [f"{label}: {error}"]
        if not datas or datas[-1] != DONE:
            return [f"{label}: the stream does not end with `data: {DONE}`"]
        problems = [f"{label}: `data: {DONE}` before the end" for data in datas[:-1] if data == DONE]
        for number, data in enumerate(datas[:-1]):
            if data == DONE:
                continue
            try:
                event = json.loads(data)
            except ValueError:
                problems.append(f"{label}: event {number} is not JSON: {data[:80]!r}")
                continue
            problems += [f"{label}: event {number}: {problem}" for problem in schema_problems(service, schema, event)]
            if len(problems) >= 5:
                break
        return problems[:5]


def event_stream_data(text: str) -> list[str]:
    """The data of each event of a server-sent event stream (comments and blank events left out).

    Only what the fakes send is accepted: `data:` lines (and `:` comments), each event ended by a blank line.
    """
    if text and not text.endswith("\n\n"):
        raise ValueError(f"the stream does not end with a blank line: {text[-80:]!r}")
    datas = []
    for event in text.split("\n\n")[:-1]:
        lines = [line for line in event.split("\n") if not line.startswith(":")]
        if not lines:
            continue
        strange = [line for line in lines if not line.startswith("data:")]
        if strange:
            raise ValueError(f"a line that is no `data:` field: {strange[0][:80]!r}")
        datas.append("\n".join(line.removeprefix("data:").removeprefix(" ") for line in lines))
    return datas


def client_side_problems(service: str, response: httpx.Response) -> list[str]:
    """The same check for a response a client received (from a fake in another process)."""
    request = response.request
    observed = ObservedResponse(
        operation="",
        method=request.method,
        path=request.url.path,
        query=request.url.query.decode(),
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=response.content,
        fault=None,
        fault_has_own_body=False,
    )
    return ServiceContract(service).problems(observed)


class ContractGuard:
    """Collects what is wrong with the responses of the fakes it observes, for the running test to fail on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.violations: list[str] = []
        self.checked: dict[str, int] = {}

    def observer(self, contract: ServiceContract) -> Callable[[ObservedResponse], None]:
        def observe(observed: ObservedResponse) -> None:
            try:
                problems = contract.problems(observed)
            except Exception as error:  # a broken check must fail the test, not the fake's response
                problems = [f"checking {observed.method} {observed.path} raised {error!r}"]
            with self._lock:
                self.violations.extend(problems)
                self.checked[observed.operation] = self.checked.get(observed.operation, 0) + 1

        return observe

    def take_violations(self) -> list[str]:
        with self._lock:
            violations, self.violations = self.violations, []
            return violations
