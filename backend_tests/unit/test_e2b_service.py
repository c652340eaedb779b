"""E2BSandboxService against the fake E2B (REST API and envd), mounted with respx.

Sandbox creation (success, quota error, timeout), command execution (stdout, stderr, exit codes,
per-command timeout), destruction (success, already destroyed), retry of transient failures, finding
running sandboxes by their metadata, and the messages E2B's and envd's refusals become.
"""

import asyncio
import base64
import json
import struct
import time

import httpx
import pytest
import respx

from app.services.e2b import CommandResult, SandboxHandle
from app.services.errors import (
    CommandFailed,
    CommandTimeout,
    SandboxAuthError,
    SandboxError,
    SandboxNotRunning,
    SandboxQuotaExceeded,
    SandboxTimeout,
)
from fixtures import http
from fixtures.credentials import CANARY_E2B_API_KEY

pytestmark = pytest.mark.unit

WRONG_KEY = "e2b_" + "badc0ffee" * 4 + "dead"  # a canary: nobody configured it


def connect_stream(*envelopes: tuple[int, dict | bytes]) -> bytes:
    """A Connect stream as envd sends it: per envelope a flag byte, a big-endian length, the JSON."""
    out = b""
    for flags, message in envelopes:
        payload = message if isinstance(message, bytes) else json.dumps(message).encode()
        out += struct.pack(">BI", flags, len(payload)) + payload
    return out


def stdout_event(text: str) -> tuple[int, dict]:
    return 0, {"event": {"data": {"stdout": base64.b64encode(text.encode()).decode()}}}


EXIT_0: tuple[int, dict] = (0, {"event": {"end": {"exitCode": 0, "exited": True, "status": "exit status 0"}}})
END_OK: tuple[int, dict] = (2, {})


def envd_answers(e2b_routes: respx.MockRouter, *bodies: bytes | httpx.Response) -> list[httpx.Request]:
    """Script envd's answers to process.Process/Start (the last one repeats); returns the requests seen."""
    seen: list[httpx.Request] = []
    answers = list(bodies)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(body, httpx.Response):
            return body
        return httpx.Response(200, content=body, headers={"content-type": "application/connect+json"})

    e2b_routes["process_start"].mock(side_effect=answer)
    return seen


# -- create ---------------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_create_starts_a_sandbox_from_the_template_with_its_metadata_and_lifetime(
    sandboxes, fake_e2b, e2b_routes
):
    handle = await sandboxes.create(metadata={"task_id": "t-1"})

    running = fake_e2b.get_sandbox(handle.sandbox_id)
    assert running is not None, f"{handle.sandbox_id} is not running in the fake"
    assert running.template_id == "base"
    assert running.metadata == {"task_id": "t-1"}
    # SANDBOX_TIMEOUT_S (300 here): E2B ends a sandbox nobody destroyed after that long.
    assert (running.end_at - running.started_at).total_seconds() == 300
    assert handle.envd_access_token == running.envd_access_token
    assert e2b_routes["create_sandbox"].call_count == 1


@pytest.mark.priority_p0
async def test_create_over_the_quota_retries_then_raises_quota_exceeded_with_e2bs_reason(
    sandboxes, fake_e2b, e2b_routes, monkeypatch, sleeps
):
    monkeypatch.setattr(fake_e2b, "max_concurrent", 1)
    await sandboxes.create()

    with pytest.raises(SandboxQuotaExceeded) as raised:
        await sandboxes.create()

    message = raised.value.message
    assert "maximum number of concurrent E2B sandboxes (1)" in message, message
    assert "wait for running sandboxes to finish" in message and "gave up after 3 attempts" in message
    assert e2b_routes["create_sandbox"].call_count == 1 + 3
    assert len(fake_e2b.running_sandboxes()) == 1


@pytest.mark.priority_p1
async def test_create_succeeds_when_a_quota_slot_frees_up_before_the_retry(sandboxes, fake_e2b, monkeypatch, sleeps):
    monkeypatch.setattr(fake_e2b, "max_concurrent", 1)
    first = await sandboxes.create()
    sleeps.hooks.append(lambda _: fake_e2b.kill_sandbox(first.sandbox_id))  # it finishes while we wait

    second = await sandboxes.create()

    assert fake_e2b.get_sandbox(second.sandbox_id) is not None
    assert len(sleeps.waits) == 1


