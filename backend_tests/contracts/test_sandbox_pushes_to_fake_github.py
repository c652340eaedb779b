"""The two fakes together: a sandbox of the fake E2B clones, commits and pushes to the fake GitHub."""

from __future__ import annotations

import pytest
from e2b import Sandbox

from mocks.github import FakeGitHub

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]


def test_a_sandbox_command_pushes_a_branch_that_the_pull_request_can_use(
    fake_github: FakeGitHub, github_url: str, github_token: str, e2b_sdk_env: str
) -> None:
    fake_github.create_repo("acme", "widgets")
    clone_url = github_url.replace("http://", f"http://x-access-token:{github_token}@") + "/acme/widgets.git"
    sandbox = Sandbox.create()
    try:
        sandbox.commands.run(f"git clone --quiet {clone_url} repo")
        sandbox.commands.run(
            "git checkout -q -b squad/task-9 && echo done > result.txt && git add result.txt"
            " && git -c user.name=Agent -c user.email=agent@example.com commit -q -m 'Do task 9'"
            " && git push -q origin squad/task-9",
            cwd="/home/user/repo",
        )
    finally:
        sandbox.kill()

    pull = fake_github.create_pull_request("acme", "widgets", head="squad/task-9", base="main", title="Task 9")
    assert fake_github.branch_log("acme", "widgets", "squad/task-9")[0]["message"] == "Do task 9"
    assert (pull.number, pull.commits, pull.changed_files) == (1, 1, 1)
