"""The fake E2B's REST API, in-process through its respx router, against the official OpenAPI description."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
import respx

from mocks.e2b import FakeE2B
from mocks.e2b.router import E2B_API_URL, e2b_router

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]


SchemaCheck = Callable[..., None]  # the e2b_schema fixture: (instance, schema name, array=False)


@pytest.fixture
def router(fake_e2b: FakeE2B) -> Iterator[respx.MockRouter]:
    with e2b_router(fake_e2b) as router:
        yield router


@pytest.fixture
async def api(router: respx.MockRouter, e2b_api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": e2b_api_key}) as client:
        yield client


async def test_create_sandbox_answers_201_with_the_sandbox_schema(
    api: httpx.AsyncClient, router: respx.MockRouter, e2b_schema: SchemaCheck
) -> None:
    response = await api.post("/v2/sandboxes", json={"templateID": "base", "timeout": 60, "metadata": {"k": "v"}})

    assert response.status_code == 201, response.text
    e2b_schema(response.json(), "Sandbox")
    assert response.json()["envdAccessToken"]
    assert router["create_sandbox"].call_count == 1


async def test_legacy_create_get_and_kill_follow_the_spec(api: httpx.AsyncClient, e2b_schema: SchemaCheck) -> None:
    created = (await api.post("/sandboxes", json={"templateID": "base"})).json()
    sandbox_url = f"/sandboxes/{created['sandboxID']}"

    detail = await api.get(sandbox_url)
    killed = await api.delete(sandbox_url)
    gone = await api.get(sandbox_url)

    assert detail.status_code == 200
    e2b_schema(detail.json(), "SandboxDetail")
    assert (killed.status_code, killed.content) == (204, b"")
    assert gone.status_code == 404
    e2b_schema(gone.json(), "Error")
    assert gone.json()["code"] == 404


async def test_list_sandboxes_shows_only_running_ones(api: httpx.AsyncClient, e2b_schema: SchemaCheck) -> None:
    kept = (await api.post("/v2/sandboxes", json={"templateID": "base"})).json()["sandboxID"]
    killed = (await api.post("/v2/sandboxes", json={"templateID": "base"})).json()["sandboxID"]
    await api.delete(f"/sandboxes/{killed}")

    listed = await api.get("/v2/sandboxes")

    e2b_schema(listed.json(), "ListedSandbox", array=True)
    assert [item["sandboxID"] for item in listed.json()] == [kept]


@pytest.mark.parametrize(
    ("headers", "message_part"),
    [({}, "Missing API key"), ({"X-API-Key": "e2b_" + "f" * 40}, "Invalid API key")],
    ids=["missing", "unknown"],
)
async def test_requests_without_a_valid_api_key_get_401(
    router: respx.MockRouter, e2b_schema: SchemaCheck, headers: dict[str, str], message_part: str
) -> None:
    async with httpx.AsyncClient(base_url=E2B_API_URL, headers=headers) as client:
        response = await client.post("/v2/sandboxes", json={"templateID": "base"})

    assert response.status_code == 401
    e2b_schema(response.json(), "Error")
    assert response.json()["code"] == 401 and message_part in response.json()["message"]


@pytest.mark.parametrize(
    "content",
    [b'{"templateID": ', b"[]", b"{}", b'{"templateID": "base", "timeout": "soon"}', b'{"templateID": 7}'],
    ids=["broken-json", "not-an-object", "no-template", "timeout-not-int", "template-not-string"],
)
async def test_bad_create_bodies_get_400_in_the_error_shape(
    api: httpx.AsyncClient, e2b_schema: SchemaCheck, fake_e2b: FakeE2B, content: bytes
) -> None:
    response = await api.post("/v2/sandboxes", content=content, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    e2b_schema(response.json(), "Error")
    assert fake_e2b.running_sandboxes() == []


async def test_creating_past_the_concurrency_quota_gets_429(api: httpx.AsyncClient, fake_e2b: FakeE2B) -> None:
    fake_e2b.max_concurrent = 1
    try:
        first = await api.post("/v2/sandboxes", json={"templateID": "base"})
        second = await api.post("/v2/sandboxes", json={"templateID": "base"})
    finally:
        fake_e2b.max_concurrent = 20

    assert (first.status_code, second.status_code) == (201, 429)
    assert second.json()["code"] == 429


async def test_unknown_paths_hit_the_catch_all_route_and_get_the_e2b_404(
    api: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    response = await api.get("/no/such/thing")

    assert response.status_code == 404
    assert response.json()["code"] == 404
    assert router["not_found"].called


async def test_no_request_escapes_to_an_unmocked_host(router: respx.MockRouter) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(respx.models.AllMockedAssertionError):
            await client.get("https://api.example.com/anything")
