"""How git's own words are read: each way git says a thing failed (any one of them is enough) becomes the
typed error for it, and a phrase that only looks alike does not. Scripted: the exact wording is the point."""

import pytest

from app.services.e2b import CommandResult, SandboxHandle
from app.services.errors import GitError, NothingToCommit, PushRejected, RepositoryNotFound

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

SCRIPTED = SandboxHandle("scripted-sandbox", "scripted-envd-token")


@pytest.mark.parametrize(
    ("git_said", "expected"),
    [
        ("ERROR: Repository not found.", RepositoryNotFound),
        ("fatal: repository 'https://github.com/acme/gone.git/' not found", RepositoryNotFound),
        ('no changes added to commit (use "git add" and/or "git commit -a")', NothingToCommit),
        ("! [remote rejected] agent/7 -> agent/7 (denied by the pre-receive hook)", PushRejected),
        ("fatal: the object 3f2a was not found on the server", GitError),
        ("warning: the remote branch agent/7 has moved", GitError),
    ],
    ids=[
        "ssh-repository-not-found",
        "https-repository-not-found",
        "no-changes-added",
        "denied-by-a-hook-is-not-a-token-problem",
        "not-found-alone-is-no-missing-branch",
        "remote-branch-alone-is-no-missing-branch",
    ],
)
async def test_each_way_git_says_it_is_read_as_that_failure(scripted_git, git_said, expected):
    git, _ = scripted_git(CommandResult(1, stderr=git_said + "\n"))

    with pytest.raises(GitError) as raised:
        await git.push(SCRIPTED, "agent/7")

    assert type(raised.value) is expected, f"{git_said!r}: expected {expected.__name__}, got {raised.value!r}"


async def test_git_said_is_its_lines_joined_without_hints(scripted_git):
    git, _ = scripted_git(CommandResult(1, stderr="error: first thing\nhint: try this\nfatal: second thing\n"))

    with pytest.raises(GitError) as raised:
        await git.push(SCRIPTED, "agent/7")

    assert raised.value.message.endswith("git said: error: first thing | fatal: second thing"), raised.value.message


async def test_git_said_keeps_the_last_400_characters(scripted_git):
    git, _ = scripted_git(CommandResult(1, stderr="s" + "e" * 400 + "\n"))

    with pytest.raises(GitError) as raised:
        await git.push(SCRIPTED, "agent/7")

    assert raised.value.message.endswith("git said: " + "e" * 400), raised.value.message[-420:]
