"""Tenancy over every endpoint of the platform's OpenAPI: no token, no entry; squad A never reaches squad B.

The requests are built from the OpenAPI document, so a new endpoint is enumerated here by itself; one
whose parameters or body this module cannot fill fails the test with the field to add to FIELD_VALUES.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.models import Agent, Event, Job, Sandbox, Squad, Task
from reliability_tests.security.platform_api import (
    PUBLIC_API_OPERATIONS,
    PUBLIC_ROUTES,
    RESOURCE_FIELDS,
    Operation,
    api_operations,
    api_route_paths,
    openapi_document,
    routes_outside_the_api,
)

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

# Valid values for the fields that are not ids, so a refusal is about ownership and nothing else.
FIELD_VALUES: dict[str, Any] = {
    "name": "tenancy probe",
    "repository": "acme/tenancy-probe",
    "title": "tenancy probe",
    "description": "tenancy probe",
    "message": "tenancy probe",
    "branch": "agent/tenancy-probe",
    "body": "tenancy probe",
}
# An endless stream must not open where a refusal is expected: a hang fails here, not at the suite timeout.
REQUEST_DEADLINE_S = 10.0
# The operations a squad's token opens (the operator's: backend_tests/integration/test_squad_creation_operator.py).
PROTECTED = [op for op in api_operations() if not op.is_public and not op.is_operators]


def resource_slots(operation: Operation) -> list[tuple[str, str]]:
    """(location, field) of every id this operation takes: path and query parameters, body fields."""
    slots = [
        (parameter["in"], parameter["name"])
        for parameter in operation.spec.get("parameters", [])
        if parameter["name"] in RESOURCE_FIELDS
    ]
    body = operation.body_schema(openapi_document())
    if body is not None:
        slots += [("body", name) for name in body.get("properties", {}) if name in RESOURCE_FIELDS]
    return slots


def build_request(
    operation: Operation, ids: dict[str, str], foreign: tuple[str, str] | None, other_ids: dict[str, str]
) -> tuple[str, str, dict[str, Any], dict[str, Any] | None]:
    """The request for `operation` with the caller's own ids, except `foreign`, which gets the other squad's."""

    def value(location: str, name: str) -> Any:
        if name in RESOURCE_FIELDS:
            chosen = other_ids if foreign == (location, name) else ids
            return chosen[RESOURCE_FIELDS[name]]
        if name not in FIELD_VALUES:
            raise AssertionError(f"{operation.label}: no value for required {location} field {name!r}; add one")
        return FIELD_VALUES[name]

    path = operation.path
    for parameter in operation.parameters("path"):
        path = path.replace("{" + parameter["name"] + "}", value("path", parameter["name"]))
    # Optional query filters are sent only when they are the id under test (a filter narrows a list).
    params = {
        p["name"]: value("query", p["name"])
        for p in operation.parameters("query")
        if p.get("required") or foreign == ("query", p["name"])
    }
    body_schema = operation.body_schema(openapi_document())
    body = None
    if body_schema is not None:
        properties = body_schema.get("properties", {})
        wanted = set(body_schema.get("required", [])) | {n for n in properties if n in RESOURCE_FIELDS}
        body = {name: value("body", name) for name in properties if name in wanted}
    return operation.method, path, params, body


async def send(client: httpx.AsyncClient, request: tuple, headers: dict[str, str]) -> httpx.Response:
    method, path, params, body = request
    with anyio.fail_after(REQUEST_DEADLINE_S):
        return await client.request(method, path, params=params, json=body, headers=headers)


async def squad_rows(session: AsyncSession, squad_id: str) -> dict[str, list[tuple]]:
    """Everything stored for one squad, column by column, to compare before and after."""
    session.expire_all()
    task_ids = select(Task.id).where(Task.squad_id == squad_id)
    queries = {
        "squad": select(Squad).where(Squad.id == squad_id),
        "agents": select(Agent).where(Agent.squad_id == squad_id),
        "tasks": select(Task).where(Task.squad_id == squad_id),
        "sandboxes": select(Sandbox).where(Sandbox.task_id.in_(task_ids)),
        "jobs": select(Job).where(Job.task_id.in_(task_ids)),
        "events": select(Event).where(Event.squad_id == squad_id),
    }
    rows = {}
    for name, query in queries.items():
        found = (await session.scalars(query)).all()
        rows[name] = sorted(tuple(str(getattr(row, column.key)) for column in row.__table__.columns) for row in found)
    return rows


def test_the_public_operations_listed_are_exactly_the_ones_without_security():
    """The exception list matches the OpenAPI document and the app's routes, in both directions."""
    unsecured = {(op.method, op.path) for op in api_operations() if not op.spec.get("security")}

    assert unsecured == PUBLIC_API_OPERATIONS, f"operations without a token requirement: {sorted(unsecured)}"
    app = create_app()
    assert routes_outside_the_api(app) == PUBLIC_ROUTES
    # An API route hidden from the OpenAPI document would escape every test generated from it.
    assert api_route_paths(app) == {op.path for op in api_operations()}


