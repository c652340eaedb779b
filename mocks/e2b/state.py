"""The state model of the fake E2B: API keys, sandboxes (each a real sandbox, see isolation.py), quota, time.

A sandbox is a host directory that is `/` for its commands, inside Linux namespaces of its own
(isolation.py): what the files API writes at /home/user/x is what `cat /home/user/x` prints, and the
same for /tmp/x or /opt/y. A sandbox is running, paused or killed. It expires at `end_at` (killed,
or paused when it was created with autoPause), measured on the fake's clock (`advance_time()` moves
it); expiry is applied whenever the fake is asked anything. Pausing stops every process in the
sandbox (SIGSTOP) and keeps its files; resuming (connect) continues them (SIGCONT). Killing it, or
its expiry, ends every process in it, background ones included, and deletes its files.

What E2B would refuse raises an E2BError carrying the status of E2B's answer (errors.py words the body).
Plain Python: no HTTP framework here; the app (app.py) is the only HTTP front.
"""

from __future__ import annotations

import base64
import binascii
import enum
import os
import secrets
import shutil
import signal
import string
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from mocks.common.faults import RequestFacts
from mocks.common.service import FakeService
from mocks.e2b.isolation import (
    SandboxNamespaces,
    SandboxStartFailed,
    check_isolation,
    make_system_etc,
    remove_tree,
)
from mocks.e2b.representations import iso, sandbox_detail_json
from mocks.e2b.scripted import CommandScripts, ScriptedCommand

DEFAULT_API_KEY = "e2b_" + "0" * 40
DEFAULT_TEMPLATE = "base"
DEFAULT_TIMEOUT_SECONDS = 300  # what the SDK asks for; the Python helpers use it too
API_DEFAULT_TIMEOUT_SECONDS = 15  # the REST API's default when a create request names no timeout (spec)
REFRESH_MINIMUM_SECONDS = 15  # a refresh extends the life by at least this much (SandboxTimeoutDefault)
MAX_LENGTH_HOURS = 24  # the team's longest sandbox life (Pro tier); a create/connect asking more is refused
ENVD_VERSION = "0.5.7"  # recent enough for every command feature the SDK uses
MAX_PAGE = 100  # the most sandboxes one page of GET /v2/sandboxes holds (and its default)
SANDBOX_HOME = "/home/user"  # the sandbox user's home and default cwd
SANDBOX_USERS = {"user": SANDBOX_HOME, "root": "/root"}  # the users envd knows, and their homes
ID_ALPHABET = string.ascii_lowercase + string.digits


class SandboxState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    KILLED = "killed"


class E2BError(Exception):
    """A request E2B refuses: `status` is the HTTP status of its answer, the message the body's `message`."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QuotaExceeded(E2BError):
    status = 429


class InvalidTimeout(E2BError, ValueError):
    status = 400


class InvalidNextToken(E2BError):
    status = 400


class SandboxNotFound(E2BError, KeyError):
    """No running or paused sandbox has this id (the error's only argument; errors.py words the message)."""

    status = 404

    @property
    def sandbox_id(self) -> str:
        return self.message


class WrongState(E2BError):
    """The sandbox exists but is not in a state the operation accepts (409 on E2B)."""

    status = 409


class SandboxUnavailable(E2BError):
    """The fake could not start a sandbox (bubblewrap failed for this one); E2B answers such with 500."""

    status = 500


def new_sandbox_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(20))


@dataclass
class Sandbox:
    sandbox_id: str
    template_id: str
    envd_access_token: str | None  # None unless created `secure`: envd then asks for no token
    root: Path  # the host directory that is the sandbox's `/`
    namespaces: SandboxNamespaces = field(repr=False)
    started_at: datetime
    end_at: datetime
    metadata: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)
    auto_pause: bool = False
    envd_version: str = ENVD_VERSION
    cpu_count: int = 2
    memory_mb: int = 512
    disk_size_mb: int = 10240
    state: SandboxState = SandboxState.RUNNING
    killed_at: datetime | None = None
    paused_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.state is SandboxState.RUNNING

    @property
    def paused(self) -> bool:
        return self.state is SandboxState.PAUSED

    @property
    def workspace(self) -> Path:
        """The host directory that is the sandbox's /home/user."""
        return self.root / SANDBOX_HOME.lstrip("/")