@pytest.mark.priority_p0
async def test_create_that_times_out_is_retried_then_raises_sandbox_timeout(
    sandboxes, fake_e2b, e2b_routes, fail_first
):
    route = e2b_routes["create_sandbox"]
    fail_first(route, *(httpx.ReadTimeout("timed out") for _ in range(3)))

    with pytest.raises(SandboxTimeout) as raised:
        await sandboxes.create()

    assert raised.value.message == (
        "creating a sandbox timed out: E2B did not answer in time (ReadTimeout); it may be overloaded "
        "(gave up after 3 attempts)"
    )
    assert route.call_count == 3 and fake_e2b.running_sandboxes() == []


@pytest.mark.priority_p1
async def test_create_recovers_when_only_the_first_attempt_times_out(sandboxes, fake_e2b, e2b_routes, fail_first):
    fail_first(e2b_routes["create_sandbox"], httpx.ConnectTimeout("timed out"))

    handle = await sandboxes.create()

    assert fake_e2b.get_sandbox(handle.sandbox_id) is not None
    assert e2b_routes["create_sandbox"].call_count == 2


@pytest.mark.priority_p0
async def test_create_with_a_refused_api_key_is_not_retried_and_does_not_show_the_key(
    e2b_routes, make_sandboxes, sleeps
):
    async with http.AsyncClient(base_url="https://api.e2b.app", headers={"X-API-Key": WRONG_KEY}) as api:
        with pytest.raises(SandboxAuthError) as raised:
            await make_sandboxes(api=api).create()

    assert "check E2B_API_KEY" in raised.value.message and "Invalid API key" in raised.value.message
    assert WRONG_KEY not in str(raised.value)
    assert e2b_routes["create_sandbox"].call_count == 1 and sleeps.waits == []


@pytest.mark.priority_p2
async def test_create_refused_as_a_bad_request_names_the_template(make_sandboxes, fake_e2b, e2b_routes):
    fake_e2b.add_fault("create_sandbox", 400, body={"code": 400, "message": "template 'nope' not found"})

    with pytest.raises(SandboxError) as raised:
        await make_sandboxes(template="nope").create()

    assert raised.value.message == (
        "creating a sandbox failed: E2B refused the request (HTTP 400: template 'nope' not found); "
        "check E2B_TEMPLATE ('nope')"
    )
    assert not raised.value.transient and e2b_routes["create_sandbox"].call_count == 1


@pytest.mark.priority_p2
@pytest.mark.parametrize("kind", ["malformed", "not-a-sandbox"])
async def test_create_answered_with_an_unreadable_body_fails_without_retrying(sandboxes, fake_e2b, e2b_routes, kind):
    if kind == "malformed":
        fake_e2b.add_fault("create_sandbox", 201, kind="malformed")
    else:
        fake_e2b.add_fault("create_sandbox", 201, body={"templateID": "base"})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.create()

    assert "E2B answered 201 with a body that is not a sandbox" in raised.value.message
    assert e2b_routes["create_sandbox"].call_count == 1


# -- run ------------------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_run_returns_stdout_and_streams_it_to_on_output(sandboxes, sandbox, output):
    result = await sandboxes.run(sandbox, "echo hello; echo world", on_output=output)

    assert (result.exit_code, result.stdout, result.stderr) == (0, "hello\nworld\n", "")
    assert output.text == "hello\nworld\n" and {stream for stream, _ in output.chunks} == {"stdout"}


@pytest.mark.priority_p0
async def test_run_returns_stderr_apart_from_stdout(sandboxes, sandbox, output):
    result = await sandboxes.run(sandbox, "echo out; echo oops >&2", on_output=output)

    assert (result.stdout, result.stderr) == ("out\n", "oops\n")
    assert sorted(result.chunks) == [("stderr", "oops\n"), ("stdout", "out\n")]
    assert result.output == "out\noops\n"
    assert ("stderr", "oops\n") in output.chunks


