"""The fake GitHub's REST API: auth, errors and bodies as GitHub answers them, checked against its OpenAPI."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import respx

from backend_tests.contracts.github_errors import assert_github_error
from fixtures import http
from mocks.github import FakeGitHub
from mocks.github.router import GITHUB_API_URL, github_router

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

SchemaCheck = Callable[..., None]  # the github_schema fixture: (instance, schema name, array=False)
RATE_LIMIT_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-used",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
)


@pytest.fixture
def widgets(fake_github: FakeGitHub) -> None:
    fake_github.create_repo("acme", "widgets")


async def test_bad_credentials_get_401_with_githubs_body(github_routes: respx.MockRouter, widgets: None) -> None:
    async with http.AsyncClient(base_url=GITHUB_API_URL, headers={"Authorization": "token ghp_nope"}) as client:
        response = await client.get("/repos/acme/widgets")

    assert_github_error(response, 401, "Bad credentials")
    assert all(header in response.headers for header in (*RATE_LIMIT_HEADERS, "x-github-request-id"))


async def test_unknown_repository_gets_404_not_found(github_api: httpx.AsyncClient, github_schema: SchemaCheck) -> None:
    response = await github_api.get("/repos/acme/nothing-here")

    assert_github_error(response, 404, "Not Found", "https://docs.github.com/rest/repos/repos#get-a-repository")
    github_schema(response.json(), "basic-error")


async def test_every_answer_carries_rate_limit_and_request_id_headers(
    github_api: httpx.AsyncClient, widgets: None
) -> None:
    first = await github_api.get("/repos/acme/widgets")
    second = await github_api.get("/repos/acme/widgets/pulls")

    for response in (first, second):
        assert all(header in response.headers for header in (*RATE_LIMIT_HEADERS, "x-github-request-id"))
    assert int(first.headers["x-ratelimit-remaining"]) - int(second.headers["x-ratelimit-remaining"]) == 1
    assert first.headers["x-github-request-id"] != second.headers["x-github-request-id"]
    assert int(first.headers["x-ratelimit-reset"]) > time.time()


async def test_broken_json_gets_400_problems_parsing_json(github_api: httpx.AsyncClient, widgets: None) -> None:
    response = await github_api.post("/repos/acme/widgets/pulls", content=b'{"title": ')

    assert response.status_code == 400
    assert response.json()["message"] == "Problems parsing JSON"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "T", "base": "main"}, 'Invalid request.\n\n"head" wasn\'t supplied.'),
        ({"title": 5, "head": "x", "base": "main"}, "Invalid request.\n\nFor 'properties/title', 5 is not a string."),
        (
            {"title": "T", "head": "x", "base": "main", "draft": "yes"},
            "Invalid request.\n\nFor 'properties/draft', \"yes\" is not a boolean.",
        ),
        (["head", "base"], 'Invalid request.\n\nFor \'links/0/schema\', ["head", "base"] is not an object.'),
    ],
    ids=["missing-head", "title-not-a-string", "draft-not-a-boolean", "not-an-object"],
)
async def test_schema_violations_get_422_invalid_request(
    github_api: httpx.AsyncClient, widgets: None, body: dict, message: str
) -> None:
    response = await github_api.post("/repos/acme/widgets/pulls", json=body)

    assert (response.status_code, response.json()["message"]) == (422, message)


async def test_unknown_fields_of_a_new_pull_request_are_ignored_as_on_github(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, widgets: None
) -> None:
    fake_github.commit("acme", "widgets", "feature", {"f.txt": "f\n"})

    response = await github_api.post(
        "/repos/acme/widgets/pulls", json={"title": "T", "head": "feature", "base": "main", "labels": ["x"]}
    )

    assert response.status_code == 201, response.text


async def test_listing_with_an_unknown_state_gets_422(github_api: httpx.AsyncClient, widgets: None) -> None:
    response = await github_api.get("/repos/acme/widgets/pulls", params={"state": "merged"})

    assert response.status_code == 422
    assert response.json()["message"].startswith("Invalid request.")


async def test_exhausted_rate_limit_gets_403_with_zero_remaining(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, github_token: str, widgets: None
) -> None:
    fake_github.set_rate_limit(github_token, remaining=0)

    response = await github_api.get("/repos/acme/widgets")
    status = await github_api.get("/rate_limit")

    assert response.status_code == 403
    assert response.json()["message"].startswith("API rate limit exceeded")
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert (status.status_code, status.json()["resources"]["core"]["remaining"]) == (200, 0)


@pytest.mark.priority_p1
async def test_bodies_match_the_openapi_schemas(
    github_api: httpx.AsyncClient,
    github_routes: respx.MockRouter,
    fake_github: FakeGitHub,
    github_url: str,
    github_token: str,
    git,
    tmp_path: Path,
    github_schema: SchemaCheck,
) -> None:
    """Push with real git to the thread server, then use the REST API in-process: one fake, two transports."""
    fake_github.create_repo("acme", "widgets")
    workdir = tmp_path / "w"
    git.run(
        "clone",
        github_url.replace("http://", f"http://x-access-token:{github_token}@") + "/acme/widgets.git",
        str(workdir),
    )
    git.run("checkout", "-b", "feature", cwd=workdir)
    (workdir / "a.txt").write_text("a\n")
    git.run("add", ".", cwd=workdir)
    git.run("commit", "-m", "a", cwd=workdir)
    git.run("push", "origin", "feature", cwd=workdir)

    repository = await github_api.get("/repos/acme/widgets")
    created = await github_api.post(
        "/repos/acme/widgets/pulls", json={"title": "A", "head": "acme:feature", "base": "main"}
    )
    one = await github_api.get("/repos/acme/widgets/pulls/1")
    listed = await github_api.get("/repos/acme/widgets/pulls")
    duplicate = await github_api.post(
        "/repos/acme/widgets/pulls", json={"title": "A", "head": "feature", "base": "main"}
    )
    rate = await github_api.get("/rate_limit")

    github_schema(repository.json(), "full-repository")
    assert repository.json()["clone_url"] == f"{github_url}/acme/widgets.git"
    github_schema(created.json(), "pull-request")
    github_schema(one.json(), "pull-request")
    github_schema(listed.json(), "pull-request-simple", array=True)
    github_schema(duplicate.json(), "validation-error")
    github_schema(rate.json(), "rate-limit-overview")
    assert created.json()["url"] == f"{GITHUB_API_URL}/repos/acme/widgets/pulls/1"
    assert github_routes["create_pull_request"].call_count == 2 and github_routes["get_rate_limit"].called


async def test_unknown_pull_request_number_gets_404(github_api: httpx.AsyncClient, widgets: None) -> None:
    response = await github_api.get("/repos/acme/widgets/pulls/99")

    assert response.status_code == 404
    assert response.json()["documentation_url"] == "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"


@pytest.mark.priority_p1
def test_the_router_serves_sync_clients_too(fake_github: FakeGitHub, github_token: str) -> None:
    fake_github.create_repo("acme", "widgets")
    fake_github.add_fault("get_repository", kind="reset", times=1)

    with github_router(fake_github) as github_routes:
        with http.Client(base_url=GITHUB_API_URL, headers={"Authorization": f"token {github_token}"}) as client:
            with pytest.raises(httpx.TransportError):
                client.get("/repos/acme/widgets")
            response = client.get("/repos/acme/widgets")
        assert github_routes["get_repository"].call_count == 2

    assert response.json()["full_name"] == "acme/widgets"