def sandbox_path(path: str | None, user: str = "user") -> PurePosixPath:
    """An absolute path inside the sandbox, as envd makes it: a relative one (or none) starts at the
    user's home, `~` is that home, and `..` is resolved by the name alone (so it never climbs above `/`)."""
    home = PurePosixPath(SANDBOX_USERS.get(user, SANDBOX_HOME))
    if not path:
        return home
    if path == "~" or path.startswith("~/"):
        path = str(home) + path[1:]
    normalized = os.path.normpath(home / path)
    return PurePosixPath("/" + normalized.lstrip("/"))  # normpath keeps a leading "//"; a sandbox path does not


def page_token(sandbox: Sandbox) -> str:
    """An opaque cursor naming the last sandbox of a page."""
    return base64.urlsafe_b64encode(f"{sandbox.started_at.isoformat()}__{sandbox.sandbox_id}".encode()).decode()


def page_cursor(token: str) -> tuple[datetime, str]:
    """(started_at, sandbox id) of the sandbox a page token names; raises InvalidNextToken."""
    try:
        moment, sandbox_id = base64.urlsafe_b64decode(token.encode()).decode().split("__")
        return datetime.fromisoformat(moment), sandbox_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidNextToken("Invalid next token") from None


@dataclass(frozen=True)
class SandboxQuery:
    """Which sandboxes a listing asks for, and in which order."""

    states: tuple[SandboxState, ...] = (SandboxState.RUNNING, SandboxState.PAUSED)
    metadata: Mapping[str, str] = field(default_factory=dict)  # pairs the sandbox's metadata must have
    template: str | None = None
    started_after: datetime | None = None
    newest_first: bool = True


@dataclass(frozen=True)
class SandboxPage:
    """One page of GET /v2/sandboxes."""

    sandboxes: list[Sandbox]
    next_token: str | None  # names the page's last sandbox when more follow it
    total_running: int | None  # the running sandboxes from this page on, when running ones were asked for