@pytest.mark.priority_p1
async def test_output_that_is_not_utf8_arrives_with_replacement_characters(sandboxes, sandbox):
    result = await sandboxes.run(sandbox, r"printf 'caf\351 ok\n'")  # Latin-1 "é": not UTF-8

    assert result.stdout == "caf\ufffd ok\n"


@pytest.mark.priority_p0
@pytest.mark.parametrize("code", [1, 3, 128])
async def test_run_returns_a_non_zero_exit_code_without_raising(sandboxes, sandbox, code):
    result = await sandboxes.run(sandbox, f"echo failing >&2; exit {code}")

    assert result.exit_code == code and result.stderr == "failing\n"


@pytest.mark.priority_p1
async def test_run_uses_the_working_directory_and_environment_given(sandboxes, sandbox, fake_e2b):
    (fake_e2b.workspace(sandbox.sandbox_id) / "project").mkdir()

    result = await sandboxes.run(sandbox, 'echo "$(pwd) $GREETING"', cwd="/home/user/project", envs={"GREETING": "hi"})

    assert result.stdout.strip().endswith("/project hi"), result.stdout


@pytest.mark.priority_p0
async def test_run_past_its_timeout_is_stopped_and_raises_command_timeout(sandboxes, sandbox, e2b_routes):
    started = time.monotonic()

    with pytest.raises(CommandTimeout) as raised:
        await sandboxes.run(sandbox, "sleep 30", timeout_s=0.1)

    assert time.monotonic() - started < 5, "the command was not stopped at its timeout"
    assert raised.value.message.startswith("the command timed out after 0.1 s and was stopped")
    assert raised.value.transient
    assert e2b_routes["process_start"].call_count == 1, "a command that ran was started again"


@pytest.mark.priority_p1
async def test_run_whose_stream_never_ends_is_abandoned_at_its_deadline(make_sandboxes, sandbox, e2b_routes):
    async def first_output_then_silence():
        yield connect_stream(stdout_event("working...\n"))
        await asyncio.Event().wait()  # envd never says the command ended

    envd_answers(e2b_routes, httpx.Response(200, content=first_output_then_silence()))
    service = make_sandboxes(command_grace_s=0.05)

    with pytest.raises(CommandTimeout) as raised:
        await service.run(sandbox, "hang", timeout_s=0.05)

    assert raised.value.message == "the command timed out after 0.05 s (no end from the sandbox within 0.1 s)"


@pytest.mark.priority_p1
async def test_run_in_a_destroyed_sandbox_raises_sandbox_not_running(sandboxes, sandbox, e2b_routes):
    await sandboxes.destroy(sandbox.sandbox_id)

    with pytest.raises(SandboxNotRunning) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert raised.value.message == (
        f"running a command in sandbox {sandbox.sandbox_id} failed: the sandbox is not running "
        "(destroyed, or past its timeout)"
    )
    assert e2b_routes["process_start"].call_count == 1


@pytest.mark.priority_p1
async def test_run_with_a_refused_access_token_raises_without_showing_it(sandboxes, sandbox, fake_e2b):
    forged = SandboxHandle(sandbox.sandbox_id, "envd-canary-token-0000000000000007")

    with pytest.raises(SandboxAuthError) as raised:
        await sandboxes.run(forged, "echo hi")

    assert "the sandbox refused its access token (HTTP 401" in raised.value.message
    assert "envd-canary-token" not in str(raised.value) and "envd-canary-token" not in repr(forged)


@pytest.mark.priority_p0
@pytest.mark.parametrize("status", [429, 502, 503])
async def test_run_refused_before_the_command_started_is_retried(sandboxes, sandbox, fake_e2b, e2b_routes, status):
    fake_e2b.add_fault("process_start", status, times=2)

    result = await sandboxes.run(sandbox, "echo ran")

    assert result.stdout == "ran\n"
    assert e2b_routes["process_start"].call_count == 3


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("connection refused"), httpx.ConnectTimeout("timed out")],
    ids=["connect-error", "connect-timeout"],
)
async def test_run_that_cannot_reach_the_sandbox_is_retried_then_raised(sandboxes, sandbox, e2b_routes, failure):
    route = e2b_routes["process_start"]
    route.mock(side_effect=failure)

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert raised.value.message.startswith("starting a command failed: ")
    assert raised.value.transient and raised.value.attempts == 3 and route.call_count == 3


