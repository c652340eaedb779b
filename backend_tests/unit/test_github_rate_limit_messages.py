"""What a GitHub rate limit turns into: which answers count as one, how long the platform waits, and a
message that names the call, quotes GitHub and says when the limit resets."""

import re

import pytest

from app.services.errors import GitHubError, RateLimited
from app.services.retry import format_moment
from fixtures.credentials import CANARY_GITHUB_TOKEN

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


async def test_a_429_without_any_rate_limit_header_waits_the_secondary_limits_minute(github, repo, fake_github, sleeps):
    fake_github.add_fault("get_repository", 429, body={"message": "slow down"}, times=1)

    await github.get_repository(repo.full_name)

    assert sleeps.waits == [60.0]


async def test_a_persisting_secondary_limit_names_the_call_and_the_wait(github, repo, fake_github, sleeps):
    fake_github.add_fault("get_repository", 429, body={"message": "slow down"})

    with pytest.raises(RateLimited) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message == (
        f"reading repository {repo.full_name} failed: GitHub's secondary rate limit (slow down); "
        "waiting the minute GitHub asks for (gave up after 3 attempts)"
    )


async def test_an_exhausted_limit_without_a_reset_time_says_no_reset_time(github, repo, fake_github, sleeps):
    fake_github.add_fault(
        "get_repository", 403, body={"message": "API rate limit exceeded"}, headers={"x-ratelimit-remaining": "0"}
    )

    with pytest.raises(RateLimited) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message == (
        f"reading repository {repo.full_name} failed: GitHub's API rate limit for this token is exhausted "
        "(API rate limit exceeded) (gave up after 3 attempts)"
    )


async def test_the_reset_moment_in_the_message_is_the_one_github_named(github, repo, fake_github, sleeps):
    reset = int(fake_github.time()) + 2 * 3600
    fake_github.set_rate_limit(CANARY_GITHUB_TOKEN, remaining=0, reset=reset)

    with pytest.raises(RateLimited) as raised:
        await github.get_repository(repo.full_name)

    shown = re.search(r"it resets at (\d\d:\d\d:\d\d UTC)", raised.value.message)
    assert shown, raised.value.message
    near_reset = {format_moment(reset + offset) for offset in (-2, -1, 0, 1, 2)}
    assert shown.group(1) in near_reset, f"expected about {format_moment(reset)}, the message says {shown.group(1)}"
    assert raised.value.message.startswith(f"reading repository {repo.full_name} failed: ")


async def test_githubs_words_are_cut_to_300_characters(github, repo, fake_github):
    fake_github.add_fault("get_repository", 418, body={"message": "a" * 300 + "b" * 50})

    with pytest.raises(GitHubError) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message == f"reading repository {repo.full_name} failed: GitHub answered HTTP 418: {'a' * 300}"
