"""Pull request calls failing: the message names the call (looking one up, or creating one), the branch
and the repository, whether GitHub refused it or answered something unreadable."""

import pytest

from app.services.errors import GitHubError

pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]


@pytest.fixture
async def repository(github, repo):
    return await github.get_repository(repo.full_name)


async def test_a_refused_lookup_names_the_branch_and_the_repository(github, repository, fake_github):
    fake_github.add_fault("list_pull_requests", 418, body={"message": "no"})

    with pytest.raises(GitHubError) as raised:
        await github.find_open_pull_request(repository, "agent/9")

    assert raised.value.message == (
        f"looking for an open pull request from agent/9 in {repository.full_name} failed: GitHub answered HTTP 418: no"
    )


async def test_an_unreadable_lookup_answer_names_the_branch_and_the_repository(github, repository, fake_github):
    fake_github.add_fault("list_pull_requests", 200, body=[{"number": 1}])

    with pytest.raises(GitHubError) as raised:
        await github.find_open_pull_request(repository, "agent/9")

    assert raised.value.message.startswith(
        f"looking for an open pull request from agent/9 in {repository.full_name} failed: "
        "GitHub's answer lacks an expected field (KeyError: "
    ), raised.value.message


async def test_a_creation_answered_without_the_pull_requests_fields_names_the_creation(
    github, repository, repo, fake_github
):
    repo.add_branch_commit("agent/9")
    fake_github.add_fault("create_pull_request", 201, body={"number": 1})

    with pytest.raises(GitHubError) as raised:
        await github.create_pull_request(repository, "agent/9", "Title", "")

    assert raised.value.message.startswith(
        f"creating a pull request from agent/9 in {repository.full_name} failed: "
        "GitHub's answer lacks an expected field (KeyError: "
    ), raised.value.message
