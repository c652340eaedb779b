"""E2BSandboxService's files: written and read through envd's file API (what the agent's write_file and
read_file tools use), the same files the sandbox's commands see, with envd's refusals of a path told
apart from failures of the sandbox."""

import httpx
import pytest

from app.services.errors import SandboxError, SandboxFileError, SandboxNotRunning

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


async def test_a_written_file_is_what_the_sandboxs_commands_read(sandboxes, sandbox, sh):
    await sandboxes.write_file(sandbox, "/home/user/repo/pkg/calc.py", b"def add(a, b):\n    return a + b\n")

    assert await sh(sandbox, "cat pkg/calc.py") == "def add(a, b):\n    return a + b"


async def test_a_file_a_command_wrote_is_read_back_byte_for_byte(sandboxes, sandbox, sh):
    await sh(sandbox, "printf 'caf\\303\\251\\n' > note.txt", cwd="/home/user")

    assert await sandboxes.read_file(sandbox, "/home/user/note.txt") == "café\n".encode()


async def test_a_relative_path_starts_at_the_users_home(sandboxes, sandbox):
    await sandboxes.write_file(sandbox, "notes/a.txt", b"A")

    assert await sandboxes.read_file(sandbox, "/home/user/notes/a.txt") == b"A"


async def test_writing_again_replaces_the_file(sandboxes, sandbox):
    await sandboxes.write_file(sandbox, "/home/user/x.txt", b"first, and longer")
    await sandboxes.write_file(sandbox, "/home/user/x.txt", b"second")

    assert await sandboxes.read_file(sandbox, "/home/user/x.txt") == b"second"


async def test_reading_a_missing_file_is_a_file_error_with_envds_words(sandboxes, sandbox):
    with pytest.raises(SandboxFileError) as raised:
        await sandboxes.read_file(sandbox, "/home/user/nope.txt")

    assert "does not exist" in raised.value.message and "/home/user/nope.txt" in raised.value.message


async def test_reading_a_directory_is_a_file_error(sandboxes, sandbox, sh):
    await sh(sandbox, "mkdir -p adir", cwd="/home/user")

    with pytest.raises(SandboxFileError) as raised:
        await sandboxes.read_file(sandbox, "/home/user/adir")

    assert "is a directory" in raised.value.message


async def test_files_of_a_sandbox_that_is_gone_say_it_is_not_running(sandboxes, sandbox):
    await sandboxes.destroy(sandbox.sandbox_id)

    with pytest.raises(SandboxNotRunning):
        await sandboxes.write_file(sandbox, "/home/user/x.txt", b"x")


async def test_a_write_the_sandbox_fails_with_503_is_retried(sandboxes, sandbox, e2b_routes, fail_first, sleeps):
    fail_first(e2b_routes["files_write"], httpx.Response(503, json={"message": "busy", "code": 503}))

    await sandboxes.write_file(sandbox, "/home/user/x.txt", b"x")

    assert await sandboxes.read_file(sandbox, "/home/user/x.txt") == b"x"
    assert len(sleeps.waits) == 1


async def test_a_read_that_cannot_reach_the_sandbox_is_retried_then_reported(sandboxes, sandbox, e2b_routes):
    e2b_routes["files_read"].side_effect = httpx.ConnectError("refused")

    with pytest.raises(SandboxError) as raised:
        await sandboxes.read_file(sandbox, "/home/user/x.txt")

    assert raised.value.message.startswith(f"reading /home/user/x.txt in sandbox {sandbox.sandbox_id} failed: cannot")
    assert "gave up after 3 attempts" in raised.value.message


async def test_files_carry_the_sandboxs_access_token(sandboxes, sandbox, e2b_routes):
    await sandboxes.write_file(sandbox, "/home/user/x.txt", b"x")

    request = e2b_routes["files_write"].calls.last.request
    assert request.headers["x-access-token"] == sandbox.envd_access_token
    assert (request.url.params["path"], request.url.params["username"]) == ("/home/user/x.txt", "user")
