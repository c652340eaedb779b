"""envd's file API, `GET /files` (download) and `POST /files` (upload), as in specs/e2b/envd/envd.yaml.

What the official SDK's `files.read` and `files.write` use. Uploads come as multipart/form-data (one
part named "file" per file, its filename the destination unless `?path=` names it) or as
application/octet-stream with `?path=` (optionally gzip-encoded). Paths are relative to the user's
home. Files are read and written in the sandbox's own filesystem, as its commands see it (rootfs.py):
/home/user/x, /tmp/x and /opt/x are what `cat` prints there, and the read-only system directories
(/usr...) refuse a write as envd refuses one it has no permission for. Errors are envd's `Error` JSON.
"""

from __future__ import annotations

import base64
import binascii
import errno
import gzip
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import PurePosixPath
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mocks.e2b.errors import e2b_error
from mocks.e2b.rootfs import SandboxPathError, read_bytes, write_bytes
from mocks.e2b.state import SANDBOX_USERS, FakeE2B, Sandbox, sandbox_path


class FileError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def request_user(request: Request) -> str:
    """`?username=`, else the user of `Authorization: Basic base64(user:)`, else the default user."""
    user = request.query_params.get("username")
    if user:
        return user
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[0] or "user"
        except (binascii.Error, UnicodeDecodeError):
            pass
    return "user"


def check_user(user: str) -> None:
    if user not in SANDBOX_USERS:
        raise FileError(401, f"error looking up user '{user}': user: unknown user {user}")


def read_file(sandbox: Sandbox, path: str, user: str) -> tuple[PurePosixPath, bytes]:
    check_user(user)
    inside = sandbox_path(path, user)
    try:
        with sandbox.namespaces.root() as root:
            return inside, read_bytes(root, inside)
    except ProcessLookupError:
        raise FileError(502, f"The sandbox {sandbox.sandbox_id} was not found") from None
    except SandboxPathError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            raise FileError(404, f"path '{inside}' does not exist") from None
        if error.errno == errno.EISDIR:
            raise FileError(400, f"path '{inside}' is a directory") from None
        if error.errno == errno.EINVAL:
            raise FileError(400, f"path '{inside}' is not a regular file") from None
        raise FileError(500, f"error opening file '{inside}': {error.call} {error.path}: {error.reason}") from None


def write_file(sandbox: Sandbox, path: str, user: str, data: bytes) -> dict[str, Any]:
    """Write (or overwrite) one file, creating its parent directories; returns its EntryInfo."""
    check_user(user)
    inside = sandbox_path(path, user)
    try:
        with sandbox.namespaces.root() as root:
            write_bytes(root, inside, data)
    except ProcessLookupError:
        raise FileError(502, f"The sandbox {sandbox.sandbox_id} was not found") from None
    except SandboxPathError as error:
        raise FileError(*write_refusal(inside, error)) from None
    return {"path": str(inside), "name": inside.name, "type": "file"}


def write_refusal(inside: PurePosixPath, error: SandboxPathError) -> tuple[int, str]:
    """envd's status and message for an upload the filesystem refused (its processFile's wording)."""
    if error.errno == errno.EISDIR:
        return 400, f"path '{inside}' is a directory"
    if error.errno == errno.ENOTDIR:
        return 400, f"path '{error.path.name}' is not a directory"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return 507, "not enough disk space available"
    if error.call == "mkdir":
        return 500, f"error ensuring directories: failed to create directory: mkdir {error.path}: {error.reason}"
    return 500, f"error opening file: {error.call} {error.path}: {error.reason}"


def multipart_files(content_type: str, body: bytes) -> list[tuple[str | None, bytes]]:
    """(filename, content) of every part named "file" of a multipart/form-data body."""
    message = BytesParser(EmailMessage, policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise FileError(400, "error parsing multipart form: no multipart boundary param in Content-Type")
    files = []
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        payload = part.get_payload(decode=True)
        files.append((part.get_filename(), payload if isinstance(payload, bytes) else b""))
    return files


async def download(fake: FakeE2B, sandbox: Sandbox, request: Request) -> Response:
    try:
        inside, data = await run_in_threadpool(
            read_file, sandbox, request.query_params.get("path", ""), request_user(request)
        )
    except FileError as error:
        return e2b_error(error.status, error.message)
    disposition = f'attachment; filename="{inside.name}"'
    return Response(data, 200, {"Content-Disposition": disposition}, media_type="application/octet-stream")


async def upload(fake: FakeE2B, sandbox: Sandbox, request: Request) -> Response:
    user = request_user(request)
    path = request.query_params.get("path")
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    try:
        if content_type.startswith("multipart/form-data"):
            parts = multipart_files(content_type, body)
            if not parts:
                raise FileError(400, "error parsing multipart form: no file part named 'file'")
            targets = [(path if path and len(parts) == 1 else filename, data) for filename, data in parts]
        elif content_type.split(";")[0].strip() == "application/octet-stream":
            if not path:
                raise FileError(400, "the path query parameter is required for an application/octet-stream upload")
            if request.headers.get("content-encoding", "").lower() == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError):
                    raise FileError(400, "error decompressing the gzip request body") from None
            targets = [(path, body)]
        else:
            raise FileError(400, f"unsupported Content-Type {content_type or '(none)'}")
        entries = []
        for target, data in targets:
            if not target:
                raise FileError(400, "a file part has no filename and no path was given")
            entries.append(await run_in_threadpool(write_file, sandbox, target, user, data))
    except FileError as error:
        return e2b_error(error.status, error.message)
    return JSONResponse(entries)
