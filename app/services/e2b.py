"""E2BSandboxService: sandbox lifecycle over E2B's REST API, commands over envd's Connect protocol."""

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.services.connect_stream import END_STREAM_FLAG, EnvelopeReader, encode_envelope
from app.services.errors import SandboxError
from app.services.retry import RetryPolicy, with_retries

ENVD_PORT = 49983
OutputCallback = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True)
class SandboxHandle:
    sandbox_id: str
    envd_access_token: str | None
    domain: str | None = None


@dataclass
class CommandResult:
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    chunks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _status_error(response: httpx.Response, action: str) -> SandboxError:
    try:
        message = response.json().get("message") or response.text
    except ValueError:
        message = response.text
    status = response.status_code
    transient = status == 429 or status >= 500
    retry_after = _retry_after(response)
    if status == 401:
        message = f"E2B refused the API key ({message}); check E2B_API_KEY"
    elif status == 429:
        message = f"E2B sandbox quota reached ({message})"
    return SandboxError(f"{action} failed: HTTP {status}: {message}", transient=transient, retry_after=retry_after)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class E2BSandboxService:
    def __init__(
        self,
        api: httpx.AsyncClient,
        envd: httpx.AsyncClient,
        *,
        template: str,
        sandbox_timeout_s: int,
        sandbox_url: str | None,
        domain: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._api = api
        self._envd = envd
        self._template = template
        self._sandbox_timeout_s = sandbox_timeout_s
        self._sandbox_url = sandbox_url.rstrip("/") if sandbox_url else None
        self._domain = domain
        self._retry = retry or RetryPolicy()

    async def create(self, metadata: dict[str, str] | None = None) -> SandboxHandle:
        body = {"templateID": self._template, "timeout": self._sandbox_timeout_s, "metadata": metadata or {}}

        async def attempt() -> SandboxHandle:
            try:
                response = await self._api.post("/sandboxes", json=body)
            except httpx.TimeoutException as error:
                raise SandboxError("creating the sandbox timed out", transient=True) from error
            except httpx.TransportError as error:
                raise SandboxError(f"cannot reach E2B: {error!r}", transient=True) from error
            if response.status_code != 201:
                raise _status_error(response, "creating the sandbox")
            data = response.json()
            return SandboxHandle(data["sandboxID"], data.get("envdAccessToken"), data.get("domain"))

        return await with_retries(attempt, self._retry)

    async def destroy(self, sandbox_id: str) -> bool:
        """Kill the sandbox. Returns False when it was already gone, which is not an error."""

        async def attempt() -> bool:
            try:
                response = await self._api.delete(f"/sandboxes/{sandbox_id}")
            except httpx.TransportError as error:
                raise SandboxError(f"cannot reach E2B to destroy {sandbox_id}: {error!r}", transient=True) from error
            if response.status_code == 404:
                return False
            if response.status_code != 204:
                raise _status_error(response, f"destroying sandbox {sandbox_id}")
            return True

        return await with_retries(attempt, self._retry)

    async def run(
        self,
        sandbox: SandboxHandle,
        command: str,
        *,
        cwd: str | None = None,
        envs: dict[str, str] | None = None,
        timeout_s: float = 120.0,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        """Run `bash -l -c command` in the sandbox and collect its output as it streams."""
        process: dict[str, Any] = {"cmd": "/bin/bash", "args": ["-l", "-c", command], "envs": envs or {}}
        if cwd:
            process["cwd"] = cwd
        url, headers = self._envd_target(sandbox)
        headers |= {
            "content-type": "application/connect+json",
            "connect-timeout-ms": str(int(timeout_s * 1000)),
        }
        request_body = encode_envelope({"process": process, "stdin": False})
        result = CommandResult(exit_code=-1)
        reader = EnvelopeReader()
        ended = False
        try:
            async with self._envd.stream(
                "POST", url, content=request_body, headers=headers, timeout=timeout_s + 10
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _status_error(response, "running a command")
                async for chunk in response.aiter_bytes():
                    for flags, message in reader.feed(chunk):
                        if flags & END_STREAM_FLAG:
                            _raise_stream_error(message)
                            ended = True
                            continue
                        await self._apply_event(message.get("event") or {}, result, on_output)
        except httpx.TimeoutException as error:
            raise SandboxError(f"command timed out after {timeout_s:.0f} s", transient=True) from error
        except httpx.TransportError as error:
            raise SandboxError(f"lost the connection to the sandbox: {error!r}", transient=True) from error
        if not ended:
            raise SandboxError("the sandbox closed the command stream before it ended", transient=True)
        return result

    def _envd_target(self, sandbox: SandboxHandle) -> tuple[str, dict[str, str]]:
        headers = {"X-Access-Token": sandbox.envd_access_token} if sandbox.envd_access_token else {}
        if self._sandbox_url:
            headers |= {"E2b-Sandbox-Id": sandbox.sandbox_id, "E2b-Sandbox-Port": str(ENVD_PORT)}
            return f"{self._sandbox_url}/process.Process/Start", headers
        domain = sandbox.domain or self._domain
        return f"https://{ENVD_PORT}-{sandbox.sandbox_id}.{domain}/process.Process/Start", headers

    @staticmethod
    async def _apply_event(event: dict[str, Any], result: CommandResult, on_output: OutputCallback | None) -> None:
        if "data" in event:
            for stream in ("stdout", "stderr"):
                if stream in event["data"]:
                    text = base64.b64decode(event["data"][stream]).decode(errors="replace")
                    setattr(result, stream, getattr(result, stream) + text)
                    result.chunks.append((stream, text))
                    if on_output:
                        await on_output(stream, text)
        elif "end" in event:
            result.exit_code = int(event["end"].get("exitCode", 0))


def _raise_stream_error(message: dict[str, Any]) -> None:
    error = message.get("error")
    if not error:
        return
    code = error.get("code", "unknown")
    text = error.get("message", "")
    if code == "deadline_exceeded":
        raise SandboxError(f"command timed out in the sandbox: {text}", transient=True)
    if code in ("unavailable", "resource_exhausted", "aborted"):
        raise SandboxError(f"sandbox unavailable ({code}): {text}", transient=True)
    raise SandboxError(f"command failed in the sandbox ({code}): {text}")
