"""The agent's tools, carried out in the task's sandbox: run_command, read_file, write_file, finish.

A call the model got wrong (arguments that are not a JSON object, a missing or mistyped argument, an
unknown argument or tool, a path leaving /home/user) is not carried out: its result is an error the
model can correct, and `ToolResult.malformed` says so. A call carried out is never an error of the
model's, whatever it found: a command exiting non-zero, a file that does not exist.

Everything the model and the events are sent back is cleaned of the platform's secrets first, then
cut to a bound (cutting first could leave half a secret that no longer matches).
"""

import json
import posixpath
import shlex
from dataclasses import dataclass
from typing import Any

from app.agent.prompt import TOOL_NAMES
from app.redaction import redact
from app.services.e2b import E2BSandboxService, OutputCallback, SandboxHandle
from app.services.errors import CommandTimeout, SandboxFileError
from app.services.git import REPO_DIR, WORKSPACE

# What of one command's output the board's terminal is sent (the model gets its start and end anyway):
# a command printing without end must not fill the events table.
TERMINAL_CHARS_PER_COMMAND = 20_000
# Argument name -> (accepted JSON types, what to call them, required).
_STRING = ((str,), "a string")
_SECONDS = ((int, float), "a number of seconds")
ARGUMENTS: dict[str, dict[str, tuple[tuple[type, ...], str, bool]]] = {
    "run_command": {"command": (*_STRING, True), "cwd": (*_STRING, False), "timeout_s": (*_SECONDS, False)},
    "read_file": {"path": (*_STRING, True)},
    "write_file": {"path": (*_STRING, True), "content": (*_STRING, True)},
    "finish": {"summary": (*_STRING, True)},
}


class ToolError(Exception):
    """A call the model made wrongly; the message is what it is told."""


@dataclass(frozen=True)
class ToolResult:
    content: str  # what the model is sent: cleaned and cut
    exit_code: int | None = None  # run_command's, when the command ended
    malformed: bool = False
    summary: str | None = None  # set by finish

    @property
    def finished(self) -> bool:
        return self.summary is not None


