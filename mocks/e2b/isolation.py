"""The fake E2B's sandboxes as Linux namespaces: made by bubblewrap, entered by nsenter.

A sandbox is a directory on the host that becomes `/` for its commands: `/home/user` (their home and
default working directory, as in E2B), `/tmp` and whatever else they or the files API write are its
own. The host's system directories the tools need (bash, git, python, coreutils) are mounted over it
read-only, with an /etc of copies of the few host files programs read; nothing else of the host is
visible.

Each sandbox has one set of namespaces (user, mount, PID, IPC, UTS and cgroup) for its whole life,
made when it is created: bubblewrap mounts its filesystem once and starts a small holder process as
the first process of its PID namespace. Every command enters those namespaces with nsenter, so a
sandbox's processes see each other and nothing else (`ps` lists the sandbox, as in E2B), a background
process outlives the command that started it, and killing the holder ends the sandbox: when a PID
namespace's first process dies, the kernel kills every other process in it, `setsid` daemons
included. The holder dies with the process that made it (--die-with-parent), so a fake that is
killed leaves nothing behind. Processes inside cannot kill the holder: a PID namespace's first
process ignores the signals its own namespace sends it.

Commands run as `user` (uid 1000) without capabilities. `root` requests run as uid 0 of a user
namespace nested in the sandbox's: its capabilities reach nothing the sandbox shares (not the
mounts, so /usr stays read-only). The network is the host's, so git reaches the fake GitHub on
loopback.

Why not one bubblewrap per command: each would mount the filesystem again (a few milliseconds every
command) and, with its own PID namespace, a background process would die with the command that
started it. And why no `--dev`: bubblewrap then moves its child into a second, nested user namespace
after mounting devpts, the other namespaces stay owned by the first, and nsenter cannot join them
("reassociate to namespace 'ns/ipc' failed"); /dev is built from the host's device nodes instead.

Where namespaces cannot be made (bubblewrap or nsenter missing, user namespaces disabled, a
container's seccomp or AppArmor profile), `check_isolation()` raises `IsolationUnavailable` naming
the cause and the fix: the fake never falls back to running commands on the host.
"""

from __future__ import annotations

import errno
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SANDBOX_UID = 1000
SANDBOX_GID = 1000
SANDBOX_USER = "user"
SANDBOX_HOME = PurePosixPath("/home/user")
ROOT_HOME = PurePosixPath("/root")
# Read-only from the host: where programs and their libraries live. Merged-/usr systems link /bin,
# /lib... into /usr (the sandbox gets the same links); older ones have real directories, mounted too.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Host files under /etc that programs read (name resolution, TLS roots, alternatives' links, shells),
# copied once per fake into the /etc every sandbox gets read-only: one mount rather than one per file
# (fifteen binds cost a sandbox's start about 7 ms).
SYSTEM_ETC = (
    "alternatives",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "resolv.conf",
    "nsswitch.conf",
    "localtime",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "mime.types",
    "gitconfig",
    "bash.bashrc",
    "profile",
    "inputrc",
)
# Device nodes a shell and its tools open; bound from the host's onto a private /dev.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# The accounts a sandbox knows (git, ssh and `whoami` look the current user up).
PASSWD = (
    f"root:x:0:0:root:{ROOT_HOME}:/bin/bash\n{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}::{SANDBOX_HOME}:/bin/bash\n"
)
GROUP = f"root:x:0:\n{SANDBOX_USER}:x:{SANDBOX_GID}:\n"
HOSTNAME = "e2b"
# The holder: the PID namespace's first process. It says it is ready once bubblewrap has mounted
# everything and executed it, then reaps the orphans the sandbox's commands leave (a namespace's
# first process adopts them) for as long as the sandbox lives.
HOLDER = "echo ready; exec </dev/null >/dev/null 2>&1; while :; do sleep infinity & wait; done"
STARTUP_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 10.0
# The namespaces a command joins (nsenter's option for each, /proc/<pid>/ns/ file of each).
JOINED = (("user", "user"), ("mount", "mnt"), ("pid", "pid"), ("ipc", "ipc"), ("uts", "uts"), ("cgroup", "cgroup"))
WHY = (
    "The fake E2B runs every sandbox command inside Linux namespaces made by bubblewrap (the `bwrap` "
    "command of Debian's `bubblewrap` package) and entered with nsenter (util-linux), and never runs them "
    "on the host instead."
)


