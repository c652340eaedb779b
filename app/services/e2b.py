"""E2BSandboxService: sandbox lifecycle over E2B's REST API, commands over envd's Connect protocol.

Transient failures (connection errors, timeouts, 5xx, 429) of the REST calls are retried with the
service's RetryPolicy, and so is the start of a command while envd has not accepted it yet. Once a
command runs, it is never started again: a failure after that point is raised to the caller.
Files are read and written through envd's file API (`GET`/`POST /files`), whose calls are retried
like the REST calls: reading twice, or writing the same bytes twice, changes nothing.
"""

import asyncio
import base64
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from app.redaction import redact
from app.services.connect_stream import END_STREAM_FLAG, EnvelopeReader, ProtocolError, encode_envelope
from app.services.errors import (
    CommandTimeout,
    SandboxAuthError,
    SandboxError,
    SandboxFileError,
    SandboxNotRunning,
    SandboxQuotaExceeded,
    SandboxTimeout,
)
from app.services.retry import RetryPolicy, parse_retry_after, with_retries

ENVD_PORT = 49983
# The sandbox's user, whose home (/home/user) relative file paths start from.
SANDBOX_USER = "user"
# How long after its own timeout a command's stream may still take to end before it is abandoned
# (envd stops the command at the timeout and says so; this covers an envd that does not).
DEFAULT_COMMAND_GRACE_S = 10.0
OutputCallback = Callable[[str, str], Awaitable[None]]
_TRANSIENT_STREAM_CODES = ("unavailable", "resource_exhausted", "aborted")
# Listing sandboxes reads pages of this size, and no more than this many pages.
LIST_PAGE_SIZE = 100
MAX_LISTED_PAGES = 20


@dataclass(frozen=True)
class SandboxHandle:
    sandbox_id: str
    envd_access_token: str | None = field(default=None, repr=False)
    domain: str | None = None


@dataclass(frozen=True)
class RunningSandbox:
    sandbox_id: str
    metadata: dict[str, str]