def shorten(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, keeping its start and its end (where errors are)."""
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-tail:]}"


def parse_arguments(name: str, raw: str) -> dict[str, Any]:
    """The call's arguments, checked against the tool's; raises ToolError saying what is wrong."""
    if name not in ARGUMENTS:
        raise ToolError(f"there is no tool {name!r}; the tools are {', '.join(TOOL_NAMES)}")
    try:
        arguments = json.loads(raw) if raw.strip() else {}
    except ValueError as error:
        raise ToolError(f"{name}: the arguments are not valid JSON ({error})") from None
    if not isinstance(arguments, dict):
        raise ToolError(f"{name}: the arguments must be a JSON object")
    expected = ARGUMENTS[name]
    unknown = sorted(set(arguments) - set(expected))
    if unknown:
        raise ToolError(f"{name}: unknown argument {unknown[0]!r}; it takes {', '.join(expected)}")
    for argument, (types, what, required) in expected.items():
        if argument not in arguments or arguments[argument] is None:
            if required:
                raise ToolError(f"{name}: the argument {argument!r} is required")
            arguments.pop(argument, None)
            continue
        value = arguments[argument]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ToolError(f"{name}: {argument!r} must be {what}")
    return arguments


def sandbox_path(path: str, what: str = "path") -> str:
    """`path` (relative to the repository, or absolute) as an absolute path inside /home/user."""
    if not path.strip() or "\x00" in path:
        raise ToolError(f"the {what} must be a non-empty path")
    resolved = posixpath.normpath(posixpath.join(REPO_DIR, path))
    if resolved != WORKSPACE and not resolved.startswith(f"{WORKSPACE}/"):
        raise ToolError(f"the {what} {path!r} leads outside {WORKSPACE}, where the agent may not go")
    return resolved


class Toolbox:
    """Carries out the model's tool calls in one sandbox. `on_output` gets a command's output as it
    streams (the board's terminal), already cleaned of secrets."""

    def __init__(
        self,
        sandboxes: E2BSandboxService,
        sandbox: SandboxHandle,
        *,
        secrets: tuple[str, ...],
        output_chars: int,
        command_timeout_s: float,
        on_output: OutputCallback | None = None,
    ) -> None:
        self._sandboxes = sandboxes
        self._sandbox = sandbox
        self._secrets = secrets
        self._output_chars = output_chars
        self._command_timeout_s = command_timeout_s
        self._on_output = on_output

    async def call(self, name: str, raw_arguments: str) -> ToolResult:
        try:
            arguments = parse_arguments(name, raw_arguments)
            if name == "finish":
                return ToolResult("finished", summary=self.clean(arguments["summary"]).strip())
            if name == "run_command":
                return await self._run_command(**arguments)
            if name == "read_file":
                return await self._read_file(sandbox_path(arguments["path"]))
            return await self._write_file(sandbox_path(arguments["path"]), arguments["content"])
        except ToolError as error:
            return ToolResult(f"error: {self.clean(str(error))}", malformed=True)

    def clean(self, text: str, limit: int | None = None) -> str:
        return shorten(redact(text, self._secrets), limit or self._output_chars)

    async def _run_command(self, command: str, cwd: str | None = None, timeout_s: float | None = None) -> ToolResult:
        if not command.strip():
            raise ToolError("run_command: the command is empty")
        if timeout_s is not None and timeout_s <= 0:
            raise ToolError("run_command: 'timeout_s' must be a number of seconds greater than 0")
        timeout = min(timeout_s or self._command_timeout_s, self._command_timeout_s)
        if cwd is not None:
            # bash stops before the command when the directory is missing, and says so, as it would for
            # a person (envd's own cwd would refuse to start the command instead). Relative to the
            # repository, where envd starts it: the path means the same whatever /home/user is mounted on.
            where = posixpath.relpath(sandbox_path(cwd, "cwd"), REPO_DIR)
            command = f"cd -- {shlex.quote(where)} || exit\n{command}"
        try:
            result = await self._sandboxes.run(
                self._sandbox, command, cwd=REPO_DIR, timeout_s=timeout, on_output=self._cleaned_output()
            )
        except CommandTimeout:
            return ToolResult(f"the command was stopped after {timeout:g} s, its time limit", exit_code=None)
        output = "".join(text for _, text in result.chunks) or "(no output)"
        return ToolResult(f"exit code: {result.exit_code}\n{self.clean(output)}", exit_code=result.exit_code)

    async def _read_file(self, path: str) -> ToolResult:
        try:
            data = await self._sandboxes.read_file(self._sandbox, path)
        except SandboxFileError as error:
            return ToolResult(f"error: cannot read {path}: {self.clean(error.message)}")
        if b"\x00" in data:
            return ToolResult(f"{path} is a binary file of {len(data)} bytes; it is not shown")
        return ToolResult(self.clean(data.decode(errors="replace")))

    async def _write_file(self, path: str, content: str) -> ToolResult:
        data = content.encode()
        try:
            await self._sandboxes.write_file(self._sandbox, path, data)
        except SandboxFileError as error:
            return ToolResult(f"error: cannot write {path}: {self.clean(error.message)}")
        return ToolResult(f"wrote {len(data)} bytes to {path}")

    def _cleaned_output(self) -> OutputCallback | None:
        """The terminal's callback for one command: cleaned, and silent past TERMINAL_CHARS_PER_COMMAND."""
        on_output = self._on_output
        if on_output is None:
            return None
        shown = 0

        async def cleaned(stream: str, text: str) -> None:
            nonlocal shown
            if shown >= TERMINAL_CHARS_PER_COMMAND:
                return
            text = redact(text, self._secrets)[: TERMINAL_CHARS_PER_COMMAND - shown]
            shown += len(text)
            if shown >= TERMINAL_CHARS_PER_COMMAND:
                text += "\n[... the rest of this command's output is not shown here ...]\n"
            await on_output(stream, text)

        return cleaned
