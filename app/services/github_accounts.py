"""The platform's GitHub accounts: one for each of its tokens, and which one a task works with.

GitHub counts its rate limits per account (a user, or a GitHub App installation): one account may
create about 80 pull requests, reviews and comments a minute. Several tokens (GITHUB_TOKEN, then
GITHUB_EXTRA_TOKENS), each of another account with the same access to the allowed repositories,
spread the tasks over as many accounts; each account has its own rate-limit gate
(app/services/rate_gate.py), so a limit one of them meets holds up only its own calls.

A task keeps one account for its whole life: its clone and push, its pull request and its replies to
reviews. The platform knows its own comments on a pull request by the pull request's author
(app/reviews.py), so a reply must come from the account that opened it. The account is chosen from
the task's id, which spreads tasks evenly and gives every run of a task (a retry, a review round)
the same one.
"""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from app.services.git import GitService
from app.services.github import GitHubService


@dataclass(frozen=True)
class GitHubAccount:
    """One token's services. `credential` names its setting (never the token), for messages."""

    credential: str
    github: GitHubService
    git: GitService


class GitHubAccounts:
    def __init__(self, accounts: Sequence[GitHubAccount]) -> None:
        if not accounts:
            raise ValueError("the platform needs at least one GitHub account")
        self._accounts = tuple(accounts)

    @property
    def primary(self) -> GitHubAccount:
        """GITHUB_TOKEN's: what is done once for a repository, not per task (its webhook)."""
        return self._accounts[0]

    def for_task(self, task_id: str) -> GitHubAccount:
        digest = hashlib.sha256(task_id.encode()).digest()
        return self._accounts[int.from_bytes(digest[:8], "big") % len(self._accounts)]

    def __iter__(self) -> Iterator[GitHubAccount]:
        return iter(self._accounts)

    def __len__(self) -> int:
        return len(self._accounts)
