"""The create request's `secure`, as E2B's description has it: a secure sandbox's envd wants the access
token the create answer carries; any other sandbox's envd wants none, and its answer carries none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fixtures import http
from mocks.e2b.connect_protocol import CONTENT_TYPE, decode_envelopes, encode_envelope
from mocks.e2b.router import E2B_SANDBOX_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

SchemaCheck = Callable[..., None]


async def envd_calls(sandbox_id: str, **headers: str) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    """(a command's start, an upload, a download) at the sandbox's envd, with these headers."""
    named = {"E2b-Sandbox-Id": sandbox_id, **headers}
    start = encode_envelope({"process": {"cmd": "/bin/bash", "args": ["-c", "echo ran"]}})
    async with http.AsyncClient(base_url=E2B_SANDBOX_URL, headers=named) as envd:
        command = await envd.post("/process.Process/Start", content=start, headers={"Content-Type": CONTENT_TYPE})
        upload = await envd.post("/files", files=[("file", ("note.txt", b"kept"))])
        download = await envd.get("/files", params={"path": "note.txt"})
    return command, upload, download


def ran(command: httpx.Response) -> bool:
    events = [message.get("event", {}) for _, message in decode_envelopes(command.content)]
    return command.status_code == 200 and {"end": {"exited": True, "status": "exit status 0"}} in events


async def create(e2b_api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await e2b_api.post("/v2/sandboxes", json={"templateID": "base", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_secure_sandbox_has_a_token_that_its_envd_requires(
    e2b_api: httpx.AsyncClient, e2b_schema: SchemaCheck
) -> None:
    sandbox = await create(e2b_api, secure=True)
    token = sandbox["envdAccessToken"]

    refused = await envd_calls(sandbox["sandboxID"])
    wrong = await envd_calls(sandbox["sandboxID"], **{"X-Access-Token": token + "x"})
    allowed = await envd_calls(sandbox["sandboxID"], **{"X-Access-Token": token})
    detail = await e2b_api.get(f"/sandboxes/{sandbox['sandboxID']}")

    e2b_schema(sandbox, "Sandbox")
    assert isinstance(token, str) and len(token) >= 20
    assert [response.status_code for response in (*refused, *wrong)] == [401] * 6
    assert ran(allowed[0]) and allowed[1].status_code == 200 and allowed[2].content == b"kept"
    assert detail.json()["envdAccessToken"] == token


@pytest.mark.parametrize("body", [{}, {"secure": False}], ids=["secure-absent", "secure-false"])
async def test_a_sandbox_not_created_secure_has_no_token_and_its_envd_wants_none(
    e2b_api: httpx.AsyncClient, e2b_schema: SchemaCheck, body: dict[str, Any]
) -> None:
    sandbox = await create(e2b_api, **body)

    command, upload, download = await envd_calls(sandbox["sandboxID"])
    detail = await e2b_api.get(f"/sandboxes/{sandbox['sandboxID']}")

    e2b_schema(sandbox, "Sandbox")
    assert "envdAccessToken" not in sandbox and "envdAccessToken" not in detail.json()
    assert ran(command) and upload.status_code == 200 and download.content == b"kept"
