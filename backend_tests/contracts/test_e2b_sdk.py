"""The official e2b SDK, pointed at the fake E2B server, works end to end as against the real service."""

from __future__ import annotations

import pytest
from e2b import Sandbox, SandboxQuery, SandboxState
from e2b.exceptions import (
    AuthenticationException,
    FileNotFoundException,
    RateLimitException,
    SandboxNotFoundException,
    ServiceBusyException,
)
from e2b.sandbox.commands.command_handle import CommandExitException

from mocks.e2b import FakeE2B

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]


def test_the_sdk_scenario_create_run_files_kill_twice(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    """The issue's scenario, end to end with the official SDK against the fake server:
    create, run (stdout, exit code; non-zero raises), write and read a file, hand files between the
    files API and commands by absolute paths outside the home (/tmp, /opt), kill, kill again."""
    sandbox = Sandbox.create()

    result = sandbox.commands.run("echo hello from the sandbox")
    with pytest.raises(CommandExitException) as failed:
        sandbox.commands.run("exit 7")
    written = sandbox.files.write("work/notes.md", "# notes\n")
    read = sandbox.files.read("/home/user/work/notes.md")
    sandbox.files.write("/tmp/shared/input.txt", "from the files api\n")
    handed = sandbox.commands.run(
        "mkdir -p /opt/out && tr a-z A-Z < /tmp/shared/input.txt > /opt/out/result.txt && cat /home/user/work/notes.md"
    )
    result_file = sandbox.files.read("/opt/out/result.txt")
    first_kill = sandbox.kill()
    second_kill = sandbox.kill()

    assert (result.stdout, result.exit_code) == ("hello from the sandbox\n", 0)
    assert failed.value.exit_code == 7
    assert (written.path, written.name) == ("/home/user/work/notes.md", "notes.md")
    assert read == "# notes\n"
    assert handed.stdout == "# notes\n", "the command sees what the files API wrote"
    assert result_file == "FROM THE FILES API\n", "the files API reads what the command wrote"
    assert (first_kill, second_kill) == (True, False)
    operations = [entry.operation for entry in fake_e2b.journal]
    assert operations == [
        "create_sandbox",
        "process_start",
        "process_start",
        "files_write",
        "files_read",
        "files_write",
        "process_start",
        "files_read",
        "kill_sandbox",
        "kill_sandbox",
    ], operations


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
    assert result.stdout == "kept\nhello from-create\n/home/user/repo\n"
    assert (workspace / "repo" / "notes.txt").read_text() == "kept\n"
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


def test_sdk_files_read_of_a_missing_file_raises_file_not_found(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()

    with pytest.raises(FileNotFoundException, match="does not exist"):
        sandbox.files.read("nowhere.txt")

    sandbox.kill()


@pytest.mark.priority_p1
def test_sdk_list_filters_by_metadata_and_state(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    mine = Sandbox.create(metadata={"squad": "s-1", "task": "a b&c"})
    other = Sandbox.create(metadata={"squad": "s-2"})
    other.pause()

    by_metadata = Sandbox.list(query=SandboxQuery(metadata={"task": "a b&c"})).next_items()
    paused = Sandbox.list(query=SandboxQuery(state=[SandboxState.PAUSED])).next_items()

    assert [info.sandbox_id for info in by_metadata] == [mine.sandbox_id]
    assert [(info.sandbox_id, info.state) for info in paused] == [(other.sandbox_id, SandboxState.PAUSED)]


@pytest.mark.priority_p1
def test_sdk_pause_then_connect_resumes_with_the_files_kept(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()
    sandbox.files.write("state.txt", "42")

    paused = sandbox.pause()
    running_while_paused = sandbox.is_running()
    resumed = Sandbox.connect(sandbox.sandbox_id)

    assert (paused, running_while_paused) == (True, False)
    assert resumed.is_running() and resumed.files.read("state.txt") == "42"
    assert [entry.status for entry in fake_e2b.requests("connect_sandbox")] == [201]
    resumed.kill()


@pytest.mark.priority_p1
def test_sdk_set_timeout_and_connect_to_a_killed_sandbox(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create(timeout=60)

    sandbox.set_timeout(600)
    end = sandbox.get_info().end_at
    sandbox.kill()

    assert abs((end - fake_e2b.now()).total_seconds() - 600) < 5
    with pytest.raises(SandboxNotFoundException):
        Sandbox.connect(sandbox.sandbox_id)


@pytest.mark.priority_p1
def test_sdk_sees_the_quota_as_a_rate_limit_exception(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    fake_e2b.max_concurrent = 0
    try:
        with pytest.raises(RateLimitException, match="maximum number of concurrent E2B sandboxes"):
            Sandbox.create(retries=0)  # the SDK would otherwise retry the 429 three times, backing off
    finally:
        fake_e2b.max_concurrent = 20


@pytest.mark.priority_p1
def test_sdk_retries_a_503_fault_and_gives_up_when_it_persists(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    """The SDK retries 429/502/503/504 (3 times by default): one 503 is absorbed, a lasting one raises."""
    fake_e2b.add_fault("create_sandbox", 503, times=1)
    sandbox = Sandbox.create()
    fake_e2b.add_fault("kill_sandbox", 503)  # from now on

    with pytest.raises(ServiceBusyException, match="503: Service temporarily unavailable"):
        Sandbox.kill(sandbox.sandbox_id, retries=1)

    assert [entry.status for entry in fake_e2b.requests("create_sandbox")] == [503, 201]
    assert [entry.status for entry in fake_e2b.requests("kill_sandbox")] == [503, 503]


def test_sdk_sees_a_scripted_command_like_a_real_one(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()
    fake_e2b.script_command(r"git push", stderr="fatal: could not read from remote repository\n", exit_code=128)

    with pytest.raises(CommandExitException) as failed:
        sandbox.commands.run("git push origin squad/task-1")

    assert (failed.value.exit_code, failed.value.stderr) == (128, "fatal: could not read from remote repository\n")
    assert sandbox.commands.run("echo real").stdout == "real\n"
    sandbox.kill()
