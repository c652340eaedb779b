"""Text no database of the platform's can store, in any text field of any request: a 422 naming the field,
never a 503 (PostgreSQL refusing the value) or a 500 (the value not encodable as UTF-8).

Every text parameter (path, query, header) and every text field of every request body that the platform's
OpenAPI lists is sent once with a NUL character (`\\u0000`, refused by PostgreSQL in text) and, where JSON
can carry it, once with an unpaired surrogate (`\\ud800`, not encodable as UTF-8; a URL or a header cannot
carry one: their bytes are decoded with replacement). The rest of each request is valid, so the field is
what is refused. Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
import pytest

from fixtures.squads import Squad
from reliability_tests.security.platform_api import (
    Operation,
    api_operations,
    caller_headers,
    openapi_document,
    resolve,
)

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

NUL = "\u0000"
SURROGATE = "\ud800"
# A valid value of each body field an operation requires (ids are the tenant's own, filled in per test).
SAMPLES = {
    "name": "a name",
    "repository": "acme/widgets",
    "title": "a title",
    "description": "a description",
    "message": "a message",
    "body": "a body",
    "branch": "feature/text",
    "status": "todo",
}
IDS = {"task_id": "task", "agent_id": "agent", "sandbox_id": "sandbox"}


def is_text(schema: dict[str, Any]) -> bool:
    schema = resolve(openapi_document(), schema)
    return schema.get("type") == "string" or any(is_text(option) for option in schema.get("anyOf", []))


@dataclass(frozen=True)
class Field:
    operation: Operation
    location: str  # path, query, header or body
    name: str

    @property
    def label(self) -> str:
        return f"{self.operation.label} {self.location} {self.name}"


def text_fields() -> list[Field]:
    fields = []
    for operation in api_operations():
        for parameter in operation.spec.get("parameters", []):
            if is_text(parameter["schema"]):
                fields.append(Field(operation, parameter["in"], parameter["name"]))
        body = operation.body_schema(openapi_document())
        for name, schema in (body or {}).get("properties", {}).items():
            if is_text(schema):
                fields.append(Field(operation, "body", name))
    return fields


FIELDS = text_fields()
CASES = [(field, bad) for field in FIELDS for bad in (NUL, SURROGATE) if bad == NUL or field.location == "body"]


def sample(name: str, tenant: Squad) -> str:
    if name in IDS:
        return tenant.ids[IDS[name]]
    assert name in SAMPLES, f"no valid sample of the body field {name!r}: add one to SAMPLES"
    return SAMPLES[name]


async def send_with(app_client, tenant: Squad, field: Field, bad_text: str):
    operation = field.operation
    value = f"ok{bad_text}ok"
    path = operation.path
    for parameter in operation.parameters("path"):
        name = parameter["name"]
        # Percent-encoded by hand: httpx refuses a raw NUL in a URL's path, a server decodes this one.
        path = path.replace(f"{{{name}}}", quote(value, safe="") if field.name == name else sample(name, tenant))
    params = {field.name: value} if field.location == "query" else {}
    headers = caller_headers(operation, tenant) | ({field.name: value} if field.location == "header" else {})
    content = None
    if "requestBody" in operation.spec:
        schema = operation.body_schema(openapi_document()) or {}
        body = {name: sample(name, tenant) for name in schema.get("required", [])}
        if field.location == "body":
            body[field.name] = value
        # json.dumps escapes what is not ASCII, so the surrogate travels as the six characters \ud800.
        content = json.dumps(body).encode()
        headers |= {"Content-Type": "application/json"}
    # A value taken for a filter of the event stream would open it, and it never ends: the deadline
    # turns that into a failure.
    with anyio.fail_after(10):
        return await app_client.request(operation.method, path, params=params, headers=headers, content=content)


def test_every_text_field_of_the_api_is_covered():
    """New text fields are covered without anyone listing them; this guards the enumeration itself."""
    labels = {field.label for field in FIELDS}
    assert {
        "POST /api/v1/squads body name",
        "PATCH /api/v1/tasks/{task_id} body description",
        "GET /api/v1/tasks query agent_id",
        "GET /api/v1/events query task_id",
        "GET /api/v1/events header Last-Event-ID",
        "POST /api/v1/git/branch body branch",
        "DELETE /api/v1/sandboxes/{sandbox_id} path sandbox_id",
    } <= labels, sorted(labels)


@pytest.mark.parametrize(
    ("field", "bad_text"), CASES, ids=[f"{f.label}-{'nul' if b == NUL else 'surrogate'}" for f, b in CASES]
)
async def test_text_the_database_cannot_store_is_a_422_naming_the_field(
    app_client, squad_a: Squad, field: Field, bad_text: str
):
    response = await send_with(app_client, squad_a, field, bad_text)

    assert response.status_code == 422, f"{field.label}: {response.status_code} {response.text[:300]}"
    locations = [tuple(problem["loc"]) for problem in response.json()["detail"]]
    assert (field.location, field.name) in locations, f"{field.label}: the 422 names {locations}"
