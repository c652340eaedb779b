"""The platform's GitHub tokens (GITHUB_TOKEN, then GITHUB_EXTRA_TOKENS): each is an account a task may be
given, every one of them a secret, and each task keeps one account, the tasks spread evenly over them."""

import logging
from collections import Counter

import pytest

from app.redaction import RedactingFilter
from app.services.github_accounts import GitHubAccount, GitHubAccounts
from app.settings import Settings

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

MAIN = "ghp_deploymentMainToken00000000000000001"
SECOND = "ghp_deploymentOtherToken0000000000000002"
THIRD = "ghp_deploymentOtherToken0000000000000003"


def test_the_tokens_are_github_token_then_each_extra_once_named_by_their_setting():
    settings = Settings(github_token=MAIN, github_extra_tokens=f" {SECOND}, ,{MAIN},{THIRD},{SECOND}")

    assert settings.github_tokens() == [
        ("GITHUB_TOKEN", MAIN),
        ("token 1 of GITHUB_EXTRA_TOKENS", SECOND),
        ("token 4 of GITHUB_EXTRA_TOKENS", THIRD),
    ]


def test_without_any_token_there_is_one_account_with_none():
    assert Settings(github_token="", github_extra_tokens="").github_tokens() == [("GITHUB_TOKEN", "")]


def test_every_token_is_a_secret_the_platform_redacts_and_never_shows():
    settings = Settings(github_token=MAIN, github_extra_tokens=f"{SECOND},{THIRD}")
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "cloning with %s and %s", (SECOND, THIRD), None)

    RedactingFilter(settings.secrets()).filter(record)

    assert {MAIN, SECOND, THIRD} <= set(settings.secrets())
    assert record.getMessage() == "cloning with *** and ***"
    assert SECOND not in repr(settings) and THIRD not in str(settings.model_dump())


def accounts(count: int) -> GitHubAccounts:
    return GitHubAccounts([GitHubAccount(f"token {n}", None, None) for n in range(count)])  # type: ignore[arg-type]


def test_a_task_keeps_its_account_and_tasks_spread_evenly_over_the_accounts():
    three = accounts(3)
    task_ids = [f"{n:032x}" for n in range(3000)]

    chosen = Counter(three.for_task(task_id).credential for task_id in task_ids)

    assert all(three.for_task(task_id) is three.for_task(task_id) for task_id in task_ids[:50])
    assert sorted(chosen) == ["token 0", "token 1", "token 2"]
    assert all(900 <= count <= 1100 for count in chosen.values()), chosen


def test_the_first_account_is_the_primary_one_and_there_is_always_one():
    assert accounts(2).primary.credential == "token 0"
    with pytest.raises(ValueError, match="at least one GitHub account"):
        GitHubAccounts([])
