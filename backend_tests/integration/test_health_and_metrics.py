"""`GET /health` checks the database; `GET /metrics` speaks Prometheus text."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.main import attach_runtime, create_app
from app.runtime import Runtime
from fixtures import http

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# On every pull request too: the tier holds at least one test of each capability of the platform.
@pytest.mark.priority_p0
async def test_health_is_ok_with_a_working_database(app_client):
    response = await app_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.priority_p0
async def test_health_is_503_naming_the_failure_when_the_database_cannot_be_opened(inprocess_settings, tmp_path):
    settings = inprocess_settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path}"})
    runtime = Runtime(settings)
    app = create_app(settings)
    attach_runtime(app, runtime)
    try:
        async with http.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://squad.test") as client:
            response = await client.get("/health")
    finally:
        await runtime.__aexit__(None, None, None)

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "OperationalError"}


async def test_metrics_count_requests_by_route_template_and_jobs_by_state(api_squad, app_client):
    task = await api_squad.new_task()
    await api_squad.call("GET", f"/api/v1/tasks/{task['id']}")
    await api_squad.call("POST", f"/api/v1/tasks/{task['id']}/assign", json={"agent_id": api_squad.agent["id"]})

    response = await app_client.get("/metrics")

    assert response.headers["content-type"].startswith("text/plain")
    values = samples(response.text)
    route = ("method", "GET"), ("route", "/api/v1/tasks/{task_id}"), ("status", "200")
    assert values[("squad_http_requests_total", route)] == 1
    assert values[("squad_jobs", (("state", "queued"),))] >= 1
    assert ("squad_sse_active_streams", ()) in values
    assert not any(task["id"] in str(labels) for _, labels in values)