@dataclass
class CommandResult:
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    chunks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _body_message(response: httpx.Response) -> str:
    """The service's own words about a failure: the JSON `message`, else the text, else the reason."""
    try:
        data = response.json()
    except ValueError:
        data = None
    message = data.get("message") if isinstance(data, dict) else None
    text = str(message) if message else response.text.strip()
    return (text or response.reason_phrase)[:300]


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
        command_grace_s: float = DEFAULT_COMMAND_GRACE_S,
    ) -> None:
        self._api = api
        self._envd = envd
        self._template = template
        self._sandbox_timeout_s = sandbox_timeout_s
        self._sandbox_url = sandbox_url.rstrip("/") if sandbox_url else None
        self._domain = domain
        self._retry = retry or RetryPolicy()
        self._command_grace_s = command_grace_s

    # -- lifecycle (REST) ---------------------------------------------------------------------------------
    async def create(self, metadata: dict[str, str] | None = None) -> SandboxHandle:
        """Start a sandbox from the template. Raises SandboxQuotaExceeded, SandboxTimeout, SandboxAuthError."""
        action = "creating a sandbox"
        # secure: envd accepts only requests carrying the sandbox's access token (X-Access-Token), which
        # the answer holds; without it anyone who knows the sandbox's id can run commands in it.
        body = {
            "templateID": self._template,
            "timeout": self._sandbox_timeout_s,
            "metadata": metadata or {},
            "secure": True,
        }

        async def attempt() -> SandboxHandle:
            response = await self._send("POST", "/sandboxes", action, json=body)
            if response.status_code != 201:
                hint = f"; check E2B_TEMPLATE ({self._template!r})" if response.status_code in (400, 404) else ""
                raise self._status_error(response, action, hint)
            try:
                data = response.json()
                return SandboxHandle(str(data["sandboxID"]), data.get("envdAccessToken"), data.get("domain"))
            except (ValueError, KeyError, TypeError) as error:
                raise SandboxError(
                    f"{action} failed: E2B answered 201 with a body that is not a sandbox "
                    f"({type(error).__name__}); the sandbox may exist and will expire at its timeout"
                ) from error

        return await with_retries(attempt, self._retry)

    async def destroy(self, sandbox_id: str) -> bool:
        """Kill the sandbox. Returns False when it was already gone, which is not an error."""
        action = f"destroying sandbox {sandbox_id}"

        async def attempt() -> bool:
            response = await self._send("DELETE", f"/sandboxes/{sandbox_id}", action)
            if response.status_code == 404:
                return False
            if response.status_code not in (200, 204):
                raise self._status_error(response, action)
            return True

        return await with_retries(attempt, self._retry)

    async def running_with_metadata(self, metadata: dict[str, str]) -> list[str]:
        """Ids of the running sandboxes carrying all of `metadata`.

        Finds a sandbox whose creation timed out on our side but happened on E2B's.
        """
        return [sandbox.sandbox_id for sandbox in await self.running_sandboxes(metadata)]

    async def running_sandboxes(self, metadata: dict[str, str]) -> list[RunningSandbox]:
        """The running sandboxes carrying all of `metadata`, with their metadata (GET /v2/sandboxes,
        every page, up to MAX_LISTED_PAGES of 100)."""
        action = "listing sandboxes"
        params = {"metadata": urlencode(metadata), "state": "running", "limit": str(LIST_PAGE_SIZE)}

        async def attempt(page: dict[str, str]) -> httpx.Response:
            response = await self._send("GET", "/v2/sandboxes", action, params=page)
            if response.status_code != 200:
                raise self._status_error(response, action)
            return response

        found: list[RunningSandbox] = []
        page = dict(params)
        for _ in range(MAX_LISTED_PAGES):
            response = await with_retries(functools.partial(attempt, page), self._retry)
            try:
                found += [
                    RunningSandbox(str(item["sandboxID"]), dict(item.get("metadata") or {})) for item in response.json()
                ]
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise SandboxError(f"{action} failed: E2B answered a body that is not a list of sandboxes") from error
            next_token = response.headers.get("X-Next-Token")
            if not next_token:
                break
            page = params | {"nextToken": next_token}
        return found

    async def _send(self, method: str, path: str, action: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._api.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise SandboxTimeout(
                f"{action} timed out: E2B did not answer in time ({type(error).__name__}); it may be overloaded",
                transient=True,
            ) from error
        except httpx.TransportError as error:
            raise SandboxError(
                self._clean(
                    f"{action} failed: cannot reach E2B at {self._api.base_url} ({type(error).__name__}: {error})"
                ),
                transient=True,
            ) from error

    def _status_error(self, response: httpx.Response, action: str, hint: str = "") -> SandboxError:
        status = response.status_code
        said = self._clean(_body_message(response))
        if status in (401, 403):
            return SandboxAuthError(
                f"{action} failed: E2B refused the API key (HTTP {status}: {said}); check E2B_API_KEY"
            )
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 429:
            return SandboxQuotaExceeded(
                f"{action} failed: E2B's sandbox quota or rate limit is reached (HTTP 429: {said}); "
                "wait for running sandboxes to finish, or raise the account's limit",
                transient=True,
                retry_after=retry_after,
            )
        if status >= 500:
            return SandboxError(
                f"{action} failed: E2B had a server error (HTTP {status}: {said})",
                transient=True,
                retry_after=retry_after,
            )
        return SandboxError(f"{action} failed: E2B refused the request (HTTP {status}: {said}){hint}")

    # -- commands (envd) ----------------------------------------------------------------------------------
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
        """Run `bash -l -c command` in the sandbox and collect its output as it streams.

        A non-zero exit code is returned, not raised. Raises CommandTimeout when the command runs past
        `timeout_s`, SandboxNotRunning when the sandbox is gone, SandboxError for anything else.
        """
        process: dict[str, Any] = {"cmd": "/bin/bash", "args": ["-l", "-c", command], "envs": envs or {}}
        if cwd:
            process["cwd"] = cwd
        url, headers = self._envd_target(sandbox)
        headers |= {"content-type": "application/connect+json", "connect-timeout-ms": str(int(timeout_s * 1000))}
        content = encode_envelope({"process": process, "stdin": False})
        deadline_s = timeout_s + self._command_grace_s

        async def start() -> httpx.Response:
            request = self._envd.build_request("POST", url, content=content, headers=headers, timeout=deadline_s)
            try:
                response = await self._envd.send(request, stream=True)
            except httpx.TimeoutException as error:
                raise SandboxError(
                    f"starting a command failed: the sandbox did not answer in time ({type(error).__name__})",
                    transient=True,
                ) from error
            except httpx.TransportError as error:
                raise SandboxError(
                    self._clean(
                        f"starting a command failed: cannot reach the sandbox ({type(error).__name__}: {error})",
                        sandbox,
                    ),
                    transient=True,
                ) from error
            if response.status_code != 200:
                await response.aread()
                await response.aclose()
                raise self._envd_status_error(response, sandbox)
            return response

        response = await with_retries(start, self._retry)
        try:
            async with asyncio.timeout(deadline_s):
                return await self._read_stream(response, sandbox, timeout_s, on_output)
        except (TimeoutError, httpx.TimeoutException) as error:
            raise CommandTimeout(
                f"the command timed out after {timeout_s:g} s (no end from the sandbox within {deadline_s:g} s)",
                transient=True,
            ) from error
        except httpx.TransportError as error:
            raise SandboxError(
                "lost the connection to the sandbox while the command ran; it may or may not have finished "
                f"({type(error).__name__})",
                transient=True,
            ) from error
        except ProtocolError as error:
            raise SandboxError(f"the sandbox's command stream is broken: envd sent {error}") from error
        finally:
            await response.aclose()

    async def _read_stream(
        self, response: httpx.Response, sandbox: SandboxHandle, timeout_s: float, on_output: OutputCallback | None
    ) -> CommandResult:
        result = CommandResult(exit_code=-1)
        reader = EnvelopeReader()
        ended = exited = False
        async for chunk in response.aiter_bytes():
            for flags, message in reader.feed(chunk):
                if flags & END_STREAM_FLAG:
                    self._raise_stream_error(message, sandbox, timeout_s)
                    ended = True
                    continue
                event = message.get("event") or {}
                exited = exited or "end" in event
                await _apply_event(event, result, on_output)
        if not ended:
            unfinished = f" ({reader.pending} bytes of an unfinished message)" if reader.pending else ""
            raise SandboxError(
                f"the sandbox closed the command stream before the command ended{unfinished}; it may or may not "
                "have finished",
                transient=True,
            )
        if not exited:
            raise SandboxError("the sandbox ended the command stream without the command's exit code")
        return result

    # -- files (envd) -------------------------------------------------------------------------------------
    async def read_file(self, sandbox: SandboxHandle, path: str) -> bytes:
        """The bytes of the file at `path` (absolute, or relative to /home/user).

        Raises SandboxFileError when there is no such file or it is a directory, SandboxNotRunning
        when the sandbox is gone, SandboxError for anything else.
        """
        action = f"reading {path} in sandbox {sandbox.sandbox_id}"

        async def attempt() -> bytes:
            response = await self._send_files(sandbox, "GET", action, path)
            if response.status_code != 200:
                raise self._files_error(response, sandbox, action)
            return response.content

        return await with_retries(attempt, self._retry)

    async def write_file(self, sandbox: SandboxHandle, path: str, data: bytes) -> None:
        """Create or replace the file at `path` (absolute, or relative to /home/user), and its parent
        directories. Raises as read_file does (SandboxFileError: the path is a directory)."""
        action = f"writing {path} in sandbox {sandbox.sandbox_id}"

        async def attempt() -> None:
            response = await self._send_files(
                sandbox, "POST", action, path, content=data, headers={"content-type": "application/octet-stream"}
            )
            if response.status_code != 200:
                raise self._files_error(response, sandbox, action)

        await with_retries(attempt, self._retry)

    async def _send_files(
        self, sandbox: SandboxHandle, method: str, action: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        url, headers = self._envd_target(sandbox, "/files")
        headers |= kwargs.pop("headers", {})
        try:
            return await self._envd.request(
                method, url, params={"path": path, "username": SANDBOX_USER}, headers=headers, **kwargs
            )
        except httpx.TimeoutException as error:
            raise SandboxError(
                f"{action} failed: the sandbox did not answer in time ({type(error).__name__})", transient=True
            ) from error
        except httpx.TransportError as error:
            raise SandboxError(
                self._clean(f"{action} failed: cannot reach the sandbox ({type(error).__name__}: {error})", sandbox),
                transient=True,
            ) from error

    def _files_error(self, response: httpx.Response, sandbox: SandboxHandle, action: str) -> SandboxError:
        # envd's refusals of the path itself; a gone sandbox is a 502 like its commands'.
        if response.status_code in (400, 404):
            return SandboxFileError(f"{action} failed: {self._clean(_body_message(response), sandbox)}")
        return self._envd_status_error(response, sandbox)

    def _envd_target(self, sandbox: SandboxHandle, path: str = "/process.Process/Start") -> tuple[str, dict[str, str]]:
        headers = {"X-Access-Token": sandbox.envd_access_token} if sandbox.envd_access_token else {}
        if self._sandbox_url:
            headers |= {"E2b-Sandbox-Id": sandbox.sandbox_id, "E2b-Sandbox-Port": str(ENVD_PORT)}
            return f"{self._sandbox_url}{path}", headers
        domain = sandbox.domain or self._domain
        return f"https://{ENVD_PORT}-{sandbox.sandbox_id}.{domain}{path}", headers

    def _envd_status_error(self, response: httpx.Response, sandbox: SandboxHandle) -> SandboxError:
        status = response.status_code
        said = self._clean(_body_message(response), sandbox)
        action = f"running a command in sandbox {sandbox.sandbox_id} failed"
        if status == 502 and "not found" in said:
            return SandboxNotRunning(f"{action}: the sandbox is not running (destroyed, or past its timeout)")
        if status == 401:
            return SandboxAuthError(f"{action}: the sandbox refused its access token (HTTP 401: {said})")
        if status == 429 or status >= 500:
            return SandboxError(
                f"{action}: the sandbox is unavailable (HTTP {status}: {said})",
                transient=True,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        return SandboxError(f"{action}: the sandbox refused the command (HTTP {status}: {said})")

    def _raise_stream_error(self, message: dict[str, Any], sandbox: SandboxHandle, timeout_s: float) -> None:
        error = message.get("error")
        if not error:
            return
        code = error.get("code", "unknown")
        text = self._clean(str(error.get("message", "")), sandbox)
        if code == "deadline_exceeded":
            raise CommandTimeout(
                f"the command timed out after {timeout_s:g} s and was stopped ({text})", transient=True
            )
        if code in _TRANSIENT_STREAM_CODES:
            raise SandboxError(f"the sandbox stopped the command ({code}: {text})", transient=True)
        raise SandboxError(f"the sandbox could not run the command ({code}: {text})")

    def _clean(self, text: str, sandbox: SandboxHandle | None = None) -> str:
        """`text` without the API key or the sandbox's access token."""
        secrets = [self._api.headers.get("x-api-key", "")]
        if sandbox is not None and sandbox.envd_access_token:
            secrets.append(sandbox.envd_access_token)
        return redact(text, secrets)


async def _apply_event(event: dict[str, Any], result: CommandResult, on_output: OutputCallback | None) -> None:
    if "data" in event:
        for stream in ("stdout", "stderr"):
            if stream in event["data"]:
                try:
                    text = base64.b64decode(event["data"][stream], validate=True).decode(errors="replace")
                except (ValueError, TypeError):
                    raise ProtocolError(f"{stream} that is not base64") from None
                setattr(result, stream, getattr(result, stream) + text)
                result.chunks.append((stream, text))
                if on_output:
                    await on_output(stream, text)
    elif "end" in event:
        exit_code = event["end"].get("exitCode", 0)
        if not isinstance(exit_code, int):
            raise ProtocolError(f"an exit code that is not a number ({exit_code!r})")
        result.exit_code = exit_code
