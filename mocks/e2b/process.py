"""Running an envd ProcessConfig for real: a process inside the sandbox's namespaces, output as events."""

from __future__ import annotations

import asyncio
import base64
import errno
import signal
import stat
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mocks.e2b import rootfs
from mocks.e2b.connect_protocol import DEADLINE_EXCEEDED, INTERNAL, INVALID_ARGUMENT, UNAVAILABLE, ConnectError
from mocks.e2b.isolation import SandboxNamespaces
from mocks.e2b.state import SANDBOX_USERS, kill_process_group, sandbox_path

READ_CHUNK = 32 * 1024


@dataclass(frozen=True)
class ProcessConfig:
    cmd: str
    args: list[str] = field(default_factory=list)
    envs: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None

    @classmethod
    def from_start_request(cls, message: dict[str, Any]) -> ProcessConfig:
        """Validate the `process` of a StartRequest (protobuf JSON); raises ConnectError(invalid_argument)."""
        process = message.get("process")
        if not isinstance(process, dict):
            raise ConnectError(INVALID_ARGUMENT, "process: a ProcessConfig object is required")
        cmd, args = process.get("cmd"), process.get("args", [])
        envs, cwd = process.get("envs", {}), process.get("cwd")
        if not isinstance(cmd, str) or not cmd:
            raise ConnectError(INVALID_ARGUMENT, "process.cmd: a non-empty string is required")
        if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
            raise ConnectError(INVALID_ARGUMENT, "process.args: a list of strings is required")
        if not isinstance(envs, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in envs.items()
        ):
            raise ConnectError(INVALID_ARGUMENT, "process.envs: a map of strings is required")
        if cwd is not None and not isinstance(cwd, str):
            raise ConnectError(INVALID_ARGUMENT, "process.cwd: a string is required")
        return cls(cmd, list(args), dict(envs), cwd or None)


SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_environment(user: str, sandbox_id: str) -> dict[str, str]:
    """What every command of the sandbox gets before the sandbox's and the command's own variables."""
    return {
        "PATH": SANDBOX_PATH,
        "HOME": SANDBOX_USERS[user],
        "USER": user,
        "LOGNAME": user,
        "SHELL": "/bin/bash",
        "LANG": "C.UTF-8",
        "E2B_SANDBOX": "true",
        "E2B_SANDBOX_ID": sandbox_id,
    }


def end_event(returncode: int) -> dict[str, Any]:
    """EndEvent as envd fills it from Go's os.ProcessState (a signal: exitCode -1, exited false), in
    Connect's JSON, which leaves out fields at their zero value: no exitCode when it is 0, no exited
    when it is false."""
    if returncode < 0:
        name = (signal.strsignal(-returncode) or f"signal {-returncode}").lower()
        return {"exitCode": -1, "status": f"signal: {name}"}
    event: dict[str, Any] = {"exited": True, "status": f"exit status {returncode}"}
    if returncode:
        event["exitCode"] = returncode
    return event


async def run_process(
    config: ProcessConfig,
    *,
    namespaces: SandboxNamespaces,
    user: str,
    env: dict[str, str],
    timeout_ms: int | None,
    keepalive_s: float | None,
    on_start: Callable[[int], None],
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield the ProcessEvent payloads: start, data (stdout/stderr, base64), keepalive, end.

    The command runs as `user` in the sandbox, in `config.cwd` (relative to the user's home; the home
    when none), with exactly `env`. A working directory or a program that is not there is refused
    before anything runs, as envd's exec refuses it: ConnectError(internal). Raises
    ConnectError(deadline_exceeded) after killing the command when `timeout_ms` passes.
    """
    deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
    try:
        cwd = sandbox_path(config.cwd, user)
        check_startable(namespaces, config.cmd, cwd, env.get("PATH", ""))
        with namespaces.command([config.cmd, *config.args], cwd=str(cwd), env=env, user=user) as launch:
            process = await asyncio.create_subprocess_exec(
                *launch.argv,
                pass_fds=launch.pass_fds,
                env={},  # nothing of the fake's own environment reaches the sandbox
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # no controlling terminal (git cannot prompt), one group to kill
            )
    except ProcessLookupError:
        raise ConnectError(UNAVAILABLE, "the sandbox was killed before the process started") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in cmd, args, envs or cwd
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConnectError(INTERNAL, f"error starting process '{config.cmd}': {reason}") from None
    on_start(process.pid)
    yield {"start": {"pid": process.pid}}

    queue: asyncio.Queue[tuple[str, bytes | None]] = asyncio.Queue()

    async def pump(stream: asyncio.StreamReader, name: str) -> None:
        while chunk := await stream.read(READ_CHUNK):
            await queue.put((name, chunk))
        await queue.put((name, None))

    assert process.stdout is not None and process.stderr is not None
    pumps = [asyncio.create_task(pump(process.stdout, "stdout")), asyncio.create_task(pump(process.stderr, "stderr"))]
    finished = False
    try:
        open_pipes = 2
        while open_pipes:
            wait = _time_left(deadline)
            if keepalive_s:
                wait = keepalive_s if wait is None else min(wait, keepalive_s)
            try:
                name, chunk = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise _deadline_error(timeout_ms) from None
                yield {"keepalive": {}}
                continue
            if chunk is None:
                open_pipes -= 1
            else:
                yield {"data": {name: base64.b64encode(chunk).decode()}}
        try:
            returncode = await asyncio.wait_for(process.wait(), _time_left(deadline))
        except TimeoutError:
            raise _deadline_error(timeout_ms) from None
        finished = True
        yield {"end": end_event(returncode)}
    finally:
        if not finished:  # deadline, client gone or sandbox killed: nothing of the command may linger
            kill_process_group(process.pid)
        if process.returncode is None:
            await process.wait()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


def check_startable(namespaces: SandboxNamespaces, cmd: str, cwd: PurePosixPath, search_path: str) -> None:
    """Raise OSError as exec would before starting `cmd` in `cwd`: no such directory, no such program."""
    with namespaces.root() as root:
        if not stat.S_ISDIR(rootfs.stat_path(root, cwd).st_mode):
            raise rootfs.SandboxPathError(errno.ENOTDIR, "chdir", cwd)
        try:
            rootfs.find_executable(root, cmd, cwd, search_path.split(":"))
        except rootfs.SandboxPathError as error:
            if error.errno == errno.ENOENT and "/" not in cmd:
                raise OSError(errno.ENOENT, f'exec: "{cmd}": executable file not found in $PATH') from None
            raise


def _time_left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _deadline_error(timeout_ms: int | None) -> ConnectError:
    return ConnectError(DEADLINE_EXCEEDED, f"the operation timed out after {timeout_ms} ms: context deadline exceeded")
