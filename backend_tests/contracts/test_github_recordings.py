"""The fake GitHub against responses recorded from the real one (@octokit/fixtures, recordings/octokit/).

For each situation the fake serves that a recording shows, the same request goes to the fake and the
two answers are compared: status code, content type, the headers a client reads, and the key sets
of the body (nested objects and the items of arrays too). Where the fake answers otherwise on
purpose, the difference is listed below with its reason (and in docs/fakes.md); anything else fails.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from fixtures import http
from fixtures.recorded_responses import key_paths, media_type
from mocks.github import FakeGitHub
from mocks.github.router import GITHUB_API_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

RECORDINGS = Path(__file__).parent / "recordings" / "octokit"
# The headers a GitHub client reads (rate limits, request id, media type, caching, pagination):
# each one the real answer carries, the fake's must carry too. Transport and browser-security
# headers (date, content-length, CSP, HSTS, CORS, x-frame-options ...) are the web server's.
CLIENT_HEADERS = {
    "content-type",
    "x-github-media-type",
    "x-github-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-ratelimit-used",
    "etag",
    "cache-control",
    "link",
    "location",
    "retry-after",
    "x-oauth-scopes",
    "x-accepted-oauth-scopes",
}
# Headers the fake leaves out on purpose: it has no OAuth scopes (a token may do what its repository
# permission allows) and no HTTP caching (every answer is fresh; clients here never revalidate).
DELIBERATELY_WITHOUT_HEADERS = {"x-oauth-scopes", "x-accepted-oauth-scopes", "etag", "cache-control"}
# Body keys on purpose only in the fake: fields GitHub added after these recordings were made, which
# its current OpenAPI description (the fakes' other contract) has: "status" of the error bodies,
# "has_discussions" of a repository, "user_view_type" of a user or organization.
DELIBERATELY_ADDED_KEYS = {"status", "has_discussions", "owner.user_view_type", "organization.user_view_type"}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    status: int
    body: Any
    headers: dict[str, str]


def recording(scenario: str, index: int) -> Recorded:
    exchange = json.loads((RECORDINGS / f"{scenario}.json").read_text())[index]
    return Recorded(
        exchange["method"].upper(),
        exchange["path"],
        exchange["status"],
        exchange["response"],
        {name.lower(): str(value) for name, value in exchange["headers"].items()},
    )


def compare(recorded: Recorded, response: httpx.Response, *, fake_only_keys: set[str] = frozenset()) -> list[str]:
    """The differences between a recorded answer and the fake's, each as one line."""
    problems = []
    if response.status_code != recorded.status:
        problems.append(f"status {response.status_code}, recorded {recorded.status}")
    if recorded.body not in ("", None):
        if media_type(response.headers.get("content-type", "")) != media_type(recorded.headers["content-type"]):
            problems.append(
                f"content-type {response.headers.get('content-type')!r}, recorded {recorded.headers['content-type']!r}"
            )
        expected, got = key_paths(recorded.body), key_paths(response.json())
        if missing := sorted(expected - got):
            problems.append(f"keys the real answer has and the fake's lacks: {missing}")
        if extra := sorted(got - expected - DELIBERATELY_ADDED_KEYS - fake_only_keys):
            problems.append(f"keys only the fake's answer has: {extra}")
    headers = (set(recorded.headers) & CLIENT_HEADERS) - DELIBERATELY_WITHOUT_HEADERS
    if missing_headers := sorted(headers - {name.lower() for name in response.headers}):
        problems.append(f"headers the real answer has and the fake's lacks: {missing_headers}")
    return problems


@pytest.fixture
async def api(github_routes: respx.MockRouter, github_token: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"token {github_token}", "Accept": "application/vnd.github.v3+json"}
    async with http.AsyncClient(base_url=GITHUB_API_URL, headers=headers) as client:
        yield client


@pytest.fixture
def repository(fake_github: FakeGitHub, github_token: str) -> str:
    fake_github.create_repo("octokit-fixture-org", "hello-world")
    # The recordings were made with an administrator's token, which sees the repository's settings.
    fake_github.set_permission("octokit-fixture-org", "hello-world", github_token, "admin")
    return "/repos/octokit-fixture-org/hello-world"


def test_the_key_paths_of_nested_objects_and_arrays():
    assert key_paths({"a": 1, "b": {"c": [{"d": 1}, {"e": 2}]}}) == {"a", "b", "b.c", "b.c.[].d", "b.c.[].e"}


def test_a_difference_is_reported():
    recorded = Recorded("GET", "/x", 200, {"a": 1}, {"content-type": "application/json; charset=utf-8"})
    response = httpx.Response(404, json={"b": 1}, headers={"content-type": "text/plain"})
    assert len(compare(recorded, response)) == 4


async def test_a_repository_answers_as_github_does(api: httpx.AsyncClient, repository: str) -> None:
    recorded = recording("get-repository", 0)
    response = await api.get(repository)
    problems = compare(recorded, response)
    assert problems == [], "\n".join(problems)


async def test_an_unknown_thing_is_404_with_githubs_error_body(api: httpx.AsyncClient, repository: str) -> None:
    recorded = recording("branch-protection", 0)  # a 404 of the repository API
    response = await api.get("/repos/octokit-fixture-org/no-such-repository")
    problems = compare(recorded, response)
    assert problems == [], "\n".join(problems)


async def test_a_ref_answers_as_github_does(api: httpx.AsyncClient, repository: str) -> None:
    listed = recording("git-refs", 0)
    response = await api.get(f"{repository}/git/ref/heads/main")
    # The recording lists the refs; the fake serves one ref, which is one item of that list.
    one_ref = Recorded("GET", listed.path, 200, listed.body[0], listed.headers)
    assert compare(one_ref, response) == []


async def test_a_request_github_refuses_is_422_validation_failed_with_its_errors(
    api: httpx.AsyncClient, repository: str
) -> None:
    recorded = recording("errors", 0)
    # A pull request from a branch that does not exist: GitHub's "Validation Failed" with an errors item.
    response = await api.post(f"{repository}/pulls", json={"title": "t", "head": "no-such-branch", "base": "main"})
    problems = compare(recorded, response)
    assert problems == [], "\n".join(problems)