@pytest.mark.priority_p1
@pytest.mark.parametrize("status", [400, 404, 415])
async def test_run_refused_for_good_is_not_retried(sandboxes, sandbox, fake_e2b, e2b_routes, status):
    fake_e2b.add_fault("process_start", status, body="no such thing")

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert raised.value.message.endswith(f"the sandbox refused the command (HTTP {status}: no such thing)")
    assert not raised.value.transient and e2b_routes["process_start"].call_count == 1


@pytest.mark.priority_p1
async def test_run_whose_stream_breaks_off_is_not_started_again(sandboxes, sandbox, fake_e2b, e2b_routes):
    fake_e2b.add_fault("process_start", 200, kind="malformed")

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo once")

    assert raised.value.message == (
        "the sandbox closed the command stream before the command ended (22 bytes of an unfinished message); "
        "it may or may not have finished"
    )
    assert raised.value.transient
    assert e2b_routes["process_start"].call_count == 1, "a command that may have run was started again"


@pytest.mark.priority_p2
async def test_run_whose_stream_stops_between_messages_says_the_command_may_have_run(sandboxes, sandbox, e2b_routes):
    envd_answers(e2b_routes, connect_stream(stdout_event("done\n"), EXIT_0))  # no end-of-stream envelope

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo done")

    assert raised.value.message == (
        "the sandbox closed the command stream before the command ended; it may or may not have finished"
    )


@pytest.mark.priority_p1
async def test_run_that_envd_cannot_start_raises_envds_reason(sandboxes, sandbox):
    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "pwd", cwd="/home/user/does-not-exist")

    assert raised.value.message.startswith("the sandbox could not run the command (internal: error starting process")
    assert not raised.value.transient


@pytest.mark.priority_p2
@pytest.mark.parametrize("code", ["unavailable", "resource_exhausted", "aborted"])
async def test_run_stopped_by_an_unavailable_sandbox_is_a_transient_error(sandboxes, sandbox, e2b_routes, code):
    envd_answers(e2b_routes, connect_stream((2, {"error": {"code": code, "message": "sandbox is restarting"}})))

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert raised.value.message == f"the sandbox stopped the command ({code}: sandbox is restarting)"
    assert raised.value.transient


@pytest.mark.priority_p2
@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (connect_stream((0, b"{not json")), "envd sent a message that is not JSON"),
        (connect_stream((0, b"[1, 2]")), "envd sent a message that is not a JSON object"),
        (connect_stream((1, {"event": {}})), "envd sent a compressed message"),
        (connect_stream((0, {"event": {"data": {"stdout": "***"}}})), "envd sent stdout that is not base64"),
        (connect_stream((0, {"event": {"end": {"exitCode": "zero"}}})), "envd sent an exit code that is not a number"),
    ],
    ids=["not-json", "not-object", "compressed", "bad-base64", "bad-exit-code"],
)
async def test_run_with_a_broken_command_stream_raises_a_sandbox_error(sandboxes, sandbox, e2b_routes, stream, reason):
    envd_answers(e2b_routes, stream)

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert raised.value.message.startswith(f"the sandbox's command stream is broken: {reason}"), raised.value.message
    assert e2b_routes["process_start"].call_count == 1


@pytest.mark.priority_p2
async def test_run_accepts_an_end_of_stream_message_without_a_body(sandboxes, sandbox, e2b_routes):
    envd_answers(e2b_routes, connect_stream(stdout_event("ok\n"), EXIT_0, (2, b"")))

    result = await sandboxes.run(sandbox, "echo ok")

    assert (result.exit_code, result.stdout) == (0, "ok\n")


@pytest.mark.priority_p2
async def test_run_whose_stream_ends_without_an_exit_code_raises(sandboxes, sandbox, e2b_routes):
    envd_answers(e2b_routes, connect_stream(stdout_event("partial\n"), (0, {"event": {"keepalive": {}}}), END_OK))

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert raised.value.message == "the sandbox ended the command stream without the command's exit code"


