"""envd's `process.Process/Start` over the Connect protocol (JSON codec), read as a raw stream of envelopes."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx

from fixtures import http
from fixtures.waiting import eventually
from mocks.e2b import FakeE2B, Sandbox
from mocks.e2b.connect_protocol import CONTENT_TYPE, FLAG_END_STREAM, HEADER, decode_envelopes, encode_envelope
from mocks.e2b.router import E2B_SANDBOX_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]


def start_request(command: str, **process: Any) -> bytes:
    return encode_envelope({"process": {"cmd": "/bin/bash", "args": ["-l", "-c", command], **process}, "stdin": False})


def envd_headers(sandbox: Sandbox, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": CONTENT_TYPE,
        "E2b-Sandbox-Id": sandbox.sandbox_id,
        "E2b-Sandbox-Port": "49983",
        "X-Access-Token": sandbox.envd_access_token,
        **extra,
    }


def events_and_end(body: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    envelopes = decode_envelopes(body)
    *messages, (last_flags, end) = envelopes
    assert last_flags == FLAG_END_STREAM, f"the stream must close with an end-of-stream envelope, got {envelopes}"
    assert all(flags == 0 for flags, _ in messages)
    return [message["event"] for _, message in messages], end


def output(events: list[dict[str, Any]], stream: str) -> str:
    chunks = [event["data"][stream] for event in events if stream in event.get("data", {})]
    return b"".join(base64.b64decode(chunk) for chunk in chunks).decode()


@dataclass
class RunningCommand:
    """A command whose stream is open: its pid, what the stream brought so far, and the rest of it."""

    pid: int
    received: bytes
    rest: AsyncIterator[bytes]

    async def read_to_end(self) -> bytes:
        async for chunk in self.rest:
            self.received += chunk
        return self.received


@contextlib.asynccontextmanager
async def command_that_printed_first(e2b_url: str, sandbox: Sandbox) -> AsyncIterator[RunningCommand]:
    """`echo first; exec sleep 30` started on the fake server's stream, once "first" has arrived (the
    command still runs); leaving closes the stream. Within 10 s."""
    async with http.AsyncClient(base_url=e2b_url, timeout=10) as client:
        with anyio.fail_after(10):
            async with client.stream(
                "POST",
                "/process.Process/Start",
                content=start_request("echo first; exec sleep 30"),
                headers=envd_headers(sandbox),
            ) as response:
                chunks = response.aiter_bytes()
                seen = b""
                async for chunk in chunks:
                    seen += chunk
                    if b"Zmlyc3QK" in seen:  # base64 of "first\n"
                        break
                _, length = HEADER.unpack_from(seen)
                pid = json.loads(seen[HEADER.size : HEADER.size + length])["event"]["start"]["pid"]
                yield RunningCommand(pid, seen, chunks)


async def start_in_process(sandbox: Any, command: str, **headers: str) -> httpx.Response:
    async with http.AsyncClient(base_url=E2B_SANDBOX_URL) as client:
        return await client.post(
            "/process.Process/Start", content=start_request(command), headers=envd_headers(sandbox, **headers)
        )


async def test_start_streams_start_data_end_then_end_of_stream_in_process(
    fake_e2b: FakeE2B, e2b_routes: respx.MockRouter
) -> None:
    sandbox = fake_e2b.create_sandbox()

    response = await start_in_process(sandbox, "echo out; echo err >&2; exit 4", **{"connect-timeout-ms": "10000"})

    assert (response.status_code, response.headers["content-type"]) == (200, CONTENT_TYPE)
    events, end = events_and_end(response.content)
    assert list(events[0]) == ["start"] and events[0]["start"]["pid"] > 0
    assert (output(events, "stdout"), output(events, "stderr")) == ("out\n", "err\n")
    assert events[-1] == {"end": {"exitCode": 4, "exited": True, "status": "exit status 4"}}
    assert end == {}
    assert e2b_routes["process_start"].call_count == 1
    assert fake_e2b.requests("process_start")[0].body["process"]["args"][-1] == "echo out; echo err >&2; exit 4"


async def test_a_command_exiting_0_ends_without_an_exit_code_as_connects_json_leaves_zero_out(
    fake_e2b: FakeE2B, e2b_routes: respx.MockRouter
) -> None:
    response = await start_in_process(fake_e2b.create_sandbox(), "true")

    events, _ = events_and_end(response.content)
    assert events[-1] == {"end": {"exited": True, "status": "exit status 0"}}


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"X-Access-Token": "wrong"}, 401), ({"E2b-Sandbox-Id": "nosuchsandbox"}, 502)],
    ids=["bad-access-token", "unknown-sandbox"],
)
async def test_start_is_refused_without_the_sandbox_access_token_or_sandbox(
    fake_e2b: FakeE2B, e2b_routes: respx.MockRouter, headers: dict[str, str], status: int
) -> None:
    sandbox = fake_e2b.create_sandbox()

    async with http.AsyncClient(base_url=E2B_SANDBOX_URL) as client:
        response = await client.post(
            "/process.Process/Start", content=start_request("true"), headers={**envd_headers(sandbox), **headers}
        )

    assert response.status_code == status
    if status == 502:
        assert "was not found" in response.json()["message"]  # what the SDK maps to SandboxNotRunningException


async def test_a_malformed_envelope_ends_the_stream_with_invalid_argument(
    fake_e2b: FakeE2B, e2b_routes: respx.MockRouter
) -> None:
    sandbox = fake_e2b.create_sandbox()

    async with http.AsyncClient(base_url=E2B_SANDBOX_URL) as client:
        response = await client.post(
            "/process.Process/Start", content=HEADER.pack(0, 50) + b"{}", headers=envd_headers(sandbox)
        )

    events, end = events_and_end(response.content)
    assert (response.status_code, events) == (200, [])
    assert end["error"]["code"] == "invalid_argument"


async def test_the_deadline_kills_the_command_and_ends_with_deadline_exceeded(fake_e2b: FakeE2B, e2b_url: str) -> None:
    sandbox = fake_e2b.create_sandbox()
    began = time.monotonic()

    async with http.AsyncClient(base_url=e2b_url, timeout=10) as client:
        response = await client.post(
            "/process.Process/Start",
            content=start_request("echo started; exec sleep 30"),
            headers=envd_headers(sandbox, **{"connect-timeout-ms": "300"}),
        )

    events, end = events_and_end(response.content)
    assert output(events, "stdout") == "started\n"
    assert end["error"]["code"] == "deadline_exceeded"
    assert time.monotonic() - began < 5
    assert not any("end" in event for event in events)


@pytest.mark.priority_p1
async def test_output_streams_while_the_command_runs_and_a_closed_stream_kills_it(
    fake_e2b: FakeE2B, e2b_url: str
) -> None:
    sandbox = fake_e2b.create_sandbox()

    async with command_that_printed_first(e2b_url, sandbox) as command:
        pass  # its output arrived while it runs; leaving closes the stream
    pid = command.pid

    def command_killed() -> None:
        processes = fake_e2b.snapshot()["sandboxes"][0]["processes"]
        assert processes == [], f"the command is still tracked as running: {processes}"
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} is still alive"

    eventually(command_killed, timeout=5, description="the command to be killed after the client left")


def process_state(pid: int) -> str:
    """The kernel's one-letter state of `pid` (R, S, T for stopped...)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