@pytest.mark.parametrize("operation", PROTECTED, ids=lambda op: op.label)
@pytest.mark.parametrize("token", [None, "sq_not-a-real-token"], ids=["no-token", "unknown-token"])
async def test_every_protected_operation_refuses_a_request_without_a_valid_token(
    app_client, squad_a, squad_b, db_session, operation: Operation, token
):
    before = await squad_rows(db_session, squad_a.id)
    request = build_request(operation, squad_a.ids, None, squad_b.ids)

    response = await send(app_client, request, {"Authorization": f"Bearer {token}"} if token else {})

    assert response.status_code == 401, f"{operation.label} without a valid token: {response.status_code}"
    assert response.headers["www-authenticate"] == "Bearer"
    assert await squad_rows(db_session, squad_a.id) == before, f"{operation.label} changed data without a token"


@pytest.mark.parametrize("path", sorted(PUBLIC_ROUTES - {"/web", "/docs/oauth2-redirect"}))
async def test_the_public_routes_answer_without_a_token(app_client, path):
    response = await app_client.get(path)

    assert response.status_code == 200, f"GET {path} without a token: {response.status_code}"


async def test_the_board_assets_are_public(app_client):
    response = await app_client.get("/web/board.js")

    assert response.status_code == 200


async def test_creating_a_squad_needs_the_operators_token_not_a_squads(app_client, squad_a):
    body = {"name": "no operator", "repository": squad_a.squad["repository"]}

    without = await app_client.post("/api/v1/squads", json=body)
    as_a_squad = await app_client.post("/api/v1/squads", json=body, headers=squad_a.headers)

    assert without.status_code == 401 and without.headers["www-authenticate"] == "Bearer"
    assert as_a_squad.status_code == 403, as_a_squad.text


def _cases() -> list[Any]:
    cases = []
    for operation in PROTECTED:
        slots = resource_slots(operation)
        for slot in slots or [None]:
            label = f"{operation.label} with B's {slot[1]} in {slot[0]}" if slot else f"{operation.label} as A"
            cases.append(pytest.param(operation, slot, id=label))
    return cases


@pytest.mark.parametrize(("operation", "foreign"), _cases())
async def test_squad_a_never_reads_changes_or_streams_anything_of_squad_b(
    app_client, squad_a, squad_b, db_session, fake_e2b, fake_github, operation: Operation, foreign
):
    """Each id an operation takes is, in turn, squad B's (the others A's own): the answer is 404, B's
    rows in the database, its sandbox in E2B and its repository in GitHub are untouched. An operation
    that takes no id is answered with A's data only: nothing of B (ids, name, token) in the body."""
    before = await squad_rows(db_session, squad_b.id)
    sandboxes_before = fake_e2b.snapshot()["sandboxes"]
    owner, name = squad_b.owner, squad_b.repo_name
    branches_before = fake_github.branches(owner, name)
    request = build_request(operation, squad_a.ids, foreign, squad_b.ids)

    response = await send(app_client, request, squad_a.headers)

    if foreign is not None and foreign[0] != "query":
        assert response.status_code == 404, f"{operation.label}: {response.status_code} {response.text[:300]}"
    elif foreign is not None:
        # A filter may refuse another squad's id (404) or narrow to nothing; never widen to B's data.
        assert response.status_code in (200, 404), f"{operation.label}: {response.status_code}"
    else:
        assert response.status_code < 300, f"{operation.label} as A: {response.status_code} {response.text[:300]}"
    # The 404 may echo the id A sent ("task <id> not found"); anything else of B is a leak.
    sent = str(request)
    leaked = [secret for secret in squad_b.secrets if secret in response.text and secret not in sent]
    assert not leaked, f"{operation.label} answered squad A with squad B's {leaked}"
    assert await squad_rows(db_session, squad_b.id) == before, f"{operation.label} changed squad B's data"
    assert fake_e2b.snapshot()["sandboxes"] == sandboxes_before
    assert fake_github.branches(owner, name) == branches_before
    assert fake_github.pull_requests(owner, name) == []