class IsolationUnavailable(RuntimeError):
    """Namespaces cannot be made here; the message names the cause and the fix."""


class SandboxStartFailed(RuntimeError):
    """bubblewrap could not make one sandbox's namespaces (its message is bubblewrap's own)."""


def unavailable(cause: str, fix: str) -> IsolationUnavailable:
    return IsolationUnavailable(f"The fake E2B cannot make sandboxes here: {cause}. Fix: {fix}. {WHY}")


@dataclass(frozen=True)
class Tools:
    """The host's programs that make and enter sandboxes (absolute paths)."""

    bwrap: str
    nsenter: str


_probed: dict[str, Tools] = {}
_probe_lock = threading.Lock()


def check_isolation() -> Tools:
    """The tools, once a trial sandbox ran a command as `user` and as `root` (once per PATH and process).

    Raises IsolationUnavailable naming the cause and the fix; a failure is not remembered, so a fixed
    machine works without a restart.
    """
    search_path = os.environ.get("PATH", os.defpath)
    with _probe_lock:
        if search_path not in _probed:
            _probed[search_path] = _probe(search_path)
        return _probed[search_path]


def _probe(search_path: str) -> Tools:
    bwrap = shutil.which("bwrap", path=search_path)
    if bwrap is None:
        raise unavailable(
            "bubblewrap is not installed (no `bwrap` on PATH)",
            "install it: `sudo apt-get install bubblewrap` (`make system-packages` does it when run as root)",
        )
    nsenter = shutil.which("nsenter", path=search_path)
    if nsenter is None:
        raise unavailable(
            "nsenter is not installed (no `nsenter` on PATH)", "install util-linux: `sudo apt-get install util-linux`"
        )
    tools = Tools(bwrap, nsenter)
    with tempfile.TemporaryDirectory(prefix="fake-e2b-probe-") as probe:
        make_system_etc(Path(probe) / "etc")
        try:
            namespaces = SandboxNamespaces.start(Path(probe) / "root", Path(probe) / "etc", tools)
        except SandboxStartFailed as failed:
            cause, fix = namespace_refusal(str(failed))
            raise unavailable(cause, fix) from None
        try:
            for user, uid in (("user", SANDBOX_UID), ("root", 0)):
                with namespaces.command(["id", "-u"], cwd="/", env={"PATH": "/usr/bin:/bin"}, user=user) as launch:
                    result = subprocess.run(
                        launch.argv, pass_fds=launch.pass_fds, env={}, capture_output=True, text=True, timeout=30
                    )
                if result.returncode != 0 or result.stdout.strip() != str(uid):
                    message = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
                    raise unavailable(
                        f"nsenter could not run a command as {user} in a sandbox's namespaces ({message})",
                        "check that bwrap is not installed setuid root (`ls -l $(command -v bwrap)`) and that "
                        "nsenter is util-linux 2.28 or later (--preserve-credentials)",
                    )
        finally:
            namespaces.kill()
    return tools


def read_sysctl(name: str) -> str | None:
    """A kernel setting ("kernel.unprivileged_userns_clone"), None where this kernel has no such one."""
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return None


def in_a_container() -> bool:
    """Docker and Podman each leave a file of their own at the root of a container."""
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def namespace_refusal(bwrap_message: str) -> tuple[str, str]:
    """Why bubblewrap could not make namespaces here and what fixes it, from its message and the sysctls."""
    said = f"bubblewrap says: {bwrap_message.strip() or 'nothing'}"
    if read_sysctl("kernel.unprivileged_userns_clone") == "0":
        return (
            f"unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0; {said})",
            "`sudo sysctl -w kernel.unprivileged_userns_clone=1`",
        )
    if read_sysctl("user.max_user_namespaces") == "0":
        return (
            f"user namespaces are disabled (user.max_user_namespaces = 0; {said})",
            "`sudo sysctl -w user.max_user_namespaces=15000`",
        )
    if read_sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return (
            "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, "
            f"as on Ubuntu 24.04; {said})",
            "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (on GitHub's ubuntu-24.04 runners: "
            "a workflow step before the tests), or an AppArmor profile that allows bwrap `userns`",
        )
    in_container = in_a_container()
    if in_container and "mount proc" in bwrap_message.lower():
        return (
            f"this container's engine masks paths under /proc, so a sandbox cannot mount its own ({said})",
            "run the container with `--security-opt systempaths=unconfined` besides seccomp and AppArmor "
            "unconfined (Docker), or `--privileged` where the option cannot be passed (Compose v1)",
        )
    if in_container:
        return (
            f"this container's seccomp or AppArmor profile refuses to make namespaces ({said})",
            "run the container with `--security-opt seccomp=unconfined --security-opt apparmor=unconfined` "
            "(Docker, Podman) or `--privileged`; on an Ubuntu 24.04 host also "
            "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`",
        )
    return (
        f"the kernel refused to make user namespaces ({said})",
        "allow unprivileged user namespaces: `sudo sysctl -w kernel.unprivileged_userns_clone=1` (Debian), "
        "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu 24.04), "
        "`sudo sysctl -w user.max_user_namespaces=15000`; in a container, `--security-opt seccomp=unconfined "
        "--security-opt apparmor=unconfined`",
    )


