"""A sandbox's filesystem as its commands see it, read and written from the host.

Everything starts at a descriptor of the sandbox's `/` taken from its namespaces (isolation.py), so
the read-only system directories mounted there are read-only here too and the files API and the
commands see one filesystem. A path is walked one component at a time, never letting the kernel
follow a symbolic link: a link is read and its target walked again from the sandbox's `/` (absolute)
or from where it stands (relative), and `..` never climbs above `/`. So a link a command planted
(`ln -s /work /home/user/w`) leads to the sandbox's /work, never the host's.

Failures raise SandboxPathError: an errno, the system call that met it and the path inside the sandbox.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

MAX_LINKS = 40  # as Linux's own path walk: past this many links, ELOOP
READ_CHUNK = 1 << 20


class SandboxPathError(OSError):
    """`call` ("open", "mkdir", "stat") failed with `errno` on `path` (inside the sandbox)."""

    def __init__(self, code: int, call: str, path: PurePosixPath | str) -> None:
        super().__init__(code, os.strerror(code), str(path))
        self.call = call
        self.path = PurePosixPath(path)

    @property
    def reason(self) -> str:
        """The error as Go words an errno ("no such file or directory"), as envd reports it."""
        text = os.strerror(self.errno or 0)
        return text[:1].lower() + text[1:]


@dataclass
class Found:
    """Where a path leads: the directory holding its last component (`directory`, an open descriptor
    the caller closes) and that component's `name` ("." when the path is that directory itself)."""

    directory: int
    name: str
    path: PurePosixPath  # the path walked, links followed

    def close(self) -> None:
        os.close(self.directory)


def _parts(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def find(root: int, path: PurePosixPath, *, make_parents: bool = False) -> Found:
    """Walk an absolute `path` from the sandbox's `root` descriptor, following links (the last one too).

    The last component need not exist. With `make_parents`, missing directories on the way are made
    (mode 0755, as envd makes them). Raises SandboxPathError.
    """
    walked: list[tuple[int, str]] = [(os.dup(root), "")]  # the directories walked through, `/` first
    pending = _parts(str(path))[::-1]  # components still to walk, the next one last
    links = 0

    def here() -> PurePosixPath:
        return PurePosixPath("/", *(name for _, name in walked[1:]))

    try:
        while pending:
            name = pending.pop()
            if name == "..":
                if len(walked) > 1:
                    os.close(walked.pop()[0])
                continue
            parent = walked[-1][0]
            try:
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            except FileNotFoundError:
                if not pending:
                    return Found(os.dup(parent), name, here() / name)
                if not make_parents:
                    raise SandboxPathError(errno.ENOENT, "stat", here() / name) from None
                try:
                    os.mkdir(name, 0o755, dir_fd=parent)
                except FileExistsError:
                    pass  # made meanwhile: walk it
                except OSError as error:
                    raise SandboxPathError(error.errno or errno.EIO, "mkdir", here() / name) from None
                pending.append(name)
                continue
            except OSError as error:
                raise SandboxPathError(error.errno or errno.EIO, "open", here() / name) from None
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                os.close(fd)
                links += 1
                if links > MAX_LINKS:
                    raise SandboxPathError(errno.ELOOP, "stat", path)
                try:
                    target = os.readlink(name, dir_fd=parent)
                except OSError as error:
                    raise SandboxPathError(error.errno or errno.EIO, "readlink", here() / name) from None
                if target.startswith("/"):
                    while len(walked) > 1:
                        os.close(walked.pop()[0])
                pending.extend(reversed(_parts(target)))
                continue
            if not pending:
                os.close(fd)
                return Found(os.dup(parent), name, here() / name)
            if not stat.S_ISDIR(mode):
                os.close(fd)
                raise SandboxPathError(errno.ENOTDIR, "stat", here() / name)
            walked.append((fd, name))
        return Found(os.dup(walked[-1][0]), ".", here())
    finally:
        for fd, _ in walked:
            os.close(fd)


def stat_path(root: int, path: PurePosixPath) -> os.stat_result:
    """What `path` is (links followed). Raises SandboxPathError (ENOENT when it does not exist)."""
    found = find(root, path)
    try:
        return os.stat(found.name, dir_fd=found.directory, follow_symlinks=False)
    except OSError as error:
        raise SandboxPathError(error.errno or errno.EIO, "stat", found.path) from None
    finally:
        found.close()


def read_bytes(root: int, path: PurePosixPath) -> bytes:
    """The content of the regular file at `path`. Raises SandboxPathError: EISDIR for a directory,
    EINVAL for anything else that is not a regular file (a FIFO, a device: reading could never end)."""
    found = find(root, path)
    try:
        try:
            fd = os.open(
                found.name,
                os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                dir_fd=found.directory,
            )
        except OSError as error:
            raise SandboxPathError(error.errno or errno.EIO, "open", found.path) from None
    finally:
        found.close()
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise SandboxPathError(errno.EISDIR, "read", found.path)
        if not stat.S_ISREG(mode):
            raise SandboxPathError(errno.EINVAL, "read", found.path)
        chunks = []
        while chunk := os.read(fd, READ_CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_bytes(root: int, path: PurePosixPath, data: bytes) -> PurePosixPath:
    """Write (or replace) the file at `path`, making its parent directories; returns where it went
    (links followed). The content is written aside and renamed over the file, so a command reading
    it meanwhile sees the old content or the new, never half. Raises SandboxPathError (EISDIR when
    `path` is a directory)."""
    found = find(root, path, make_parents=True)
    try:
        try:
            existing = os.stat(found.name, dir_fd=found.directory, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        except OSError as error:
            raise SandboxPathError(error.errno or errno.EIO, "stat", found.path) from None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise SandboxPathError(errno.EISDIR, "open", found.path)
        aside = f".upload-{secrets.token_hex(8)}"
        try:
            fd = os.open(
                aside,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o666,
                dir_fd=found.directory,
            )
        except OSError as error:
            raise SandboxPathError(error.errno or errno.EIO, "open", found.path) from None
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(aside, found.name, src_dir_fd=found.directory, dst_dir_fd=found.directory)
        except OSError as error:
            try:
                os.unlink(aside, dir_fd=found.directory)
            except OSError:
                pass
            raise SandboxPathError(error.errno or errno.EIO, "write", found.path) from None
        return found.path
    finally:
        found.close()


def find_executable(root: int, command: str, cwd: PurePosixPath, search_path: Iterable[str]) -> PurePosixPath:
    """The program a command names, as exec looks it up: a name with a slash is a path (from `cwd`
    when relative), any other is searched in the absolute directories of `search_path`. Raises
    SandboxPathError: ENOENT, or EACCES for something that is not an executable file."""
    if "/" in command:
        candidates = [cwd / command]
    else:
        candidates = [PurePosixPath(directory) / command for directory in search_path if directory.startswith("/")]
    refused: SandboxPathError | None = None
    for candidate in candidates:
        try:
            status = stat_path(root, candidate)
        except SandboxPathError as error:
            if error.errno not in (errno.ENOENT, errno.ENOTDIR):
                refused = refused or error
            continue
        if stat.S_ISREG(status.st_mode) and status.st_mode & 0o111:
            return candidate
        refused = refused or SandboxPathError(errno.EACCES, "exec", candidate)
    raise refused or SandboxPathError(errno.ENOENT, "exec", candidates[0] if candidates else command)
