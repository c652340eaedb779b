"""The official e2b SDK, pointed at the fake E2B server, works end to end as against the real service."""

from __future__ import annotations

import pytest
from e2b import Sandbox
from e2b.exceptions import AuthenticationException
from e2b.sandbox.commands.command_handle import CommandExitException

from mocks.e2b import FakeE2B

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]


def test_sdk_creates_a_sandbox_runs_a_command_and_kills_it(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()
    assert [running.sandbox_id for running in fake_e2b.running_sandboxes()] == [sandbox.sandbox_id]

    result = sandbox.commands.run("echo hi")

    assert (result.stdout, result.stderr, result.exit_code) == ("hi\n", "", 0)
    sandbox.kill()
    assert fake_e2b.running_sandboxes() == []
    operations = [entry.operation for entry in fake_e2b.journal]
    assert operations == ["create_sandbox", "process_start", "kill_sandbox"], operations


def test_sdk_raises_command_exit_exception_for_a_nonzero_exit(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()

    with pytest.raises(CommandExitException) as raised:
        sandbox.commands.run("echo broken >&2; exit 3")

    assert (raised.value.exit_code, raised.value.stderr) == (3, "broken\n")
    sandbox.kill()


def test_sdk_commands_share_the_sandbox_workspace_with_cwd_and_envs(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create(envs={"SANDBOX_WIDE": "from-create"})
    sandbox.commands.run("mkdir -p repo && echo kept > repo/notes.txt")

    result = sandbox.commands.run(
        'cat notes.txt; echo "$GREETING $SANDBOX_WIDE"; pwd', cwd="/home/user/repo", envs={"GREETING": "hello"}
    )

    workspace = fake_e2b.workspace(sandbox.sandbox_id)
    assert result.stdout == f"kept\nhello from-create\n{workspace / 'repo'}\n"
    sandbox.kill()
    assert not workspace.exists(), "killing the sandbox deletes its workspace"


def test_sdk_get_info_reports_the_sandbox_as_running(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create(metadata={"task": "t-1"})

    info = sandbox.get_info()

    assert (info.sandbox_id, info.state.value, info.metadata) == (sandbox.sandbox_id, "running", {"task": "t-1"})
    sandbox.kill()


def test_sdk_raises_authentication_exception_for_an_unknown_api_key(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    with pytest.raises(AuthenticationException):
        Sandbox.create(api_key="e2b_" + "0" * 40)

    assert fake_e2b.running_sandboxes() == []
    assert [entry.status for entry in fake_e2b.requests("create_sandbox")] == [401]
