"""GitService.checkout_remote_branch (resuming a branch a first attempt pushed): both git commands it runs,
the fetch and the checkout, show their output live, and a failing checkout is reported as the checkout,
naming the branch. Scripted: a checkout that fails after its fetch succeeded cannot be made on demand."""

import pytest

from app.services.e2b import CommandResult, SandboxHandle
from app.services.errors import BranchNotFound, GitError

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

SCRIPTED = SandboxHandle("scripted-sandbox", "scripted-envd-token")
FETCHED = CommandResult(0, stderr="From https://github.com/acme/widgets\n * [new branch] agent/7 -> origin/agent/7\n")
SWITCHED = CommandResult(0, stderr="Switched to a new branch 'agent/7'\n")


async def test_the_output_of_the_fetch_and_of_the_checkout_reaches_on_output(scripted_git, output):
    git, _ = scripted_git(FETCHED, SWITCHED)

    await git.checkout_remote_branch(SCRIPTED, "agent/7", output)

    assert output.text == FETCHED.stderr + SWITCHED.stderr, output.text


async def test_a_checkout_that_fails_after_the_fetch_names_the_checkout_and_the_branch(scripted_git):
    refused = CommandResult(
        128, stderr="fatal: 'refs/remotes/origin/agent/7' is not a commit and a branch 'agent/7' cannot be created\n"
    )
    git, _ = scripted_git(FETCHED, refused)

    with pytest.raises(BranchNotFound) as raised:
        await git.checkout_remote_branch(SCRIPTED, "agent/7")

    assert raised.value.message.startswith(
        "git checkout failed: the branch 'agent/7' does not exist in the repository on GitHub"
    ), raised.value.message


async def test_a_checkout_that_fails_for_another_reason_says_git_checkout_failed(scripted_git):
    locked = CommandResult(128, stderr="fatal: Unable to create '/home/user/repo/.git/index.lock': File exists.\n")
    git, _ = scripted_git(FETCHED, locked)

    with pytest.raises(GitError) as raised:
        await git.checkout_remote_branch(SCRIPTED, "agent/7")

    assert raised.value.message.startswith("git checkout failed with exit code 128. git said: fatal: Unable to")
