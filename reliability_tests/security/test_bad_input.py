"""Bad input to every operation that takes a body, and to the event stream: a 4xx with a message, never a 5xx.

Oversized bodies, wrong content types and broken JSON are sent to each body-taking operation of the
platform's OpenAPI (so a new one is covered); the fakes' side of this is in contracts/test_bad_input.py.
"""

from __future__ import annotations

import json

import anyio
import pytest

from fixtures.squads import Squad
from reliability_tests.security.platform_api import Operation, api_operations, caller_headers

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

WITH_BODY = [op for op in api_operations() if "requestBody" in op.spec]
MIB = 1024 * 1024
BROKEN_JSON = [b'{"title": ', b"\xff\xfe{", b"{'title': 'x'}", b'{"title": "x"}}', b"[" * 10_000]


def path_of(operation: Operation, squad: Squad) -> str:
    return operation.path.replace("{task_id}", squad.task["id"]).replace("{sandbox_id}", squad.sandbox["id"])


def assert_refused(response, statuses: set[int], what: str) -> None:
    assert response.status_code in statuses, f"{what}: {response.status_code} {response.text[:300]}"
    assert response.json()["detail"], f"{what}: a refusal without a message"


@pytest.mark.parametrize("operation", WITH_BODY, ids=lambda op: op.label)
async def test_a_body_over_a_mebibyte_is_refused_with_413_or_422(app_client, squad_a: Squad, operation):
    body = {"title": "x" * (2 * MIB), "description": "y" * MIB, "name": "z" * MIB, "message": "m" * MIB}

    response = await app_client.request(
        operation.method, path_of(operation, squad_a), json=body, headers=caller_headers(operation, squad_a)
    )

    assert_refused(response, {413, 422}, f"{operation.label} with a 4 MiB body")


@pytest.mark.parametrize("operation", WITH_BODY, ids=lambda op: op.label)
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
async def test_a_body_that_is_not_json_is_refused_with_415_or_422(app_client, squad_a: Squad, operation, content_type):
    headers = caller_headers(operation, squad_a) | {"Content-Type": content_type}
    content = json.dumps({"title": "x", "name": "x", "task_id": squad_a.task["id"]})

    response = await app_client.request(operation.method, path_of(operation, squad_a), content=content, headers=headers)

    assert_refused(response, {415, 422}, f"{operation.label} as {content_type}")


@pytest.mark.parametrize("operation", WITH_BODY, ids=lambda op: op.label)
async def test_broken_json_is_refused_with_400_or_422(app_client, squad_a: Squad, operation):
    headers = caller_headers(operation, squad_a) | {"Content-Type": "application/json"}
    for content in BROKEN_JSON:
        response = await app_client.request(
            operation.method, path_of(operation, squad_a), content=content, headers=headers
        )

        assert_refused(response, {400, 422}, f"{operation.label} with {content[:20]!r}")


@pytest.mark.parametrize(
    "value",
    ["9" * 10_000, str(2**63), "1e9", "+7", "7_0", "0x10", "\u0663", "-0", ""],
    ids=["10k-digits", "past-int64", "float", "plus", "underscore", "hex", "arabic-digit", "minus-zero", "empty"],
)
async def test_an_absurd_last_event_id_is_400_before_any_stream_opens(app_client, squad_a: Squad, value):
    # A value taken for an id would open the endless stream: the deadline turns that into a failure.
    with anyio.fail_after(10):
        response = await app_client.get("/api/v1/events", headers=squad_a.headers | {"Last-Event-ID": value.encode()})

    assert_refused(response, {400}, f"Last-Event-ID {value[:20]!r}")
    assert "Last-Event-ID" in response.json()["detail"]


async def test_an_absurd_last_event_id_query_parameter_is_422(app_client, squad_a: Squad):
    response = await app_client.get("/api/v1/events", params={"last_event_id": "9" * 5_000}, headers=squad_a.headers)

    assert_refused(response, {422}, "last_event_id of 5,000 digits")
