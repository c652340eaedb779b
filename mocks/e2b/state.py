"""The state model of the fake E2B: API keys, sandboxes (each with a real workspace directory), quota."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import string
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse, Response

from mocks.common.service import FakeService

DEFAULT_API_KEY = "e2b_" + "0" * 40
DEFAULT_TEMPLATE = "base"
DEFAULT_TIMEOUT_SECONDS = 300  # the API's default time to live
ENVD_VERSION = "0.5.7"  # recent enough for every command feature the SDK uses
CLIENT_ID = "6532622b"  # deprecated field the API still fills with a constant
SANDBOX_HOME = "/home/user"  # the sandbox user's home and default cwd, mapped to the workspace
ID_ALPHABET = string.ascii_lowercase + string.digits


class QuotaExceeded(Exception):
    pass


def new_sandbox_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(20))


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Sandbox:
    sandbox_id: str
    template_id: str
    envd_access_token: str
    workspace: Path
    started_at: datetime
    end_at: datetime
    metadata: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)
    envd_version: str = ENVD_VERSION
    cpu_count: int = 2
    memory_mb: int = 512
    disk_size_mb: int = 10240
    killed_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.killed_at is None

    def to_json(self) -> dict[str, Any]:
        """The `Sandbox` schema: the answer to POST /sandboxes and POST /v2/sandboxes."""
        return {
            "templateID": self.template_id,
            "sandboxID": self.sandbox_id,
            "alias": self.template_id,
            "clientID": CLIENT_ID,
            "envdVersion": self.envd_version,
            "envdAccessToken": self.envd_access_token,
            "trafficAccessToken": None,
            "domain": None,
        }

    def to_detail_json(self) -> dict[str, Any]:
        """The `SandboxDetail` schema: the answer to GET /sandboxes/{sandboxID}."""
        return {
            "templateID": self.template_id,
            "alias": self.template_id,
            "sandboxID": self.sandbox_id,
            "clientID": CLIENT_ID,
            "startedAt": iso(self.started_at),
            "endAt": iso(self.end_at),
            "envdVersion": self.envd_version,
            "envdAccessToken": self.envd_access_token,
            "domain": None,
            "cpuCount": self.cpu_count,
            "memoryMB": self.memory_mb,
            "diskSizeMB": self.disk_size_mb,
            "metadata": dict(self.metadata),
            "state": "running",
        }

    def to_listed_json(self) -> dict[str, Any]:
        """The `ListedSandbox` schema: an item of GET /sandboxes."""
        detail = self.to_detail_json()
        for key in ("envdAccessToken", "domain"):
            detail.pop(key)
        return detail


class FakeE2B(FakeService):
    """Sandboxes are directories: commands sent to envd run for real in the sandbox's workspace."""

    def __init__(
        self,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        *,
        max_concurrent: int = 20,
        latency_ms: int = 0,
        workspace_root: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(latency_ms=latency_ms)
        self.api_keys: set[str] = set(api_keys)
        self.max_concurrent = max_concurrent
        self._owns_root = workspace_root is None
        self.root = Path(workspace_root or tempfile.mkdtemp(prefix="fake-e2b-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._sandboxes: dict[str, Sandbox] = {}
        self._processes: dict[str, set[int]] = {}  # sandbox id -> pids of its running commands
        self._created = 0

    # -- credentials ----------------------------------------------------------------------------------
    def add_api_key(self, key: str) -> None:
        with self._lock:
            self.api_keys.add(key)

    def is_valid_api_key(self, key: str | None) -> bool:
        with self._lock:
            return key is not None and key in self.api_keys

    # -- sandboxes ------------------------------------------------------------------------------------
    def create_sandbox(
        self,
        template_id: str = DEFAULT_TEMPLATE,
        *,
        timeout: int = DEFAULT_TIMEOUT_SECONDS,
        metadata: dict[str, str] | None = None,
        env_vars: dict[str, str] | None = None,
    ) -> Sandbox:
        """Start a sandbox (what POST /sandboxes does). Raises QuotaExceeded past `max_concurrent`."""
        now = datetime.now(UTC)
        with self._lock:
            self._expire(now)
            if len(self._running()) >= self.max_concurrent:
                raise QuotaExceeded(
                    f"You have reached the maximum number of concurrent E2B sandboxes ({self.max_concurrent}). "
                    "If you need more, please contact us at 'https://e2b.dev/docs/getting-help'"
                )
            sandbox_id = new_sandbox_id()
            workspace = self.root / sandbox_id
            workspace.mkdir()
            sandbox = Sandbox(
                sandbox_id=sandbox_id,
                template_id=template_id,
                envd_access_token=secrets.token_urlsafe(24),
                workspace=workspace,
                started_at=now,
                end_at=now + timedelta(seconds=timeout),
                metadata=dict(metadata or {}),
                env_vars=dict(env_vars or {}),
            )
            self._sandboxes[sandbox_id] = sandbox
            self._processes[sandbox_id] = set()
            self._created += 1
            return sandbox

    def get_sandbox(self, sandbox_id: str) -> Sandbox | None:
        """The running sandbox with this id, or None (unknown, killed or past its end)."""
        with self._lock:
            self._expire(datetime.now(UTC))
            sandbox = self._sandboxes.get(sandbox_id)
            return sandbox if sandbox is not None and sandbox.running else None

    def kill_sandbox(self, sandbox_id: str) -> bool:
        """Kill a running sandbox: its commands get SIGKILL, its workspace is deleted. False if not running."""
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
            if sandbox is None or not sandbox.running:
                return False
            self._stop(sandbox, datetime.now(UTC))
            return True

    def set_timeout(self, sandbox_id: str, timeout: int) -> bool:
        with self._lock:
            sandbox = self.get_sandbox(sandbox_id)
            if sandbox is None:
                return False
            sandbox.end_at = datetime.now(UTC) + timedelta(seconds=timeout)
            return True

    def running_sandboxes(self) -> list[Sandbox]:
        with self._lock:
            self._expire(datetime.now(UTC))
            return self._running()

    def killed_sandboxes(self) -> list[Sandbox]:
        """Sandboxes killed by DELETE or past their end (reset() forgets them)."""
        with self._lock:
            self._expire(datetime.now(UTC))
            return [sandbox for sandbox in self._sandboxes.values() if not sandbox.running]

    def workspace(self, sandbox_id: str) -> Path:
        """The host directory standing for /home/user of a running sandbox."""
        sandbox = self.get_sandbox(sandbox_id)
        if sandbox is None:
            raise KeyError(f"no running sandbox {sandbox_id!r}")
        return sandbox.workspace

    # -- processes (envd) -----------------------------------------------------------------------------
    def register_process(self, sandbox_id: str, pid: int) -> bool:
        """Track a command's pid so killing the sandbox kills it; False if the sandbox is gone."""
        with self._lock:
            if self.get_sandbox(sandbox_id) is None:
                return False
            self._processes.setdefault(sandbox_id, set()).add(pid)
            return True

    def unregister_process(self, sandbox_id: str, pid: int) -> None:
        with self._lock:
            self._processes.get(sandbox_id, set()).discard(pid)

    # -- lifecycle ------------------------------------------------------------------------------------
    def _reset_state(self) -> None:
        now = datetime.now(UTC)
        with self._lock:
            for sandbox in self._running():
                self._stop(sandbox, now)
            self._sandboxes.clear()
            self._processes.clear()
            self._created = 0

    def close(self) -> None:
        """Kill every sandbox and delete the workspaces (and the root, when this object made it)."""
        self.reset()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._expire(datetime.now(UTC))
            return {
                "sandboxes": [
                    {
                        **sandbox.to_detail_json(),
                        "state": "running" if sandbox.running else "killed",
                        "killedAt": iso(sandbox.killed_at) if sandbox.killed_at else None,
                        "workspace": str(sandbox.workspace),
                        "processes": sorted(self._processes.get(sandbox.sandbox_id, ())),
                    }
                    for sandbox in self._sandboxes.values()
                ],
                "created": self._created,
                "max_concurrent": self.max_concurrent,
                "faults": [rule.to_json() for rule in self.faults.rules()],
            }

    def error_response(self, status: int, message: str | None = None) -> Response:
        return e2b_error(status, message)

    # -- internals (call with the lock held) ----------------------------------------------------------
    def _running(self) -> list[Sandbox]:
        return [sandbox for sandbox in self._sandboxes.values() if sandbox.running]

    def _expire(self, now: datetime) -> None:
        for sandbox in self._running():
            if sandbox.end_at <= now:
                self._stop(sandbox, now)

    def _stop(self, sandbox: Sandbox, now: datetime) -> None:
        sandbox.killed_at = now
        for pid in self._processes.pop(sandbox.sandbox_id, set()):
            kill_process_group(pid)
        shutil.rmtree(sandbox.workspace, ignore_errors=True)


def kill_process_group(pid: int) -> None:
    # Commands run in their own session (start_new_session), so the group id is the pid.
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


STATUS_MESSAGES = {
    400: "Bad request",
    401: "Invalid API key",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def e2b_error(status: int, message: str | None = None) -> JSONResponse:
    """E2B's error body: {"code": <status>, "message": "..."} (the `Error` schema of the spec)."""
    return JSONResponse({"code": status, "message": message or STATUS_MESSAGES.get(status, "Error")}, status)
