"""envd, the daemon inside a sandbox: GET /health, GET/POST /files and the Connect RPC `process.Process/Start`.

The official SDK, with E2B_SANDBOX_URL set, sends every envd call to that one URL and names the sandbox
in the `E2b-Sandbox-Id` header; the app dispatches on that header (its route table lists these handlers).
"""

from __future__ import annotations

import base64
import itertools
import secrets
from collections.abc import AsyncIterator
from contextlib import aclosing

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from mocks.common.operations import BODY_KEY
from mocks.e2b import files
from mocks.e2b.connect_protocol import (
    CONTENT_TYPE,
    UNAUTHENTICATED,
    ConnectError,
    decode_request,
    encode_envelope,
    end_of_stream,
    parse_timeout_ms,
)
from mocks.e2b.errors import ENVD_UNAUTHORIZED, e2b_error, envd_not_found, envd_sandbox_gone
from mocks.e2b.process import ProcessConfig, base_environment, end_event, run_process
from mocks.e2b.scripted import ScriptedCommand
from mocks.e2b.state import SANDBOX_USERS, FakeE2B, Sandbox, kill_process_group

SANDBOX_ID_HEADER = "e2b-sandbox-id"
ACCESS_TOKEN_HEADER = "x-access-token"
KEEPALIVE_HEADER = "keepalive-ping-interval"


def authorize(fake: FakeE2B, request: Request) -> Sandbox | Response:
    """The running sandbox the request names; envd of a `secure` sandbox also wants its access token."""
    sandbox_id = request.headers.get(SANDBOX_ID_HEADER, "")
    sandbox = fake.get_sandbox(sandbox_id)
    if sandbox is None:
        return envd_sandbox_gone(sandbox_id)
    token = sandbox.envd_access_token
    if token is not None and not secrets.compare_digest(request.headers.get(ACCESS_TOKEN_HEADER, ""), token):
        return e2b_error(401, ENVD_UNAUTHORIZED)
    return sandbox


class CommandStreamResponse(StreamingResponse):
    """A StreamingResponse that closes its generator when the client leaves (Starlette leaves it open),
    so the command is killed at once rather than whenever the generator is garbage collected."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


def error_stream(error: ConnectError) -> StreamingResponse:
    """A streaming call's error: HTTP 200 and the error in the end-of-stream envelope (Connect spec)."""

    async def body() -> AsyncIterator[bytes]:
        yield end_of_stream(error)

    return StreamingResponse(body(), media_type=CONTENT_TYPE)


SCRIPTED_PIDS = itertools.count(900_000)  # pids of scripted commands: no process has them here


async def scripted_stream(script: ScriptedCommand) -> AsyncIterator[bytes]:
    """The events a real run would stream: start, the scripted output, end with the scripted exit code."""
    yield encode_envelope({"event": {"start": {"pid": next(SCRIPTED_PIDS)}}})
    for name, text in (("stdout", script.stdout), ("stderr", script.stderr)):
        if text:
            yield encode_envelope({"event": {"data": {name: base64.b64encode(text.encode()).decode()}}})
    yield encode_envelope({"event": {"end": end_event(script.exit_code)}})
    yield end_of_stream()


async def health(fake: FakeE2B, request: Request) -> Response:
    sandbox_id = request.headers.get(SANDBOX_ID_HEADER, "")
    if fake.get_sandbox(sandbox_id) is None:
        return envd_sandbox_gone(sandbox_id)
    return Response(status_code=204)


async def process_start(fake: FakeE2B, request: Request) -> Response:
    sandbox = authorize(fake, request)
    if isinstance(sandbox, Response):
        return sandbox
    if request.headers.get("content-type", "").split(";")[0].strip() != CONTENT_TYPE:
        return Response(status_code=415, headers={"Accept-Post": CONTENT_TYPE})
    try:
        message = decode_request(await request.body())
        request.scope[BODY_KEY] = message  # the journal shows which command was started
        config = ProcessConfig.from_start_request(message)
        timeout_ms = parse_timeout_ms(request.headers.get("connect-timeout-ms"))
        keepalive_s = _keepalive_seconds(request.headers.get(KEEPALIVE_HEADER))
    except ConnectError as error:
        return error_stream(error)
    user = files.request_user(request)  # the SDK names it in Basic auth, "user" unless asked for root
    if user not in SANDBOX_USERS:
        return error_stream(ConnectError(UNAUTHENTICATED, f"invalid username: '{user}'"))
    script = fake.scripts.take(sandbox.sandbox_id, " ".join([config.cmd, *config.args]))
    if script is not None:
        return CommandStreamResponse(scripted_stream(script), media_type=CONTENT_TYPE)
    env = {**base_environment(user, sandbox.sandbox_id), **sandbox.env_vars, **config.envs}
    sandbox_id = sandbox.sandbox_id
    started: list[int] = []

    def on_start(pid: int) -> None:
        started.append(pid)
        if not fake.register_process(sandbox_id, pid):  # the sandbox was killed meanwhile
            kill_process_group(pid)

    async def body() -> AsyncIterator[bytes]:
        events = run_process(  # closed by aclosing: its finally kills a command still running
            config,
            namespaces=sandbox.namespaces,
            user=user,
            env=env,
            timeout_ms=timeout_ms,
            keepalive_s=keepalive_s,
            on_start=on_start,
        )
        try:
            async with aclosing(events):
                async for event in events:
                    yield encode_envelope({"event": event})
            yield end_of_stream()
        except ConnectError as error:
            yield end_of_stream(error)
        finally:
            for pid in started:
                fake.unregister_process(sandbox_id, pid)

    return CommandStreamResponse(body(), media_type=CONTENT_TYPE)


async def download_file(fake: FakeE2B, request: Request) -> Response:
    sandbox = authorize(fake, request)
    if isinstance(sandbox, Response):
        return sandbox
    return await files.download(fake, sandbox, request)


async def upload_file(fake: FakeE2B, request: Request) -> Response:
    sandbox = authorize(fake, request)
    if isinstance(sandbox, Response):
        return sandbox
    return await files.upload(fake, sandbox, request)


async def not_found(fake: FakeE2B, request: Request) -> Response:
    return envd_not_found()


def _keepalive_seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds and seconds > 0 else None
