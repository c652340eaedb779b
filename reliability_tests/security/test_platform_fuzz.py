"""Generated requests against every operation of the platform's OpenAPI, in-process with respx fakes.

Valid requests (half of them aimed at the squad's real task, agent and sandbox, so they get past the
404 and reach the handlers) and invalid ones (schemathesis's negative mode). Each answer must be no
5xx, a documented status, the documented content type, and a body that matches its schema. The one
5xx allowed is an outside service's failure, which the API documents as 502/503 naming the service.
`pytest backend_tests` sends about 300 requests; `make fuzz` sends FUZZ_REQUESTS (1,200).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case

from fixtures.squads import Squad
from reliability_tests.security.platform_api import RESOURCE_FIELDS, openapi_document
from reliability_tests.security.schema_fuzz import FuzzRun, conforms, fuzz, httpx_arguments, request_budget

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

# The event stream never ends, and the in-process transport waits for the end: it is fuzzed on a live
# server (test_event_stream_fuzz.py).
STREAMING = {("GET", "/api/v1/events")}
OUTSIDE_SERVICE_STATUSES = {502, 503}


def in_process_operations() -> list[Any]:
    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if (op.method.upper(), op.path) not in STREAMING]


def judge(case: Case, response: httpx.Response) -> None:
    if response.status_code >= 500:
        body = response.json() if response.headers.get("content-type") == "application/json" else {}
        assert response.status_code in OUTSIDE_SERVICE_STATUSES and body.get("service"), (
            f"{case.operation.label} answered {response.status_code}: {response.text[:500]}\n"
            f"reproduce with: {case.as_curl_command()}"
        )
    conforms(case, response)


def aimed_at(case: Case, ids: dict[str, str]) -> None:
    """Point a valid case's ids at the squad's real resources, so it reaches past the 404."""
    if case.path_parameters:
        case.path_parameters = {
            name: ids[RESOURCE_FIELDS[name]] if name in RESOURCE_FIELDS else value
            for name, value in case.path_parameters.items()
        }
    if isinstance(case.body, dict):
        case.body = {
            name: ids[RESOURCE_FIELDS[name]] if name in RESOURCE_FIELDS else value for name, value in case.body.items()
        }


async def test_generated_requests_get_documented_answers_and_never_a_server_error(
    app_client: httpx.AsyncClient, squad_a: Squad, fuzz_report
):
    async def send(case: Case, extra: dict[str, Any]) -> httpx.Response:
        if extra["real_ids"] and not (case.meta and case.meta.generation.mode.is_negative):
            aimed_at(case, squad_a.ids)
        return await app_client.request(**httpx_arguments(case, str(app_client.base_url)))

    run = await fuzz(
        in_process_operations(),
        send,
        judge,
        budget=request_budget(),
        run=FuzzRun(),
        variants=st.fixed_dictionaries({"real_ids": st.booleans()}),
        headers=squad_a.headers,
    )

    fuzz_report("platform API (in-process)", run.total)
    assert run.total >= request_budget() // 2, f"only {run.total} requests were generated: {run.sent}"
