"""envd's file API, `GET /files` (download) and `POST /files` (upload), as in specs/e2b/envd/envd.yaml.

What the official SDK's `files.read` and `files.write` use. Uploads come as multipart/form-data (one
part named "file" per file, its filename the destination unless `?path=` names it) or as
application/octet-stream with `?path=` (optionally gzip-encoded). Paths are relative to the user's
home; /home/user is the sandbox workspace, which commands see too. Errors are envd's `Error` JSON.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import os
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mocks.e2b.errors import e2b_error
from mocks.e2b.state import SANDBOX_USERS, FakeE2B, Sandbox


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


def read_file(fake: FakeE2B, sandbox: Sandbox, path: str, user: str) -> tuple[PurePosixPath, bytes]:
    check_user(user)
    inside, host = fake.sandbox_path(sandbox, path, user)
    if host.is_dir():
        raise FileError(400, f"path '{inside}' is a directory")
    if not host.is_file():
        raise FileError(404, f"path '{inside}' does not exist")
    return inside, host.read_bytes()


def write_file(fake: FakeE2B, sandbox: Sandbox, path: str, user: str, data: bytes) -> dict[str, Any]:
    """Write (or overwrite) one file, creating its parent directories; returns its EntryInfo."""
    check_user(user)
    inside, host = fake.sandbox_path(sandbox, path, user)
    if host.is_dir():
        raise FileError(400, f"path '{inside}' is a directory")
    for parent in reversed(host.parents):
        if parent.exists() and not parent.is_dir():
            raise FileError(400, f"path '{parent.name}' is not a directory")
    host.parent.mkdir(parents=True, exist_ok=True)
    _write(host, data)
    return {"path": str(inside), "name": inside.name, "type": "file"}


def _write(host: Path, data: bytes) -> None:
    temporary = host.with_name(f".{host.name}.upload-{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, host)


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
            read_file, fake, sandbox, request.query_params.get("path", ""), request_user(request)
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
            entries.append(await run_in_threadpool(write_file, fake, sandbox, target, user, data))
    except FileError as error:
        return e2b_error(error.status, error.message)
    return JSONResponse(entries)