class FakeE2B(FakeService):
    """Sandboxes are real: commands sent to envd run in Linux namespaces of the sandbox's own.

    Raises IsolationUnavailable (naming the cause and the fix) where namespaces cannot be made.
    """

    extra_match_keys = frozenset({"sandbox", "metadata"})

    def __init__(
        self,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        *,
        max_concurrent: int = 20,
        latency_ms: int = 0,
        workspace_root: str | os.PathLike[str] | None = None,
        max_length_hours: int = MAX_LENGTH_HOURS,
    ) -> None:
        self.tools = check_isolation()  # before anything else: no sandbox may ever run on the host
        super().__init__(latency_ms=latency_ms)
        self.api_keys: set[str] = set(api_keys)
        self.max_concurrent = max_concurrent  # running sandboxes at once; the next create answers 429
        self.max_length_hours = max_length_hours
        self._owns_root = workspace_root is None
        self.root = Path(workspace_root or tempfile.mkdtemp(prefix="fake-e2b-"))
        self.root.mkdir(parents=True, exist_ok=True)
        # Every sandbox's read-only /etc (no sandbox id starts with a dot)
        self.system_etc = self.root / f".etc-{secrets.token_hex(4)}"
        make_system_etc(self.system_etc)
        self._sandboxes: dict[str, Sandbox] = {}
        self._processes: dict[str, set[int]] = {}  # sandbox id -> pids of its running commands
        self._created = 0
        self.scripts = CommandScripts()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

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
        auto_pause: bool = False,
        secure: bool = True,
    ) -> Sandbox:
        """Start a sandbox (what POST /sandboxes does). Raises QuotaExceeded past `max_concurrent`,
        InvalidTimeout past the team's longest sandbox life, SandboxUnavailable when bubblewrap fails.

        `secure` (the API's `secure`; this helper defaults to it, as the SDK and the platform ask for it)
        gives the sandbox an envd access token that envd then requires.
        """
        self._check_timeout(timeout)
        with self._lock:
            self._expire()
            self._check_quota()
            sandbox_id = new_sandbox_id()
        # Starting the namespaces takes milliseconds: not under the lock every request waits for.
        root = self.root / sandbox_id
        try:
            namespaces = SandboxNamespaces.start(root, self.system_etc, self.tools)
        except SandboxStartFailed as error:
            remove_tree(root)
            raise SandboxUnavailable(f"the sandbox could not be started: {error}") from None
        with self._lock:
            now = self._expire()
            try:
                self._check_quota()  # others may have started sandboxes meanwhile
            except QuotaExceeded:
                namespaces.kill()
                remove_tree(root)
                raise
            sandbox = Sandbox(
                sandbox_id=sandbox_id,
                template_id=template_id,
                envd_access_token=secrets.token_urlsafe(24) if secure else None,
                root=root,
                namespaces=namespaces,
                started_at=now,
                end_at=now + timedelta(seconds=timeout),
                metadata=dict(metadata or {}),
                env_vars=dict(env_vars or {}),
                auto_pause=auto_pause,
            )
            self._sandboxes[sandbox_id] = sandbox
            self._processes[sandbox_id] = set()
            self._created += 1
            return sandbox

    def get_sandbox(self, sandbox_id: str) -> Sandbox | None:
        """The running sandbox with this id, or None (unknown, paused, killed or past its end)."""
        sandbox = self.find_sandbox(sandbox_id)
        return sandbox if sandbox is not None and sandbox.running else None

    def find_sandbox(self, sandbox_id: str) -> Sandbox | None:
        """The running or paused sandbox with this id, or None (unknown, killed or past its end)."""
        with self._lock:
            self._expire()
            sandbox = self._sandboxes.get(sandbox_id)
            return sandbox if sandbox is not None and sandbox.state is not SandboxState.KILLED else None

    def _known_sandbox(self, sandbox_id: str) -> Sandbox:
        """As `find_sandbox`, raising SandboxNotFound where it finds none."""
        sandbox = self.find_sandbox(sandbox_id)
        if sandbox is None:
            raise SandboxNotFound(sandbox_id)
        return sandbox

    def kill_sandbox(self, sandbox_id: str) -> bool:
        """Kill a running or paused sandbox: commands get SIGKILL, files are deleted. False if there is none."""
        with self._lock:
            sandbox = self.find_sandbox(sandbox_id)
            if sandbox is None:
                return False
            self._stop(sandbox, self.now())
            return True

    def set_timeout(self, sandbox_id: str, timeout: int) -> bool:
        """The sandbox now ends `timeout` seconds from now, sooner or later than before. False if not running."""
        with self._lock:
            sandbox = self.get_sandbox(sandbox_id)
            if sandbox is None:
                return False
            self._keep_alive(sandbox, timeout, allow_shorter=True)
            return True

    def refresh(self, sandbox_id: str, duration: int | None = None) -> bool:
        """Keep the sandbox alive `duration` seconds more (at least 15); never shortens. False if not running."""
        with self._lock:
            sandbox = self.get_sandbox(sandbox_id)
            if sandbox is None:
                return False
            self._keep_alive(sandbox, max(duration or 0, REFRESH_MINIMUM_SECONDS), allow_shorter=False)
            return True

    def pause(self, sandbox_id: str) -> Sandbox:
        """Pause a running sandbox: its commands are stopped (SIGSTOP), its files kept.

        Raises SandboxNotFound, or WrongState when it is already paused.
        """
        with self._lock:
            sandbox = self._known_sandbox(sandbox_id)
            if sandbox.state is SandboxState.PAUSED:
                raise WrongState(f"Error pausing sandbox - sandbox '{sandbox_id}' is already paused")
            self._pause(sandbox, self.now())
            return sandbox

    def connect(self, sandbox_id: str, timeout: int) -> tuple[Sandbox, bool]:
        """Connect to a sandbox, resuming it when paused. Returns (sandbox, whether it was resumed).

        A running sandbox's life is only ever extended; a resumed one ends `timeout` seconds from now.
        Raises SandboxNotFound, InvalidTimeout, or QuotaExceeded when resuming past the quota.
        """
        self._check_timeout(timeout)
        with self._lock:
            sandbox = self._known_sandbox(sandbox_id)
            if sandbox.running:
                self._keep_alive(sandbox, timeout, allow_shorter=False)
                return sandbox, False
            self._resume(sandbox, timeout)
            return sandbox, True

    def resume(self, sandbox_id: str, timeout: int) -> Sandbox:
        """The deprecated POST /sandboxes/{id}/resume: only a paused sandbox (WrongState when running)."""
        self._check_timeout(timeout)
        with self._lock:
            sandbox = self._known_sandbox(sandbox_id)
            if sandbox.running:
                raise WrongState(f"Sandbox {sandbox_id} is already running")
            self._resume(sandbox, timeout)
            return sandbox

    def running_sandboxes(self) -> list[Sandbox]:
        with self._lock:
            self._expire()
            return self._in_state(SandboxState.RUNNING)

    def paused_sandboxes(self) -> list[Sandbox]:
        with self._lock:
            self._expire()
            return self._in_state(SandboxState.PAUSED)

    def list_sandboxes(self, query: SandboxQuery = SandboxQuery()) -> list[Sandbox]:
        """What GET /v2/sandboxes lists: the sandboxes in a state asked for, whose metadata has every pair
        asked for, of the template and started after the moment asked for (when asked), in order."""
        wanted = set(query.states)
        with self._lock:
            self._expire()
            found = [
                sandbox
                for sandbox in self._sandboxes.values()
                if sandbox.state in wanted
                and all(sandbox.metadata.get(key) == value for key, value in query.metadata.items())
                and (query.template is None or query.template == sandbox.template_id)
                and (query.started_after is None or sandbox.started_at >= query.started_after)
            ]
        found.sort(key=lambda sandbox: (sandbox.started_at, sandbox.sandbox_id), reverse=query.newest_first)
        return found

    def list_sandboxes_page(
        self, query: SandboxQuery = SandboxQuery(), *, limit: int = MAX_PAGE, next_token: str | None = None
    ) -> SandboxPage:
        """One page of what list_sandboxes finds: at most `limit`, after the sandbox `next_token` names
        (from the start when that one is gone). Raises InvalidNextToken."""
        after = page_cursor(next_token) if next_token else None
        listed = self.list_sandboxes(query)
        if after is not None:
            keys = [(sandbox.started_at, sandbox.sandbox_id) for sandbox in listed]
            found = [index for index, key in enumerate(keys) if key == after]
            listed = listed[found[0] + 1 :] if found else listed
        page = listed[:limit]
        running = SandboxState.RUNNING in query.states
        return SandboxPage(
            sandboxes=page,
            next_token=page_token(page[-1]) if len(listed) > limit else None,
            total_running=sum(1 for sandbox in listed if sandbox.running) if running else None,
        )

    def killed_sandboxes(self) -> list[Sandbox]:
        """Sandboxes killed by DELETE or past their end (reset() forgets them)."""
        with self._lock:
            self._expire()
            return self._in_state(SandboxState.KILLED)

    def workspace(self, sandbox_id: str) -> Path:
        """The host directory that is /home/user of a running sandbox (write there, the sandbox sees it)."""
        sandbox = self.get_sandbox(sandbox_id)
        if sandbox is None:
            raise KeyError(f"no running sandbox {sandbox_id!r}")
        return sandbox.workspace

    # -- scripted commands ----------------------------------------------------------------------------
    def script_command(
        self,
        pattern: str,
        *,
        stdout: str = "",
        stderr: str = "",
        exit_code: int = 0,
        times: int | None = None,
        sandbox: str | None = None,
    ) -> ScriptedCommand:
        """Answer commands whose command line matches `pattern` (a regular expression searched in
        "cmd arg1 arg2 ...") with this output and exit code instead of running them; `times=None`:
        until cleared; `sandbox`: only in that sandbox."""
        script = ScriptedCommand(pattern, stdout, stderr, exit_code, times, sandbox)
        return self.scripts.add(script)

    def clear_scripted_commands(self) -> None:
        self.scripts.clear()

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

    # -- fault matching -------------------------------------------------------------------------------
    def request_fact(self, key: str, facts: RequestFacts, path_params: dict[str, Any]) -> Any:
        """`sandbox`: the id a request names (path or E2b-Sandbox-Id); `metadata`: that sandbox's metadata,
        or the metadata a create request sends."""
        sandbox_id = path_params.get("sandbox_id") or facts.headers.get("e2b-sandbox-id")
        if key == "sandbox":
            return sandbox_id
        if key == "metadata":
            if sandbox_id:
                with self._lock:
                    sandbox = self._sandboxes.get(sandbox_id)
                    return dict(sandbox.metadata) if sandbox else None
            body = facts.body if isinstance(facts.body, dict) else {}
            return body.get("metadata") if isinstance(body.get("metadata"), dict) else None
        return None

    # -- lifecycle ------------------------------------------------------------------------------------
    def _reset_state(self) -> None:
        now = datetime.now(UTC)
        with self._lock:
            for sandbox in list(self._sandboxes.values()):
                if sandbox.state is not SandboxState.KILLED:
                    self._stop(sandbox, now)
            self._sandboxes.clear()
            self._processes.clear()
            self._created = 0
        self.scripts.clear()

    def close(self) -> None:
        """Kill every sandbox and delete their directories (and the root, when this object made it)."""
        self.reset()
        shutil.rmtree(self.system_etc, ignore_errors=True)
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._expire()
            return {
                "sandboxes": [
                    {
                        **sandbox_detail_json(sandbox),
                        "state": sandbox.state.value,
                        "killedAt": iso(sandbox.killed_at) if sandbox.killed_at else None,
                        "pausedAt": iso(sandbox.paused_at) if sandbox.paused_at else None,
                        "root": str(sandbox.root),
                        "workspace": str(sandbox.workspace),
                        "processes": sorted(self._processes.get(sandbox.sandbox_id, ())),
                    }
                    for sandbox in self._sandboxes.values()
                ],
                "created": self._created,
                "max_concurrent": self.max_concurrent,
                "now": iso(self.now()),
                "faults": [rule.to_json() for rule in self.faults.entries()],
                "scripted_commands": [script.to_json() for script in self.scripts.entries()],
            }

    # -- internals ------------------------------------------------------------------------------------
    def _check_timeout(self, timeout: int) -> None:
        if timeout > self.max_length_hours * 3600:
            raise InvalidTimeout(f"Timeout cannot be greater than {self.max_length_hours} hours")

    def _check_quota(self) -> None:
        if len(self._in_state(SandboxState.RUNNING)) >= self.max_concurrent:
            raise QuotaExceeded(
                f"you have reached the maximum number of concurrent E2B sandboxes ({self.max_concurrent}). "
                "If you need more, please contact us at 'https://e2b.dev/docs/getting-help'"
            )

    def _keep_alive(self, sandbox: Sandbox, seconds: int, *, allow_shorter: bool) -> None:
        now = self.now()
        longest = sandbox.started_at + timedelta(hours=self.max_length_hours)
        end = min(now + timedelta(seconds=seconds), longest)
        if allow_shorter or end > sandbox.end_at:
            sandbox.end_at = end

    def _in_state(self, state: SandboxState) -> list[Sandbox]:
        return [sandbox for sandbox in self._sandboxes.values() if sandbox.state is state]

    def _expire(self) -> datetime:
        now = self.now()
        for sandbox in self._in_state(SandboxState.RUNNING):
            if sandbox.end_at <= now:
                if sandbox.auto_pause:
                    self._pause(sandbox, now)
                else:
                    self._stop(sandbox, now)
        return now

    def _pause(self, sandbox: Sandbox, now: datetime) -> None:
        sandbox.state = SandboxState.PAUSED
        sandbox.paused_at = now
        sandbox.end_at = now
        # A command's nsenter (on the host's side, waiting for the command) stops itself when it sees
        # its child stop, and would then stay stopped after the resume: it is stopped first, so it never
        # sees that; the resume continues the sandbox before it.
        commands = self._processes.get(sandbox.sandbox_id, set())
        for pid in commands:
            signal_process(pid, signal.SIGSTOP)  # the fake's own unreaped child: the pid is still its
        wait_until_stopped(commands)
        sandbox.namespaces.signal(signal.SIGSTOP)
        for pid in commands:
            signal_process_group(pid, signal.SIGSTOP)

    def _resume(self, sandbox: Sandbox, timeout: int) -> None:
        self._check_quota()
        now = self.now()
        sandbox.state = SandboxState.RUNNING
        sandbox.paused_at = None
        sandbox.started_at = now
        sandbox.end_at = now + timedelta(seconds=timeout)
        sandbox.namespaces.signal(signal.SIGCONT)  # every process in the sandbox, setsid'd ones too
        for pid in self._processes.get(sandbox.sandbox_id, set()):
            signal_process_group(pid, signal.SIGCONT)

    def _stop(self, sandbox: Sandbox, now: datetime) -> None:
        sandbox.state = SandboxState.KILLED
        sandbox.killed_at = now
        sandbox.namespaces.kill()  # every process in the sandbox, background and setsid'd ones included
        for pid in self._processes.pop(sandbox.sandbox_id, set()):
            kill_process_group(pid)
        remove_tree(sandbox.root)


def signal_process_group(pid: int, signum: int) -> None:
    # Commands run in their own session (start_new_session), so the group id is the pid.
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def signal_process(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def kill_process_group(pid: int) -> None:
    signal_process_group(pid, signal.SIGKILL)


def wait_until_stopped(pids: Iterable[int], timeout_s: float = 2.0) -> None:
    """Return once each of these processes (the fake's own children) is stopped or gone, or at the deadline."""
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                # The state is the field after the command's name, which ends at the last ")".
                state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                break
            if state in ("T", "t", "Z", "X"):
                break
            time.sleep(0.001)  # a signal takes microseconds to act; poll briefly, bounded by the deadline