@pytest.mark.priority_p2
@pytest.mark.parametrize(
    ("failure", "expected"),
    [(httpx.ReadError("reset by peer"), SandboxError), (httpx.ReadTimeout("read timed out"), CommandTimeout)],
    ids=["connection-lost", "read-timeout"],
)
async def test_run_that_loses_the_stream_midway_raises_without_starting_again(
    sandboxes, sandbox, e2b_routes, failure, expected
):
    async def output_then_failure():
        yield connect_stream(stdout_event("half\n"))
        raise failure

    envd_answers(e2b_routes, httpx.Response(200, content=output_then_failure()))

    with pytest.raises(expected) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert type(raised.value) is expected and raised.value.transient
    assert e2b_routes["process_start"].call_count == 1


@pytest.mark.priority_p2
async def test_run_reaches_envd_at_the_sandbox_domain_when_no_sandbox_url_is_set(make_sandboxes, e2b_routes):
    seen: list[httpx.Request] = []

    def envd(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=connect_stream(stdout_event("hi\n"), EXIT_0, END_OK))

    e2b_routes.route(host="49983-sbx1.sandboxes.example").mock(side_effect=envd)
    service = make_sandboxes(sandbox_url=None, domain="e2b.app")

    result = await service.run(SandboxHandle("sbx1", "tok-1", domain="sandboxes.example"), "echo hi")

    assert result == CommandResult(exit_code=0, stdout="hi\n", chunks=[("stdout", "hi\n")])
    assert str(seen[0].url) == "https://49983-sbx1.sandboxes.example/process.Process/Start"
    assert seen[0].headers["x-access-token"] == "tok-1" and "e2b-sandbox-id" not in seen[0].headers


@pytest.mark.priority_p2
async def test_run_sends_the_command_as_envd_expects_it(sandboxes, e2b_routes):
    seen = envd_answers(e2b_routes, connect_stream(EXIT_0, END_OK))

    await sandboxes.run(SandboxHandle("sbx2", None), "ls -la", timeout_s=2.5)

    request = seen[0]
    assert request.headers["content-type"] == "application/connect+json"
    assert request.headers["connect-timeout-ms"] == "2500"
    assert request.headers["e2b-sandbox-id"] == "sbx2" and "x-access-token" not in request.headers
    flags, length = struct.unpack(">BI", request.content[:5])
    assert flags == 0 and json.loads(request.content[5 : 5 + length]) == {
        "process": {"cmd": "/bin/bash", "args": ["-l", "-c", "ls -la"], "envs": {}},
        "stdin": False,
    }


# -- destroy --------------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_destroy_kills_the_sandbox(sandboxes, sandbox, fake_e2b):
    assert await sandboxes.destroy(sandbox.sandbox_id) is True

    assert fake_e2b.get_sandbox(sandbox.sandbox_id) is None
    assert [s.sandbox_id for s in fake_e2b.killed_sandboxes()] == [sandbox.sandbox_id]


@pytest.mark.priority_p0
async def test_destroying_an_already_destroyed_sandbox_returns_false_and_is_no_error(sandboxes, sandbox, e2b_routes):
    await sandboxes.destroy(sandbox.sandbox_id)

    assert await sandboxes.destroy(sandbox.sandbox_id) is False
    assert await sandboxes.destroy("never-existed") is False
    assert e2b_routes["kill_sandbox"].call_count == 3, "a 404 was retried"


@pytest.mark.priority_p1
async def test_destroy_retries_a_server_error(sandboxes, sandbox, fake_e2b, e2b_routes):
    fake_e2b.add_fault("kill_sandbox", 500, times=1)

    assert await sandboxes.destroy(sandbox.sandbox_id) is True

    assert e2b_routes["kill_sandbox"].call_count == 2


@pytest.mark.priority_p1
async def test_destroy_when_e2b_is_unreachable_raises_after_the_retries(sandboxes, sandbox, e2b_routes):
    e2b_routes["kill_sandbox"].mock(side_effect=httpx.ConnectError("Connection refused"))

    with pytest.raises(SandboxError) as raised:
        await sandboxes.destroy(sandbox.sandbox_id)

    assert raised.value.message == (
        f"destroying sandbox {sandbox.sandbox_id} failed: cannot reach E2B at https://api.e2b.app "
        "(ConnectError: Connection refused) (gave up after 3 attempts)"
    )


