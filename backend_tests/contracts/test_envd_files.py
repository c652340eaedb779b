"""envd's `GET /files` and `POST /files` on the fake E2B, as the SDK's files.read / files.write call them."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest
import respx

from fixtures import http
from mocks.e2b import FakeE2B, Sandbox
from mocks.e2b.router import E2B_SANDBOX_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

SchemaCheck = Callable[..., None]


@pytest.fixture
async def envd(e2b_routes: respx.MockRouter, sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    headers = {
        "E2b-Sandbox-Id": sandbox.sandbox_id,
        "E2b-Sandbox-Port": "49983",
        "X-Access-Token": sandbox.envd_access_token,
    }
    async with http.AsyncClient(base_url=E2B_SANDBOX_URL, headers=headers) as client:
        yield client


@pytest.mark.priority_p0
async def test_a_multipart_upload_writes_the_file_and_a_download_reads_it_back(
    envd: httpx.AsyncClient, fake_e2b: FakeE2B, sandbox: Sandbox, envd_schema: SchemaCheck
) -> None:
    written = await envd.post("/files", files=[("file", ("notes/todo.txt", b"ship it\n"))])
    read = await envd.get("/files", params={"path": "/home/user/notes/todo.txt"})

    assert written.status_code == 200
    envd_schema(written.json(), "EntryInfo", array=True)
    assert written.json() == [{"path": "/home/user/notes/todo.txt", "name": "todo.txt", "type": "file"}]
    assert (read.status_code, read.content) == (200, b"ship it\n")
    assert read.headers["content-type"] == "application/octet-stream"
    assert (fake_e2b.workspace(sandbox.sandbox_id) / "notes" / "todo.txt").read_bytes() == b"ship it\n"


async def test_an_octet_stream_upload_may_be_gzip_encoded_and_overwrites(envd: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    await envd.post("/files", params={"path": "data.bin"}, content=b"old", headers=headers)

    written = await envd.post(
        "/files",
        params={"path": "data.bin"},
        content=gzip.compress(b"\x00new bytes\xff"),
        headers={**headers, "Content-Encoding": "gzip"},
    )
    read = await envd.get("/files", params={"path": "data.bin"})

    assert written.json()[0]["path"] == "/home/user/data.bin"
    assert read.content == b"\x00new bytes\xff"


async def test_several_parts_write_several_files_named_by_their_filenames(envd: httpx.AsyncClient) -> None:
    written = await envd.post("/files", files=[("file", ("a.txt", b"A")), ("file", ("/home/user/b/c.txt", b"C"))])

    assert [entry["path"] for entry in written.json()] == ["/home/user/a.txt", "/home/user/b/c.txt"]
    assert (await envd.get("/files", params={"path": "b/c.txt"})).content == b"C"


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("missing.txt", 404, "path '/home/user/missing.txt' does not exist"),
        ("/home/user", 400, "path '/home/user' is a directory"),
    ],
    ids=["missing", "directory"],
)
async def test_download_errors_are_envds_error_json(
    envd: httpx.AsyncClient, envd_schema: SchemaCheck, path: str, status: int, message: str
) -> None:
    response = await envd.get("/files", params={"path": path})

    assert response.status_code == status
    envd_schema(response.json(), "Error")
    assert response.json() == {"code": status, "message": message}


async def test_an_unknown_user_gets_401(envd: httpx.AsyncClient) -> None:
    response = await envd.get("/files", params={"path": "x", "username": "mallory"})

    assert response.status_code == 401
    assert response.json()["message"] == "error looking up user 'mallory': user: unknown user mallory"


async def test_a_wrong_access_token_gets_envds_401_json(envd: httpx.AsyncClient) -> None:
    response = await envd.get("/files", params={"path": "x"}, headers={"X-Access-Token": "wrong"})

    assert response.status_code == 401
    assert response.json() == {
        "code": 401,
        "message": "unauthorized access, please provide a valid access token or method signing if supported",
    }


async def test_paths_outside_home_stay_inside_the_fake(
    envd: httpx.AsyncClient, fake_e2b: FakeE2B, sandbox: Sandbox
) -> None:
    name = f"/tmp/written-by-{sandbox.sandbox_id}.txt"

    written = await envd.post(
        "/files", params={"path": name}, content=b"x", headers={"Content-Type": "application/octet-stream"}
    )
    read = await envd.get("/files", params={"path": name})

    assert (written.status_code, read.content) == (200, b"x")
    assert not await anyio.Path(name).exists(), "the host's own /tmp must not be written"


async def test_a_bad_upload_content_type_gets_400(envd: httpx.AsyncClient) -> None:
    response = await envd.post("/files", params={"path": "a.txt"}, content=b"x", headers={"Content-Type": "text/plain"})

    assert (response.status_code, response.json()["code"]) == (400, 400)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/usr/planted.txt", "error opening file: open /usr/planted.txt: read-only file system"),
        (
            "/usr/share/new-dir/planted.txt",
            "error ensuring directories: failed to create directory: mkdir /usr/share/new-dir: read-only file system",
        ),
    ],
    ids=["file", "directory"],
)
async def test_an_upload_into_a_read_only_system_directory_is_envds_permission_error(
    envd: httpx.AsyncClient, envd_schema: SchemaCheck, path: str, message: str
) -> None:
    response = await envd.post(
        "/files", params={"path": path}, content=b"x", headers={"Content-Type": "application/octet-stream"}
    )

    assert response.status_code == 500
    envd_schema(response.json(), "Error")
    assert response.json() == {"code": 500, "message": message}