# The holder's parent-death signal fires when the *thread* that started bubblewrap ends, not the
# process: one long-lived thread starts every holder, so a sandbox lives until it is killed or the
# process exits, whichever thread asked for it.
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-e2b-sandbox-spawner")


def make_system_etc(etc: Path) -> None:
    """Fill `etc` (a new directory) with what every sandbox's read-only /etc holds: its accounts, its
    name, and copies of the host files of SYSTEM_ETC that this process can read (links kept as links)."""
    etc.mkdir()
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    (etc / "hostname").write_text(f"{HOSTNAME}\n")
    (etc / "hosts").write_text(f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost ip6-localhost ip6-loopback\n")
    for name in SYSTEM_ETC:
        host, copy = Path("/etc", name), etc / name
        try:
            if host.is_symlink():
                copy.symlink_to(os.readlink(host))
            elif host.is_dir():
                shutil.copytree(host, copy, symlinks=True)
            elif host.is_file():
                shutil.copy2(host, copy)
        except (OSError, shutil.Error):  # what this user may not read (/etc/ssl/private) stays out
            continue


def lay_out(root: Path) -> None:
    """Make the sandbox's own part of its filesystem: home, /tmp, mount points."""
    for own in (SANDBOX_HOME, ROOT_HOME, PurePosixPath("/tmp"), PurePosixPath("/var/tmp"), PurePosixPath("/etc")):
        (root / own.relative_to("/")).mkdir(parents=True, exist_ok=True)
    for sticky in ("tmp", "var/tmp"):
        (root / sticky).chmod(0o1777)
    (root / "root").chmod(0o700)
    for directory in SYSTEM_DIRS:
        host, inside = Path(directory), root / directory.lstrip("/")
        if host.is_symlink():
            inside.symlink_to(os.readlink(host))
        elif host.is_dir():
            inside.mkdir(exist_ok=True)


def holder_command(root: Path, etc: Path, tools: Tools, info_fd: int) -> list[str]:
    args = [
        tools.bwrap,
        "--info-fd",
        str(info_fd),
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_GID),
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        HOSTNAME,
        "--die-with-parent",
        "--as-pid-1",
        "--bind",
        str(root),
        "/",
    ]
    for directory in SYSTEM_DIRS:
        host = Path(directory)
        if host.is_dir() and not host.is_symlink():
            args += ["--ro-bind", directory, directory]
    args += ["--ro-bind", str(etc), "/etc"]
    args += ["--proc", "/proc", "--tmpfs", "/dev"]
    for device in DEVICES:
        args += ["--dev-bind-try", f"/dev/{device}", f"/dev/{device}"]
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
        args += ["--symlink", target, f"/dev/{link}"]
    args += ["--symlink", "/proc/self/fd/2", "/dev/stderr", "--tmpfs", "/dev/shm"]
    args += ["--chdir", "/", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--", "/bin/sh", "-c", HOLDER]
    return args


@dataclass
class Launch:
    """A command line entering a sandbox, and the namespace descriptors it needs (its own copies)."""

    argv: list[str]
    pass_fds: tuple[int, ...]

    def close(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)


class SandboxNamespaces:
    """One sandbox's namespaces, held open from its creation until `kill()`."""

    def __init__(
        self,
        tools: Tools,
        holder: subprocess.Popen[bytes],
        first_pid: int,
        pidfd: int,
        ns_fds: dict[str, int],
        root_fd: int,
    ) -> None:
        self.tools = tools
        self._holder = holder
        self.first_pid = first_pid  # the host's pid of the PID namespace's first process
        self._pidfd = pidfd
        self._ns_fds = ns_fds  # nsenter option -> descriptor of that namespace
        self._root_fd = root_fd  # the sandbox's `/`, with its mounts
        self._pid_ns = _identity(os.fstat(ns_fds["pid"]))
        self._lock = threading.Lock()
        self._killed = False

    @classmethod
    def start(cls, root: Path, etc: Path, tools: Tools) -> SandboxNamespaces:
        """Lay out `root` (a new directory) and make a sandbox of it, with `etc` (make_system_etc) as its
        /etc. Raises SandboxStartFailed."""
        root.mkdir()
        lay_out(root)
        info_read, info_write = os.pipe()
        try:
            holder = _spawner.submit(
                subprocess.Popen,
                holder_command(root, etc, tools, info_write),
                pass_fds=(info_write,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,  # kept open for the sandbox's life: bubblewrap must never meet EPIPE
                start_new_session=True,
                env={"PATH": "/usr/bin:/bin"},
            ).result()
        except OSError as error:
            os.close(info_read)
            raise SandboxStartFailed(f"{tools.bwrap} could not be started: {error}") from None
        finally:
            os.close(info_write)
        assert holder.stdout is not None and holder.stderr is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        try:
            info = _read_to_end(info_read, deadline)
            ready = _read_line(holder.stdout.fileno(), deadline)
        finally:
            os.close(info_read)
        if ready != b"ready\n":
            holder.kill()
            holder.wait()
            message = holder.stderr.read().decode(errors="replace").strip()
            holder.stderr.close()
            holder.stdout.close()
            raise SandboxStartFailed(message or f"bubblewrap exited with status {holder.returncode}")
        holder.stdout.close()
        fds: list[int] = []
        try:
            first_pid = int(json.loads(info)["child-pid"])
            pidfd = os.pidfd_open(first_pid)
            fds.append(pidfd)
            ns_fds = {}
            for option, name in JOINED:
                # Without a cgroup namespace of its own (--unshare-cgroup-try), the sandbox has the host's,
                # which an unprivileged nsenter may not enter: commands simply stay in it.
                if name == "cgroup" and os.stat(f"/proc/{first_pid}/ns/cgroup") == os.stat("/proc/self/ns/cgroup"):
                    continue
                ns_fds[option] = os.open(f"/proc/{first_pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
                fds.append(ns_fds[option])
            root_fd = os.open(f"/proc/{first_pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            fds.append(root_fd)
            if _identity(os.fstat(ns_fds["pid"])) == _identity(os.stat("/proc/self/ns/pid")):
                raise SandboxStartFailed("bubblewrap's first process is not in a PID namespace of its own")
        except (OSError, ValueError, KeyError) as error:
            for fd in fds:
                os.close(fd)
            holder.kill()
            holder.wait()
            holder.stderr.close()
            raise SandboxStartFailed(f"the new sandbox's namespaces could not be opened: {error}") from None
        return cls(tools, holder, first_pid, pidfd, ns_fds, root_fd)

    # -- entering ---------------------------------------------------------------------------------------
    @contextmanager
    def command(self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], user: str) -> Iterator[Launch]:
        """The command line running `argv` in the sandbox as `user` ("user" or "root"), in `cwd` (a path
        inside), with exactly `env`; its descriptors are closed when the block ends (start it inside).

        The environment reaches the command through `env -i` inside the sandbox, not through nsenter's
        own: a variable such as LD_PRELOAD must never act on a process still on the host's side.
        """
        fds = self._dup_ns_fds()
        line = [self.tools.nsenter, "--preserve-credentials"]  # uid 1000 inside: the only one mapped
        line += [f"--{option}=/proc/self/fd/{fd}" for option, fd in fds.items()]
        line.append("--")
        if user == "root":
            line += ["/usr/bin/unshare", "--user", "--map-root-user", "--"]
        line += ["/usr/bin/env", "-i", "-C", cwd, "--", *(f"{key}={value}" for key, value in env.items()), *argv]
        launch = Launch(line, tuple(fds.values()))
        try:
            yield launch
        finally:
            launch.close()

    def _dup_ns_fds(self) -> dict[str, int]:
        # Copies, so that a kill() closing the originals while a command starts cannot hand nsenter a
        # descriptor number that meanwhile names something else (such as the host's own namespaces).
        with self._lock:
            if self._killed:
                raise ProcessLookupError(errno.ESRCH, "the sandbox was killed")
            return {option: os.dup(fd) for option, fd in self._ns_fds.items()}

    @contextmanager
    def root(self) -> Iterator[int]:
        """A descriptor of the sandbox's `/` as its commands see it (mounts included), for the block."""
        with self._lock:
            if self._killed:
                raise ProcessLookupError(errno.ESRCH, "the sandbox was killed")
            fd = os.dup(self._root_fd)
        try:
            yield fd
        finally:
            os.close(fd)

    # -- its processes -----------------------------------------------------------------------------------
    def processes(self) -> list[int]:
        """The host's pids of every process in the sandbox, its first one included."""
        found = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    same = _identity(os.stat(f"/proc/{entry.name}/ns/pid")) == self._pid_ns
                except OSError:  # gone, or not ours to inspect
                    continue
                if same:
                    found.append(int(entry.name))
        return found

    def signal(self, signum: int) -> None:
        """Send `signum` to every process in the sandbox (SIGSTOP to pause it, SIGCONT to resume it).

        A process forked while the sandbox is walked is caught by the next pass; each is signalled
        through a pidfd opened before its namespace is checked, so a pid reused meanwhile is never hit.
        """
        signalled: set[int] = set()
        for _ in range(5):
            fresh = [pid for pid in self.processes() if pid not in signalled]
            if not fresh:
                return
            for pid in fresh:
                signalled.add(pid)
                try:
                    pidfd = os.pidfd_open(pid)
                except OSError:
                    continue
                try:
                    if _identity(os.stat(f"/proc/{pid}/ns/pid")) == self._pid_ns:
                        signal.pidfd_send_signal(pidfd, signum)
                except OSError:
                    pass
                finally:
                    os.close(pidfd)

    def kill(self) -> None:
        """End the sandbox: its first process gets SIGKILL, so the kernel kills all the others. Returns
        once they are gone. Calling it again does nothing."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            # bubblewrap reaps its child and exits with it, which happens only once the kernel has killed
            # the rest of the namespace. Killed first, it would leave that child a zombie for the host's
            # init to reap, which in a container may never happen.
            try:
                self._holder.wait(EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._holder.kill()
                self._holder.wait()
            for fd in (self._pidfd, self._root_fd, *self._ns_fds.values()):
                os.close(fd)
            if self._holder.stderr is not None:
                self._holder.stderr.close()

    @property
    def alive(self) -> bool:
        with self._lock:
            return not self._killed and self._holder.poll() is None


def remove_tree(root: Path) -> None:
    """Delete a sandbox's directory, also what its commands made unreadable or unwritable (`chmod 000`)."""
    try:
        shutil.rmtree(root)
    except FileNotFoundError:
        return
    except OSError:
        try:
            _open_up(os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
        except OSError:
            pass
        shutil.rmtree(root, ignore_errors=True)


def _open_up(directory_fd: int) -> None:
    """Give the owner every right on the directories under `directory_fd` (closed after), never
    following a symbolic link out of the tree."""
    try:
        for entry in os.scandir(directory_fd):
            if entry.is_dir(follow_symlinks=False):
                try:
                    os.chmod(entry.name, stat.S_IRWXU, dir_fd=directory_fd)
                    _open_up(os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory_fd))
                except OSError:
                    continue
    finally:
        os.close(directory_fd)


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _read_to_end(fd: int, deadline: float) -> bytes:
    data = b""
    while chunk := _read_some(fd, deadline):
        data += chunk
    return data


def _read_line(fd: int, deadline: float) -> bytes:
    data = b""
    while not data.endswith(b"\n") and (chunk := _read_some(fd, deadline, 1)):
        data += chunk
    return data


def _read_some(fd: int, deadline: float, size: int = 4096) -> bytes:
    """What `fd` has to read, b"" at its end or once the deadline passed."""
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        return b""
    return os.read(fd, size)