@pytest.mark.priority_p2
async def test_destroy_refused_for_the_key_is_an_auth_error(sandboxes, sandbox, fake_e2b, e2b_routes):
    fake_e2b.add_fault("kill_sandbox", 403)

    with pytest.raises(SandboxAuthError):
        await sandboxes.destroy(sandbox.sandbox_id)

    assert e2b_routes["kill_sandbox"].call_count == 1


# -- retry: transient only ------------------------------------------------------------------------------------


@pytest.mark.priority_p0
@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("Connection refused"), httpx.RemoteProtocolError("Server disconnected")],
    ids=["connect-error", "disconnected"],
)
async def test_connection_errors_are_retried(sandboxes, fake_e2b, e2b_routes, fail_first, failure):
    fail_first(e2b_routes["create_sandbox"], failure)

    handle = await sandboxes.create()

    assert fake_e2b.get_sandbox(handle.sandbox_id) is not None
    assert e2b_routes["create_sandbox"].call_count == 2


@pytest.mark.priority_p0
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_server_errors_and_429_are_retried(sandboxes, fake_e2b, e2b_routes, status, sleeps):
    fake_e2b.add_fault("create_sandbox", status, times=2)

    await sandboxes.create()

    assert e2b_routes["create_sandbox"].call_count == 3
    assert len(sleeps.waits) == 2 and all(wait <= 0.004 for wait in sleeps.waits), sleeps.waits


@pytest.mark.priority_p0
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
async def test_failures_that_are_not_transient_are_not_retried(sandboxes, fake_e2b, e2b_routes, status, sleeps):
    fake_e2b.add_fault("create_sandbox", status)

    with pytest.raises(SandboxError) as raised:
        await sandboxes.create()

    assert not raised.value.transient
    assert e2b_routes["create_sandbox"].call_count == 1 and sleeps.waits == []


@pytest.mark.priority_p1
async def test_the_wait_e2b_asks_for_in_retry_after_is_honoured(sandboxes, fake_e2b, sleeps):
    fake_e2b.add_fault("create_sandbox", 503, headers={"Retry-After": "7"}, times=1)

    await sandboxes.create()

    assert sleeps.waits == [7.0]


@pytest.mark.priority_p1
async def test_persistent_server_errors_give_up_after_the_policys_attempts(sandboxes, fake_e2b, e2b_routes):
    fake_e2b.add_fault("create_sandbox", 503)

    with pytest.raises(SandboxError) as raised:
        await sandboxes.create()

    assert raised.value.message == (
        "creating a sandbox failed: E2B had a server error (HTTP 503: Service unavailable) (gave up after 3 attempts)"
    )
    assert e2b_routes["create_sandbox"].call_count == 3


# -- secrets --------------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_the_api_key_never_appears_in_an_error_even_when_e2b_echoes_it(sandboxes, fake_e2b):
    fake_e2b.add_fault("create_sandbox", 500, body={"code": 500, "message": f"bad key {CANARY_E2B_API_KEY}"})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.create()

    assert CANARY_E2B_API_KEY not in str(raised.value) and CANARY_E2B_API_KEY not in repr(raised.value.args)
    assert "bad key ***" in raised.value.message


@pytest.mark.priority_p0
async def test_the_sandbox_access_token_never_appears_in_an_error_even_when_envd_echoes_it(
    sandboxes, sandbox, fake_e2b
):
    token = sandbox.envd_access_token
    fake_e2b.add_fault("process_start", 400, body=f"token {token} is not allowed here")

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert token not in str(raised.value) and "token *** is not allowed here" in raised.value.message
    assert token not in repr(sandbox)


@pytest.mark.priority_p2
def test_a_failed_command_keeps_its_exit_code_output_and_the_end_of_the_output_in_its_message():
    output = "x" * 1000 + "the actual reason\n"

    failed = CommandFailed("agent work", 2, output)

    assert (failed.exit_code, failed.output) == (2, output)
    assert failed.message.startswith("agent work exited with code 2: ") and failed.message.endswith("the actual reason")
    assert len(failed.message) < 560


# -- finding running sandboxes --------------------------------------------------------------------------------
# E2BSandboxService.running_with_metadata and running_sandboxes: the running sandboxes carrying all the
# given metadata, every page of them, and a failure to list them that says it was the listing.


