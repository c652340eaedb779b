"""The fake GitHub's branches and refs, and its rate limits (primary and secondary), as GitHub answers them.

In-process through the respx router, except where the admin API of the thread server is the point.
The rate-limit windows run on the fake's clock, which `advance_time` moves without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from backend_tests.contracts.github_errors import assert_github_error
from fixtures import http
from mocks.github import FakeGitHub
from mocks.github.router import GITHUB_API_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

SchemaCheck = Callable[..., None]


@pytest.fixture
def widgets(fake_github: FakeGitHub) -> None:
    fake_github.create_repo("acme", "widgets")


@pytest.mark.priority_p0
async def test_get_branch_shows_its_head_commit(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, widgets: None, github_schema: SchemaCheck
) -> None:
    sha = fake_github.commit("acme", "widgets", "squad/task-3", {"a.txt": "a\n"}, "Do task 3")

    response = await github_api.get("/repos/acme/widgets/branches/squad/task-3")

    assert response.status_code == 200
    github_schema(response.json(), "branch-with-protection")
    body = response.json()
    assert (body["name"], body["commit"]["sha"], body["protected"]) == ("squad/task-3", sha, False)
    assert body["commit"]["commit"]["message"] == "Do task 3"
    assert [parent["sha"] for parent in body["commit"]["parents"]] == [fake_github.branches("acme", "widgets")["main"]]


async def test_an_unknown_branch_gets_404_branch_not_found(github_api: httpx.AsyncClient, widgets: None) -> None:
    response = await github_api.get("/repos/acme/widgets/branches/no-such-branch")

    assert_github_error(
        response, 404, "Branch not found", "https://docs.github.com/rest/branches/branches#get-a-branch"
    )


@pytest.mark.priority_p0
async def test_get_ref_resolves_a_branch_head(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, widgets: None, github_schema: SchemaCheck
) -> None:
    sha = fake_github.commit("acme", "widgets", "feature/x", {"x.txt": "x\n"})

    response = await github_api.get("/repos/acme/widgets/git/ref/heads/feature/x")

    assert response.status_code == 200
    github_schema(response.json(), "git-ref")
    assert response.json()["ref"] == "refs/heads/feature/x"
    assert response.json()["object"] == {
        "sha": sha,
        "type": "commit",
        "url": f"{GITHUB_API_URL}/repos/acme/widgets/git/commits/{sha}",
    }


@pytest.mark.parametrize("ref", ["heads/nope", "heads/feature", "main", "heads"])
async def test_refs_that_do_not_exist_exactly_get_404(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, widgets: None, ref: str
) -> None:
    fake_github.create_branch("acme", "widgets", "feature/x")

    response = await github_api.get(f"/repos/acme/widgets/git/ref/{ref}")

    assert response.status_code == 404
    assert response.json()["documentation_url"] == "https://docs.github.com/rest/git/refs#get-a-reference"


@pytest.mark.priority_p0
@pytest.mark.parametrize("status", [403, 429])
async def test_an_exhausted_primary_limit_answers_with_zero_remaining_until_the_reset(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, github_token: str, widgets: None, status: int
) -> None:
    reset = int(fake_github.time()) + 120
    fake_github.set_rate_limit(github_token, remaining=0, reset=reset, status=status)

    limited = await github_api.get("/repos/acme/widgets")
    fake_github.advance_time(121)
    after_reset = await github_api.get("/repos/acme/widgets")

    assert limited.status_code == status
    assert limited.json()["message"].startswith("API rate limit exceeded for user ID ")
    assert (limited.headers["x-ratelimit-remaining"], limited.headers["x-ratelimit-reset"]) == ("0", str(reset))
    assert "retry-after" not in limited.headers
    assert after_reset.status_code == 200
    assert int(after_reset.headers["x-ratelimit-remaining"]) == 4999


async def test_every_request_uses_one_of_the_tokens_budget(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, github_token: str, widgets: None
) -> None:
    fake_github.set_rate_limit(github_token, limit=3, remaining=2)

    statuses = [(await github_api.get("/repos/acme/widgets")).status_code for _ in range(3)]
    overview = await github_api.get("/rate_limit")

    assert statuses == [200, 200, 403]
    assert overview.json()["rate"] == {"limit": 3, "used": 3, "remaining": 0, "reset": overview.json()["rate"]["reset"]}


@pytest.mark.priority_p0
async def test_a_tripped_secondary_limit_answers_403_with_retry_after(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, widgets: None, github_schema: SchemaCheck
) -> None:
    fake_github.trip_secondary_rate_limit(retry_after=30)

    limited = await github_api.get("/repos/acme/widgets")
    fake_github.advance_time(31)
    after = await github_api.get("/repos/acme/widgets")

    assert limited.status_code == 403
    assert limited.headers["retry-after"] == "30"
    github_schema(limited.json(), "basic-error")
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit.")
    assert limited.headers["x-github-request-id"] in limited.json()["message"]
    assert int(limited.headers["x-ratelimit-remaining"]) > 0, "a secondary limit is not the primary one"
    assert after.status_code == 200


async def open_pull_request(github_api: httpx.AsyncClient, number: int) -> httpx.Response:
    """POST a pull request from branch b<number> (which the test made) of acme/widgets."""
    body = {"title": f"T{number}", "head": f"b{number}", "base": "main"}
    return await github_api.post("/repos/acme/widgets/pulls", json=body)


@pytest.mark.priority_p0
async def test_too_many_pull_requests_a_minute_trip_the_secondary_limit(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, widgets: None
) -> None:
    fake_github.content_creation_per_minute = 2
    for number in range(3):
        fake_github.commit("acme", "widgets", f"b{number}", {f"{number}.txt": "x"})

    answers = [await open_pull_request(github_api, n) for n in range(3)]
    fake_github.advance_time(61)
    later = await open_pull_request(github_api, 2)

    assert [answer.status_code for answer in answers] == [201, 201, 403]
    assert 0 < int(answers[2].headers["retry-after"]) <= 60
    assert later.status_code == 201
    assert len(fake_github.pull_requests("acme", "widgets")) == 3


async def test_the_content_creation_limit_answers_as_github_documents_it(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, widgets: None, github_schema: SchemaCheck
) -> None:
    fake_github.content_creation_per_minute = 1
    for number in range(2):
        fake_github.commit("acme", "widgets", f"b{number}", {f"{number}.txt": "x"})
    await open_pull_request(github_api, 0)
    fake_github.advance_time(20)

    refused = await open_pull_request(github_api, 1)
    read_meanwhile = await github_api.get("/repos/acme/widgets")

    assert refused.status_code == 403
    assert refused.headers["retry-after"] == "40", "the wait until the first creation leaves the minute"
    github_schema(refused.json(), "basic-error")
    request_id = refused.headers["x-github-request-id"]
    assert refused.json() == {
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
        f"If you reach out to GitHub Support for help, please include the request ID {request_id}.",
        "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
        "#about-secondary-rate-limits",
        "status": "403",
    }
    assert read_meanwhile.status_code == 200, "only creating content counts against this limit"


async def test_the_content_creation_limit_is_per_token(
    github_api: httpx.AsyncClient, fake_github: FakeGitHub, widgets: None
) -> None:
    other_token = "ghp_contractCanaryOtherToken000000000007"
    fake_github.add_token(other_token)
    fake_github.content_creation_per_minute = 1
    for number in range(2):
        fake_github.commit("acme", "widgets", f"b{number}", {f"{number}.txt": "x"})
    await open_pull_request(github_api, 0)

    other = await github_api.post(
        "/repos/acme/widgets/pulls",
        json={"title": "T1", "head": "b1", "base": "main"},
        headers={"Authorization": f"Bearer {other_token}"},
    )

    assert other.status_code == 201, other.text


async def test_the_content_creation_limit_is_set_over_the_admin_api_until_a_reset(
    fake_github: FakeGitHub, github_url: str, github_token: str
) -> None:
    fake_github.create_repo("acme", "widgets")
    for number in range(2):
        fake_github.commit("acme", "widgets", f"b{number}", {f"{number}.txt": "x"})
    headers = {"Authorization": f"Bearer {github_token}"}

    async with http.AsyncClient(base_url=github_url, headers=headers) as client:
        before = await client.get("/_fake/rate_limits")
        changed = await client.post("/_fake/rate_limits", json={"content_creation_per_minute": 1})
        answers = [
            await client.post("/repos/acme/widgets/pulls", json={"title": f"T{n}", "head": f"b{n}", "base": "main"})
            for n in range(2)
        ]
        refusals = [
            await client.post("/_fake/rate_limits", json=body)
            for body in ({"content_creation_per_minute": 0}, {"content_creation_per_minute": "9"}, {"per_hour": 5})
        ]
        await client.post("/_fake/reset")
        after_reset = await client.get("/_fake/rate_limits")

    assert (before.status_code, before.json()) == (200, {"content_creation_per_minute": 80})
    assert (changed.status_code, changed.json()) == (200, {"content_creation_per_minute": 1})
    assert [answer.status_code for answer in answers] == [201, 403]
    assert [refusal.status_code for refusal in refusals] == [400, 400, 400]
    assert "unknown fields: per_hour" in refusals[2].json()["error"]
    assert after_reset.json() == {"content_creation_per_minute": 80}, "a reset puts back what the fake began with"


def test_python_m_mocks_github_takes_the_content_creation_limit_from_the_environment(monkeypatch) -> None:
    from mocks.github.__main__ import fake_from_environment

    monkeypatch.setenv("FAKE_GITHUB_CONTENT_CREATION_PER_MINUTE", "400")
    configured = fake_from_environment()
    try:
        configured.reset()
        assert configured.content_creation_per_minute == 400, "configured at the start, kept by a reset"
    finally:
        configured.close()
    monkeypatch.delenv("FAKE_GITHUB_CONTENT_CREATION_PER_MINUTE")
    default = fake_from_environment()
    try:
        assert default.content_creation_per_minute == 80, "GitHub's documented figure"
    finally:
        default.close()
    monkeypatch.setenv("FAKE_GITHUB_CONTENT_CREATION_PER_MINUTE", "0")
    with pytest.raises(ValueError, match="content_creation_per_minute must be a positive integer"):
        fake_from_environment()


async def test_the_admin_api_sets_both_limits_over_http(
    fake_github: FakeGitHub, github_url: str, github_token: str
) -> None:
    fake_github.create_repo("acme", "widgets")
    headers = {"Authorization": f"Bearer {github_token}"}

    async with http.AsyncClient(base_url=github_url, headers=headers) as client:
        primary = await client.post("/_fake/rate_limit", json={"token": github_token, "remaining": 0, "status": 429})
        limited = await client.get("/repos/acme/widgets")
        cleared = await client.post("/_fake/rate_limit", json={"token": github_token, "remaining": 10})
        tripped = await client.post("/_fake/secondary_rate_limit", json={"retry_after": 5, "status": 429})
        secondary = await client.get("/repos/acme/widgets")
        refused = await client.post("/_fake/secondary_rate_limit", json={"status": 500})

    assert (primary.status_code, primary.json()["remaining"]) == (200, 0)
    assert (limited.status_code, limited.headers["x-ratelimit-remaining"]) == (429, "0")
    assert (cleared.status_code, tripped.status_code) == (200, 204)
    assert (secondary.status_code, secondary.headers["retry-after"]) == (429, "5")
    assert refused.status_code == 400


async def test_the_rate_limit_endpoint_is_free_and_reset_is_in_the_future(
    github_api: httpx.AsyncClient, github_schema: SchemaCheck
) -> None:
    first = await github_api.get("/rate_limit")
    second = await github_api.get("/rate_limit")

    github_schema(second.json(), "rate-limit-overview")
    assert first.json()["rate"]["used"] == second.json()["rate"]["used"] == 0
    assert second.json()["rate"]["reset"] > time.time()
