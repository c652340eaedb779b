"""Running an envd ProcessConfig for real: a subprocess in the sandbox's workspace, output as events."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mocks.e2b.connect_protocol import DEADLINE_EXCEEDED, INTERNAL, INVALID_ARGUMENT, ConnectError
from mocks.e2b.state import SANDBOX_HOME, kill_process_group

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


def host_cwd(cwd: str | None, workspace: Path) -> Path:
    """Map a sandbox path to the host: /home/user (where relative paths start) is the workspace.

    Other absolute paths (/tmp...) are the host's own: the fake isolates state, not security.
    """
    home = PurePosixPath(SANDBOX_HOME)
    path = PurePosixPath(os.path.normpath(home / (cwd or ".")))
    if path == home or home in path.parents:
        return workspace / path.relative_to(home)
    return Path(path)


def base_environment(workspace: Path, sandbox_id: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(workspace),
        "USER": "user",
        "LOGNAME": "user",
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
    workspace: Path,
    env: dict[str, str],
    timeout_ms: int | None,
    keepalive_s: float | None,
    on_start: Callable[[int], None],
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield the ProcessEvent payloads: start, data (stdout/stderr, base64), keepalive, end.

    Raises ConnectError(deadline_exceeded) after killing the command when `timeout_ms` passes.
    """
    deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
    cwd = host_cwd(config.cwd, workspace)
    try:
        process = await asyncio.create_subprocess_exec(
            config.cmd,
            *config.args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # no controlling terminal (git cannot prompt), one group to kill
        )
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


def _time_left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _deadline_error(timeout_ms: int | None) -> ConnectError:
    return ConnectError(DEADLINE_EXCEEDED, f"the operation timed out after {timeout_ms} ms: context deadline exceeded")