@pytest.mark.priority_p1
async def test_only_running_sandboxes_with_all_the_metadata_are_found(sandboxes, fake_e2b):
    wanted = fake_e2b.create_sandbox(metadata={"task_id": "t-1", "squad_id": "s-1"})
    other_task = fake_e2b.create_sandbox(metadata={"task_id": "t-2", "squad_id": "s-1"})
    killed = fake_e2b.create_sandbox(metadata={"task_id": "t-1", "squad_id": "s-1"})
    fake_e2b.kill_sandbox(killed.sandbox_id)

    found = await sandboxes.running_with_metadata({"task_id": "t-1", "squad_id": "s-1"})

    assert found == [wanted.sandbox_id], f"expected only {wanted.sandbox_id}, found {found} (not {other_task})"


@pytest.mark.priority_p1
async def test_a_paused_sandbox_is_not_listed_as_running(sandboxes, fake_e2b):
    running = fake_e2b.create_sandbox(metadata={"task_id": "t-4"})
    paused = fake_e2b.create_sandbox(metadata={"task_id": "t-4"})
    fake_e2b.pause(paused.sandbox_id)  # someone paused it to look inside: it is theirs to end

    found = await sandboxes.running_with_metadata({"task_id": "t-4"})

    assert found == [running.sandbox_id]


@pytest.mark.priority_p1
async def test_a_listing_e2b_never_answers_says_it_was_the_listing(sandboxes, fake_e2b):
    fake_e2b.add_fault("list_sandboxes", kind="reset")

    with pytest.raises(SandboxError) as raised:
        await sandboxes.running_with_metadata({"task_id": "t-1"})

    assert raised.value.message.startswith("listing sandboxes ")


@pytest.mark.priority_p1
async def test_a_refused_listing_says_it_was_the_listing(sandboxes, fake_e2b):
    fake_e2b.add_fault("list_sandboxes", 400, body={"code": 400, "message": "bad metadata filter"})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.running_with_metadata({"task_id": "t-1"})

    assert raised.value.message == "listing sandboxes failed: E2B refused the request (HTTP 400: bad metadata filter)"


@pytest.mark.priority_p1
async def test_a_listing_that_fails_for_a_moment_is_retried(sandboxes, fake_e2b, sleeps):
    wanted = fake_e2b.create_sandbox(metadata={"task_id": "t-3"})
    fake_e2b.add_fault("list_sandboxes", 503, times=1)

    found = await sandboxes.running_with_metadata({"task_id": "t-3"})

    assert found == [wanted.sandbox_id] and len(sleeps.waits) == 1


@pytest.mark.priority_p1
async def test_a_listing_answered_with_something_else_than_a_list_says_so(sandboxes, fake_e2b):
    fake_e2b.add_fault("list_sandboxes", 200, body={"sandboxes": "somewhere"})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.running_with_metadata({"task_id": "t-1"})

    assert raised.value.message == "listing sandboxes failed: E2B answered a body that is not a list of sandboxes"


@pytest.mark.priority_p1
async def test_every_page_of_the_listing_is_read_with_each_sandboxs_metadata(
    sandboxes, fake_e2b, e2b_routes, monkeypatch
):
    monkeypatch.setattr("app.services.e2b.LIST_PAGE_SIZE", 2)
    created = [fake_e2b.create_sandbox(metadata={"task_id": f"t-{n}", "origin": "pipeline"}) for n in range(5)]

    found = await sandboxes.running_sandboxes({"origin": "pipeline"})

    listed = sorted((s.metadata["task_id"], s.sandbox_id) for s in found)
    assert listed == [(f"t-{n}", s.sandbox_id) for n, s in enumerate(created)]
    assert e2b_routes["list_sandboxes"].call_count == 3


@pytest.mark.priority_p1
async def test_the_listing_stops_after_its_page_cap(sandboxes, fake_e2b, e2b_routes, monkeypatch):
    monkeypatch.setattr("app.services.e2b.LIST_PAGE_SIZE", 2)
    monkeypatch.setattr("app.services.e2b.MAX_LISTED_PAGES", 2)
    for n in range(5):
        fake_e2b.create_sandbox(metadata={"task_id": f"t-{n}"})

    found = await sandboxes.running_sandboxes({})

    assert len(found) == 4 and e2b_routes["list_sandboxes"].call_count == 2


