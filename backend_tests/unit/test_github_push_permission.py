"""GitHubService.get_repository says whether the platform's token may push: GitHub's `permissions.push`."""

import pytest

from fixtures.credentials import CANARY_GITHUB_TOKEN

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


async def test_a_repository_the_token_may_push_to_says_so(github, repo):
    found = await github.get_repository(repo.full_name)

    assert found.can_push is True


@pytest.mark.parametrize("role", ["pull", "triage"])
async def test_a_repository_the_token_may_only_read_says_it_cannot_push(github, repo, fake_github, role):
    fake_github.set_permission(repo.owner, repo.name, CANARY_GITHUB_TOKEN, role)

    found = await github.get_repository(repo.full_name)

    assert found.can_push is False


async def test_an_answer_without_permissions_leaves_it_unknown(github, repo, github_routes):
    github_routes["get_repository"].respond(
        200,
        json={
            "full_name": repo.full_name,
            "owner": {"login": repo.owner},
            "clone_url": "https://github.com/x.git",
            "default_branch": "main",
        },
    )

    found = await github.get_repository(repo.full_name)

    assert found.can_push is None