@pytest.mark.priority_p1
async def test_expiry_kills_a_running_command_and_pause_stops_it_until_connect(fake_e2b: FakeE2B, e2b_url: str) -> None:
    """The command's stream stays open while the sandbox is paused (SIGSTOP), continues after connect
    (SIGCONT), and ends with the kill when the sandbox expires."""
    sandbox = fake_e2b.create_sandbox(timeout=60)

    async with command_that_printed_first(e2b_url, sandbox) as command:

        def in_state(letter: str) -> None:
            state = process_state(command.pid)
            assert state == letter, f"process {command.pid} is {state}, not {letter}"

        fake_e2b.pause(sandbox.sandbox_id)
        eventually(lambda: in_state("T"), timeout=5, description="the paused sandbox's command to stop")
        fake_e2b.connect(sandbox.sandbox_id, timeout=60)
        eventually(lambda: in_state("S"), timeout=5, description="the resumed command to continue")
        fake_e2b.advance_time(61)
        assert fake_e2b.get_sandbox(sandbox.sandbox_id) is None  # any look at the fake applies expiry
        seen = await command.read_to_end()

    events, end = events_and_end(seen)
    assert events[-1] == {"end": {"exitCode": -1, "status": "signal: killed"}}  # exited false: left out
    assert end == {}


async def test_files_written_through_the_file_api_are_seen_by_commands(
    fake_e2b: FakeE2B, e2b_routes: respx.MockRouter
) -> None:
    sandbox = fake_e2b.create_sandbox()

    async with http.AsyncClient(base_url=E2B_SANDBOX_URL) as client:
        await client.post(
            "/files",
            files=[("file", ("in/data.txt", b"from the file api\n"))],
            headers={"E2b-Sandbox-Id": sandbox.sandbox_id, "X-Access-Token": sandbox.envd_access_token},
        )
        response = await client.post(
            "/process.Process/Start", content=start_request("cat in/data.txt"), headers=envd_headers(sandbox)
        )

    events, _ = events_and_end(response.content)
    assert output(events, "stdout") == "from the file api\n"


async def test_a_scripted_command_streams_the_scripted_output_instead_of_running(
    fake_e2b: FakeE2B, e2b_url: str
) -> None:
    sandbox = fake_e2b.create_sandbox()
    other = fake_e2b.create_sandbox()

    async with http.AsyncClient(base_url=e2b_url, timeout=10) as client:
        added = await client.post(
            "/_fake/commands",
            json={
                "pattern": r"git push",
                "stderr": " ! [rejected]        main -> main (non-fast-forward)\n",
                "exit_code": 1,
                "times": 1,
                "sandbox": sandbox.sandbox_id,
            },
        )
        elsewhere = await client.post(
            "/process.Process/Start", content=start_request("echo git push"), headers=envd_headers(other)
        )
        scripted = await client.post(
            "/process.Process/Start", content=start_request("git push origin main"), headers=envd_headers(sandbox)
        )
        used_up = await client.get("/_fake/commands")

    assert added.status_code == 201
    other_events, _ = events_and_end(elsewhere.content)
    assert output(other_events, "stdout") == "git push\n", "another sandbox runs the command for real"
    events, end = events_and_end(scripted.content)
    assert output(events, "stderr") == " ! [rejected]        main -> main (non-fast-forward)\n"
    assert events[-1] == {"end": {"exitCode": 1, "exited": True, "status": "exit status 1"}} and end == {}
    assert used_up.json() == []


async def test_a_user_envd_does_not_know_ends_the_stream_unauthenticated(
    fake_e2b: FakeE2B, e2b_routes: respx.MockRouter
) -> None:
    sandbox = fake_e2b.create_sandbox()

    response = await start_in_process(sandbox, "id", Authorization="Basic bWFsbG9yeTo=")  # "mallory:"

    events, end = events_and_end(response.content)
    assert (response.status_code, events) == (200, [])
    assert end["error"] == {"code": "unauthenticated", "message": "invalid username: 'mallory'"}