# -- what a refusal says --------------------------------------------------------------------------------------
# What an E2B or envd refusal turns into: which statuses are worth a retry, the wait they ask for, and a
# message that quotes the service's own words (cut to a readable length) and says what to do.


@pytest.mark.priority_p1
async def test_envd_answering_500_is_retried_and_reported_as_the_sandbox_unavailable(
    sandboxes, sandbox, fake_e2b, e2b_routes
):
    fake_e2b.add_fault("process_start", 500, body="envd fell over")

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert raised.value.transient and e2b_routes["process_start"].call_count == 3
    assert raised.value.message == (
        f"running a command in sandbox {sandbox.sandbox_id} failed: the sandbox is unavailable "
        "(HTTP 500: envd fell over) (gave up after 3 attempts)"
    )


@pytest.mark.priority_p1
async def test_envd_asking_to_retry_after_a_wait_is_waited_for(sandboxes, sandbox, fake_e2b, sleeps):
    fake_e2b.add_fault("process_start", 503, headers={"Retry-After": "7"}, times=1)

    result = await sandboxes.run(sandbox, "echo ran")

    assert result.stdout == "ran\n"
    assert sleeps.waits == [7.0], f"expected the 7 s envd asked for, waited {sleeps.waits}"


@pytest.mark.priority_p1
async def test_the_quota_message_says_what_to_do(sandboxes, fake_e2b):
    fake_e2b.add_fault("create_sandbox", 429, body={"code": 429, "message": "too many sandboxes"})

    with pytest.raises(SandboxQuotaExceeded) as raised:
        await sandboxes.create()

    assert raised.value.message == (
        "creating a sandbox failed: E2B's sandbox quota or rate limit is reached (HTTP 429: too many sandboxes); "
        "wait for running sandboxes to finish, or raise the account's limit (gave up after 3 attempts)"
    )


@pytest.mark.priority_p1
async def test_a_refusal_without_a_hint_ends_with_e2bs_words(sandboxes, sandbox, fake_e2b):
    fake_e2b.add_fault("kill_sandbox", 409, body={"code": 409, "message": "sandbox is busy"})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.destroy(sandbox.sandbox_id)

    assert raised.value.message == (
        f"destroying sandbox {sandbox.sandbox_id} failed: E2B refused the request (HTTP 409: sandbox is busy)"
    )


@pytest.mark.priority_p1
async def test_e2bs_words_are_cut_to_300_characters(sandboxes, fake_e2b):
    fake_e2b.add_fault("create_sandbox", 400, body="a" * 300 + "b" * 50)

    with pytest.raises(SandboxError) as raised:
        await sandboxes.create()

    assert "(HTTP 400: " + "a" * 300 + ")" in raised.value.message, raised.value.message
    assert "b" not in raised.value.message.split("(HTTP 400: ", 1)[1].split(")", 1)[0]


@pytest.mark.priority_p1
def test_a_failed_command_message_keeps_exactly_the_last_500_characters_of_the_output():
    output = "x" * 1000 + "y" * 499 + "\n"

    failed = CommandFailed("agent work", 2, output)

    assert failed.message == "agent work exited with code 2: " + "x" + "y" * 499


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    ("status", "said", "hint"),
    [
        # The fake starts any template; E2B answers an unknown one with 404 (or 400 for a bad name).
        (404, "template not found", "; check E2B_TEMPLATE ('no-such-template')"),
        (400, "bad template name", "; check E2B_TEMPLATE ('no-such-template')"),
        (409, "too many sandboxes starting", ""),
    ],
)
async def test_a_refused_creation_names_e2b_template_only_when_the_template_may_be_wrong(
    make_sandboxes, fake_e2b, status, said, hint
):
    sandboxes = make_sandboxes(template="no-such-template")
    fake_e2b.add_fault("create_sandbox", status, body={"code": status, "message": said})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.create()

    assert raised.value.message == f"creating a sandbox failed: E2B refused the request (HTTP {status}: {said}){hint}"
