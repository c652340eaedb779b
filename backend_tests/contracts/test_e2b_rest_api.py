"""The fake E2B's REST API, in-process through its respx router, against the official OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from fixtures import http
from mocks.e2b import FakeE2B
from mocks.e2b.router import E2B_API_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]


SchemaCheck = Callable[..., None]  # the e2b_schema fixture: (instance, schema name, array=False)


async def test_create_sandbox_answers_201_with_the_sandbox_schema(
    e2b_api: httpx.AsyncClient, e2b_routes: respx.MockRouter, e2b_schema: SchemaCheck
) -> None:
    response = await e2b_api.post(
        "/v2/sandboxes", json={"templateID": "base", "timeout": 60, "metadata": {"k": "v"}, "secure": True}
    )

    assert response.status_code == 201, response.text
    e2b_schema(response.json(), "Sandbox")
    assert response.json()["envdAccessToken"]
    assert e2b_routes["create_sandbox"].call_count == 1


async def test_legacy_create_get_and_kill_follow_the_spec(e2b_api: httpx.AsyncClient, e2b_schema: SchemaCheck) -> None:
    created = (await e2b_api.post("/sandboxes", json={"templateID": "base"})).json()
    sandbox_url = f"/sandboxes/{created['sandboxID']}"

    detail = await e2b_api.get(sandbox_url)
    killed = await e2b_api.delete(sandbox_url)
    gone = await e2b_api.get(sandbox_url)

    assert detail.status_code == 200
    e2b_schema(detail.json(), "SandboxDetail")
    assert (killed.status_code, killed.content) == (204, b"")
    assert gone.status_code == 404
    e2b_schema(gone.json(), "Error")
    assert gone.json()["code"] == 404


async def test_the_deprecated_list_shows_only_running_sandboxes(
    e2b_api: httpx.AsyncClient, e2b_schema: SchemaCheck
) -> None:
    kept = (await e2b_api.post("/v2/sandboxes", json={"templateID": "base"})).json()["sandboxID"]
    killed = (await e2b_api.post("/v2/sandboxes", json={"templateID": "base"})).json()["sandboxID"]
    paused = (await e2b_api.post("/v2/sandboxes", json={"templateID": "base"})).json()["sandboxID"]
    await e2b_api.delete(f"/sandboxes/{killed}")
    await e2b_api.post(f"/sandboxes/{paused}/pause")

    listed = await e2b_api.get("/sandboxes")

    e2b_schema(listed.json(), "ListedSandbox", array=True)
    assert [item["sandboxID"] for item in listed.json()] == [kept]


async def create_with(e2b_api: httpx.AsyncClient, metadata: dict[str, str]) -> str:
    response = await e2b_api.post("/v2/sandboxes", json={"templateID": "base", "timeout": 60, "metadata": metadata})
    return response.json()["sandboxID"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("task=t-1", ["a"]),
        ("squad=s1", ["b", "a"]),
        ("squad=s1&task=t-2", ["b"]),
        ("squad=s9", []),
        ("note=a%2520b%2526c", ["c"]),  # as the SDK sends it: key and value URL-encoded, then the whole
    ],
    ids=["one-pair", "shared-pair", "all-pairs-must-match", "no-match", "encoded-value"],
)
async def test_v2_list_filters_by_metadata(e2b_api: httpx.AsyncClient, query: str, expected: list[str]) -> None:
    ids = {
        "a": await create_with(e2b_api, {"squad": "s1", "task": "t-1"}),
        "b": await create_with(e2b_api, {"squad": "s1", "task": "t-2"}),
        "c": await create_with(e2b_api, {"note": "a b&c"}),
    }

    listed = await e2b_api.get("/v2/sandboxes", params={"metadata": query})

    assert listed.status_code == 200
    assert [item["sandboxID"] for item in listed.json()] == [ids[name] for name in expected]


async def test_v2_list_filters_by_state_newest_first_by_default(e2b_api: httpx.AsyncClient) -> None:
    older = await create_with(e2b_api, {})
    newer = await create_with(e2b_api, {})
    paused = await create_with(e2b_api, {})
    await e2b_api.post(f"/sandboxes/{paused}/pause")

    both = await e2b_api.get("/v2/sandboxes", params={"state": "running,paused"})
    running_oldest_first = await e2b_api.get("/v2/sandboxes", params={"state": "running", "order": "asc"})

    assert [item["sandboxID"] for item in both.json()] == [paused, newer, older]
    assert [item["state"] for item in both.json()] == ["paused", "running", "running"]
    assert [item["sandboxID"] for item in running_oldest_first.json()] == [older, newer]
    assert running_oldest_first.headers["x-total-running"] == "2"


async def test_v2_list_pages_with_limit_and_next_token(e2b_api: httpx.AsyncClient) -> None:
    created = [await create_with(e2b_api, {"page": "yes"}) for _ in range(3)]

    first = await e2b_api.get("/v2/sandboxes", params={"limit": 2, "order": "asc"})
    second = await e2b_api.get(
        "/v2/sandboxes", params={"limit": 2, "order": "asc", "nextToken": first.headers["x-next-token"]}
    )

    assert [item["sandboxID"] for item in first.json()] == created[:2]
    assert [item["sandboxID"] for item in second.json()] == created[2:]
    assert "x-next-token" not in second.headers


@pytest.mark.parametrize(
    "params",
    [
        {"state": "sleeping"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "many"},
        {"order": "sideways"},
        {"metadata": "no-equals-sign"},
        {"nextToken": "%%%"},
        {"startedAfter": "yesterday"},
    ],
    ids=["state", "limit-0", "limit-101", "limit-text", "order", "metadata", "next-token", "started-after"],
)
async def test_v2_list_refuses_bad_query_parameters_with_400(
    e2b_api: httpx.AsyncClient, e2b_schema: SchemaCheck, params: dict[str, str]
) -> None:
    response = await e2b_api.get("/v2/sandboxes", params=params)

    assert response.status_code == 400, response.text
    e2b_schema(response.json(), "Error")


async def test_unknown_fields_in_a_create_body_are_ignored_as_by_the_api(
    e2b_api: httpx.AsyncClient, fake_e2b: FakeE2B
) -> None:
    response = await e2b_api.post("/v2/sandboxes", json={"templateID": "base", "colour": "red", "timeout": 60})

    assert response.status_code == 201, "the spec's NewSandbox does not forbid other properties"
    assert len(fake_e2b.running_sandboxes()) == 1


@pytest.mark.parametrize(
    ("headers", "message_part"),
    [({}, "Missing API key"), ({"X-API-Key": "e2b_" + "f" * 40}, "Invalid API key")],
    ids=["missing", "unknown"],
)
async def test_requests_without_a_valid_api_key_get_401(
    e2b_routes: respx.MockRouter, e2b_schema: SchemaCheck, headers: dict[str, str], message_part: str
) -> None:
    async with http.AsyncClient(base_url=E2B_API_URL, headers=headers) as client:
        response = await client.post("/v2/sandboxes", json={"templateID": "base"})

    assert response.status_code == 401
    e2b_schema(response.json(), "Error")
    assert response.json()["code"] == 401 and message_part in response.json()["message"]


@pytest.mark.parametrize(
    "content",
    [
        b'{"templateID": ',
        b"[]",
        b"{}",
        b"",
        b'{"templateID": "base", "timeout": "soon"}',
        b'{"templateID": "base", "timeout": -5}',
        b'{"templateID": 7}',
        b'{"templateID": "base", "metadata": {"n": 1}}',
        b'{"templateID": "base", "autoPause": "yes"}',
    ],
    ids=[
        "broken-json",
        "not-an-object",
        "no-template",
        "empty",
        "timeout-not-int",
        "negative-timeout",
        "template-not-string",
        "metadata-not-strings",
        "auto-pause-not-bool",
    ],
)
async def test_bad_create_bodies_get_400_in_the_error_shape(
    e2b_api: httpx.AsyncClient, e2b_schema: SchemaCheck, fake_e2b: FakeE2B, content: bytes
) -> None:
    response = await e2b_api.post("/v2/sandboxes", content=content, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    e2b_schema(response.json(), "Error")
    assert fake_e2b.running_sandboxes() == []


async def test_unknown_paths_hit_the_catch_all_route_and_get_the_e2b_404(
    e2b_api: httpx.AsyncClient, e2b_routes: respx.MockRouter
) -> None:
    response = await e2b_api.get("/no/such/thing")

    assert response.status_code == 404
    assert response.json()["code"] == 404
    assert e2b_routes["not_found"].called


async def test_no_request_escapes_to_an_unmocked_host(e2b_routes: respx.MockRouter) -> None:
    async with http.AsyncClient() as client:
        with pytest.raises(respx.models.AllMockedAssertionError):
            await client.get("https://api.example.com/anything")
