"""GitHub's refusals reported whole: every item of a 422's `errors` in the message, the connection error when
GitHub cannot be reached, and an answer to a client without a token reported rather than crashing the report."""

import httpx
import pytest

from app.services.errors import DuplicatePullRequest, GitHubAuthError, GitHubError, PullRequestValidationError
from app.services.github import GitHubService
from fixtures import http

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


@pytest.fixture
async def repository(github, repo):
    return await github.get_repository(repo.full_name)


async def test_a_422_lists_every_error_github_gave(github, repository, fake_github):
    errors = [{"resource": "PullRequest", "field": "head", "code": "invalid"}, {"message": "No commits between"}]
    fake_github.add_fault("create_pull_request", 422, body={"message": "Validation Failed", "errors": errors})

    with pytest.raises(PullRequestValidationError) as raised:
        await github.create_pull_request(repository, "agent/6", "Title", "")

    assert raised.value.message.endswith(
        "GitHub refused it (HTTP 422: Validation Failed: PullRequest head invalid; No commits between)"
    ), raised.value.message


async def test_a_duplicate_pull_request_keeps_every_error_github_gave(github, repository, fake_github):
    errors = [{"message": "A pull request already exists for acme:agent/6."}, {"message": "Head is busy"}]
    fake_github.add_fault("create_pull_request", 422, body={"message": "Validation Failed", "errors": errors})

    with pytest.raises(DuplicatePullRequest) as raised:
        await github.create_pull_request(repository, "agent/6", "Title", "")

    assert raised.value.message.endswith("failed: A pull request already exists for acme:agent/6.; Head is busy")


async def test_a_client_without_a_token_gets_githubs_refusal_reported(fake_github, repo, retry_policy):
    async with http.AsyncClient(base_url="https://api.github.com") as client:
        with pytest.raises(GitHubAuthError) as raised:
            await GitHubService(client, retry=retry_policy).get_repository(repo.full_name)

    assert raised.value.message.startswith(f"reading repository {repo.full_name} failed: GitHub refused the token")


async def test_an_unreachable_github_is_reported_with_the_connection_error(github, repo, github_routes):
    github_routes["get_repository"].mock(side_effect=httpx.ConnectError("Connection refused"))

    with pytest.raises(GitHubError) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message.startswith(
        f"reading repository {repo.full_name} failed: cannot reach GitHub at https://api.github.com "
        "(ConnectError: Connection refused)"
    ), raised.value.message
