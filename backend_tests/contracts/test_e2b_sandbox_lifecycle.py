"""A sandbox's life on the fake E2B: timeout, refresh, expiry, pause, connect and resume, as the spec says.

In-process through the respx router. Time is the fake's clock (`advance_time`), so nothing waits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
import respx

from fixtures import http
from mocks.e2b import FakeE2B
from mocks.e2b.router import E2B_API_URL, E2B_SANDBOX_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

SchemaCheck = Callable[..., None]


async def create(e2b_api: httpx.AsyncClient, **body: object) -> dict:
    response = await e2b_api.post("/v2/sandboxes", json={"templateID": "base", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def detail(e2b_api: httpx.AsyncClient, sandbox_id: str) -> dict:
    response = await e2b_api.get(f"/sandboxes/{sandbox_id}")
    assert response.status_code == 200, response.text
    return response.json()


def end_of(body: dict) -> datetime:
    return datetime.fromisoformat(body["endAt"].replace("Z", "+00:00"))


def envd_health(sandbox: dict) -> httpx.Request:
    # envd answers its health check without the access token (a secure sandbox's too)
    return httpx.Request("GET", f"{E2B_SANDBOX_URL}/health", headers={"E2b-Sandbox-Id": sandbox["sandboxID"]})


@pytest.mark.priority_p0
async def test_a_sandbox_expires_at_its_timeout(e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B) -> None:
    sandbox = await create(e2b_api, timeout=60)
    sandbox_id = sandbox["sandboxID"]

    fake_e2b.advance_time(59)
    alive = await e2b_api.get(f"/sandboxes/{sandbox_id}")
    fake_e2b.advance_time(2)
    gone = await e2b_api.get(f"/sandboxes/{sandbox_id}")
    listed = await e2b_api.get("/v2/sandboxes")
    killed = await e2b_api.delete(f"/sandboxes/{sandbox_id}")

    assert (alive.status_code, gone.status_code, killed.status_code) == (200, 404, 404)
    assert gone.json()["message"] == f"Sandbox \"{sandbox_id}\" doesn't exist or you don't have access to it"
    assert listed.json() == []
    assert [expired.sandbox_id for expired in fake_e2b.killed_sandboxes()] == [sandbox_id]


async def test_without_a_timeout_the_api_default_of_15_seconds_applies(e2b_api: httpx.AsyncClient) -> None:
    sandbox = await create(e2b_api)

    body = await detail(e2b_api, sandbox["sandboxID"])

    started = datetime.fromisoformat(body["startedAt"].replace("Z", "+00:00"))
    assert end_of(body) - started == timedelta(seconds=15)


async def test_an_auto_pause_sandbox_is_paused_not_killed_at_its_timeout(
    e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B
) -> None:
    sandbox = await create(e2b_api, timeout=30, autoPause=True)

    fake_e2b.advance_time(31)
    body = await detail(e2b_api, sandbox["sandboxID"])

    assert body["state"] == "paused"
    assert body["lifecycle"] == {"autoResume": False, "onTimeout": "pause"}


async def test_set_timeout_counts_from_now_and_may_shorten_the_life(
    e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B
) -> None:
    sandbox_id = (await create(e2b_api, timeout=600))["sandboxID"]

    shortened = await e2b_api.post(f"/sandboxes/{sandbox_id}/timeout", json={"timeout": 10})
    left = end_of(await detail(e2b_api, sandbox_id)) - fake_e2b.now()
    fake_e2b.advance_time(11)
    after = await e2b_api.get(f"/sandboxes/{sandbox_id}")

    assert (shortened.status_code, shortened.content) == (204, b"")
    assert abs(left.total_seconds() - 10) < 2
    assert after.status_code == 404


@pytest.mark.parametrize(
    "body", [{}, {"timeout": "60"}, {"timeout": -1}, {"timeout": 1.5}], ids=["missing", "string", "negative", "float"]
)
async def test_set_timeout_refuses_bad_bodies_with_400(e2b_api: httpx.AsyncClient, body: dict) -> None:
    sandbox_id = (await create(e2b_api, timeout=60))["sandboxID"]

    response = await e2b_api.post(f"/sandboxes/{sandbox_id}/timeout", json=body)

    assert response.status_code == 400
    assert response.json()["code"] == 400 and "timeout" in response.json()["message"]


@pytest.mark.parametrize("path", ["timeout", "refreshes", "pause", "connect"])
async def test_lifecycle_calls_on_an_unknown_sandbox_get_404(e2b_api: httpx.AsyncClient, path: str) -> None:
    response = await e2b_api.post(f"/sandboxes/nosuchsandbox/{path}", json={"timeout": 60})

    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "message": "Sandbox \"nosuchsandbox\" doesn't exist or you don't have access to it",
    }


async def test_refresh_extends_by_at_least_15_seconds_and_never_shortens(
    e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B
) -> None:
    short_id = (await create(e2b_api, timeout=5))["sandboxID"]
    long_id = (await create(e2b_api, timeout=600))["sandboxID"]

    empty = await e2b_api.post(f"/sandboxes/{short_id}/refreshes")
    kept = await e2b_api.post(f"/sandboxes/{long_id}/refreshes", json={"duration": 60})

    assert (empty.status_code, kept.status_code) == (204, 204)
    assert abs((end_of(await detail(e2b_api, short_id)) - fake_e2b.now()).total_seconds() - 15) < 2
    assert abs((end_of(await detail(e2b_api, long_id)) - fake_e2b.now()).total_seconds() - 600) < 2


async def test_refresh_longer_than_an_hour_is_refused(e2b_api: httpx.AsyncClient) -> None:
    sandbox_id = (await create(e2b_api, timeout=60))["sandboxID"]

    response = await e2b_api.post(f"/sandboxes/{sandbox_id}/refreshes", json={"duration": 3601})

    assert (response.status_code, response.json()["code"]) == (400, 400)


async def test_a_timeout_past_the_teams_longest_life_is_refused(e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B) -> None:
    response = await e2b_api.post("/v2/sandboxes", json={"templateID": "base", "timeout": 24 * 3600 + 1})

    assert response.status_code == 400
    assert response.json()["message"] == "Timeout cannot be greater than 24 hours"
    assert fake_e2b.running_sandboxes() == []


@pytest.mark.priority_p0
async def test_pause_keeps_the_sandbox_listed_as_paused_and_unreachable(
    e2b_api: httpx.AsyncClient, e2b_routes: respx.MockRouter, fake_e2b: FakeE2B
) -> None:
    sandbox = await create(e2b_api, timeout=60)
    sandbox_id = sandbox["sandboxID"]

    paused = await e2b_api.post(f"/sandboxes/{sandbox_id}/pause")
    again = await e2b_api.post(f"/sandboxes/{sandbox_id}/pause")
    body = await detail(e2b_api, sandbox_id)
    only_paused = await e2b_api.get("/v2/sandboxes", params={"state": "paused"})
    only_running = await e2b_api.get("/v2/sandboxes", params={"state": "running"})
    async with http.AsyncClient() as client:
        envd = await client.send(envd_health(sandbox))

    assert (paused.status_code, paused.content) == (204, b"")
    assert again.status_code == 409
    assert again.json()["message"] == f"Error pausing sandbox - sandbox '{sandbox_id}' is already paused"
    assert body["state"] == "paused"
    assert [item["sandboxID"] for item in only_paused.json()] == [sandbox_id]
    assert only_running.json() == [] and only_running.headers["x-total-running"] == "0"
    assert envd.status_code == 502, "a paused sandbox's envd is unreachable (the SDK's is_running() is False)"


@pytest.mark.priority_p0
async def test_connect_resumes_a_paused_sandbox_with_201_and_its_files(
    e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B
) -> None:
    sandbox = await create(e2b_api, timeout=60)
    sandbox_id = sandbox["sandboxID"]
    (fake_e2b.workspace(sandbox_id) / "kept.txt").write_text("still here\n")
    await e2b_api.post(f"/sandboxes/{sandbox_id}/pause")

    resumed = await e2b_api.post(f"/sandboxes/{sandbox_id}/connect", json={"timeout": 120})
    body = await detail(e2b_api, sandbox_id)

    assert resumed.status_code == 201
    assert resumed.json()["sandboxID"] == sandbox_id
    assert body["state"] == "running"
    assert abs((end_of(body) - fake_e2b.now()).total_seconds() - 120) < 2
    assert (fake_e2b.workspace(sandbox_id) / "kept.txt").read_text() == "still here\n"


async def test_connect_to_a_running_sandbox_answers_200_and_only_extends_its_life(
    e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B
) -> None:
    sandbox_id = (await create(e2b_api, timeout=600))["sandboxID"]

    shorter = await e2b_api.post(f"/sandboxes/{sandbox_id}/connect", json={"timeout": 30})
    end_after_shorter = end_of(await detail(e2b_api, sandbox_id))
    longer = await e2b_api.post(f"/v2/sandboxes/{sandbox_id}/connect", json={"timeout": 900})
    end_after_longer = end_of(await detail(e2b_api, sandbox_id))

    assert (shorter.status_code, longer.status_code) == (200, 200)
    assert abs((end_after_shorter - fake_e2b.now()).total_seconds() - 600) < 2, "connect never shortens"
    assert abs((end_after_longer - fake_e2b.now()).total_seconds() - 900) < 2


async def test_connect_v1_requires_a_timeout_while_v2_defaults_it(e2b_api: httpx.AsyncClient) -> None:
    sandbox_id = (await create(e2b_api, timeout=60))["sandboxID"]

    v1 = await e2b_api.post(f"/sandboxes/{sandbox_id}/connect", json={})
    v2 = await e2b_api.post(f"/v2/sandboxes/{sandbox_id}/connect", json={})

    assert v1.status_code == 400 and 'property "timeout" is missing' in v1.json()["message"]
    assert v2.status_code == 200


async def test_deprecated_resume_answers_201_when_paused_and_409_when_running(e2b_api: httpx.AsyncClient) -> None:
    sandbox_id = (await create(e2b_api, timeout=60))["sandboxID"]

    running = await e2b_api.post(f"/sandboxes/{sandbox_id}/resume", json={"timeout": 60})
    await e2b_api.post(f"/sandboxes/{sandbox_id}/pause")
    resumed = await e2b_api.post(f"/sandboxes/{sandbox_id}/resume", json={"timeout": 60})

    assert running.status_code == 409
    assert resumed.status_code == 201 and resumed.json()["sandboxID"] == sandbox_id


async def test_a_paused_sandbox_can_be_killed(e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B) -> None:
    sandbox_id = (await create(e2b_api, timeout=60))["sandboxID"]
    await e2b_api.post(f"/sandboxes/{sandbox_id}/pause")

    killed = await e2b_api.delete(f"/sandboxes/{sandbox_id}")
    connect = await e2b_api.post(f"/sandboxes/{sandbox_id}/connect", json={"timeout": 60})

    assert killed.status_code == 204
    assert connect.status_code == 404
    assert fake_e2b.paused_sandboxes() == []


@pytest.mark.priority_p0
async def test_the_quota_counts_running_sandboxes_and_resuming_past_it_gets_429(
    e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B
) -> None:
    fake_e2b.max_concurrent = 1
    try:
        first = (await create(e2b_api, timeout=60))["sandboxID"]
        await e2b_api.post(f"/sandboxes/{first}/pause")
        second = await e2b_api.post("/v2/sandboxes", json={"templateID": "base"})
        resume_first = await e2b_api.post(f"/sandboxes/{first}/connect", json={"timeout": 60})
        third = await e2b_api.post("/v2/sandboxes", json={"templateID": "base"})
    finally:
        fake_e2b.max_concurrent = 20

    assert second.status_code == 201, "a paused sandbox does not count against the quota"
    assert (resume_first.status_code, third.status_code) == (429, 429)
    assert third.json() == {
        "code": 429,
        "message": "you have reached the maximum number of concurrent E2B sandboxes (1). "
        "If you need more, please contact us at 'https://e2b.dev/docs/getting-help'",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/sandboxes"),
        ("GET", "/sandboxes/any"),
        ("DELETE", "/sandboxes/any"),
        ("POST", "/sandboxes/any/timeout"),
        ("POST", "/sandboxes/any/refreshes"),
        ("POST", "/sandboxes/any/pause"),
        ("POST", "/sandboxes/any/connect"),
        ("POST", "/v2/sandboxes/any/connect"),
    ],
)
async def test_every_operation_needs_a_valid_api_key(e2b_routes: respx.MockRouter, method: str, path: str) -> None:
    async with http.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": "e2b_" + "9" * 40}) as client:
        response = await client.request(method, path, json={"timeout": 60})

    assert response.status_code == 401
    assert response.json()["message"].startswith("Invalid API key")
