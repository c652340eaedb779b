"""Scripted commands: answers a test gives in advance for commands the sandbox would otherwise run for real.

A script names a regular expression searched in the command line (`cmd` and its arguments joined by
spaces, e.g. "/bin/bash -l -c git push origin main"), optionally one sandbox, and the output and exit
code to stream instead. `times=None` answers every matching command until cleared; the oldest script
that matches wins. For what git or a shell cannot be made to do on demand.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from mocks.common.book import Book


class InvalidScript(ValueError):
    pass


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


SCRIPT_FIELDS = frozenset({"pattern", "stdout", "stderr", "exit_code", "times", "sandbox"})


@dataclass(eq=False)
class ScriptedCommand:
    pattern: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    times: int | None = None
    sandbox: str | None = None  # only in this sandbox (None: any)
    id: int = 0
    used: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str) or not self.pattern:
            raise InvalidScript("pattern must be a non-empty regular expression")
        try:
            self._regex = re.compile(self.pattern)
        except re.error as error:
            raise InvalidScript(f"pattern is not a regular expression: {error}") from None
        if not isinstance(self.stdout, str) or not isinstance(self.stderr, str):
            raise InvalidScript("stdout and stderr must be strings")
        if isinstance(self.exit_code, bool) or not isinstance(self.exit_code, int) or not 0 <= self.exit_code <= 255:
            raise InvalidScript("exit_code must be an integer from 0 to 255")
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1
        ):
            raise InvalidScript("times must be a positive integer or null (until cleared)")
        if self.sandbox is not None and not isinstance(self.sandbox, str):
            raise InvalidScript("sandbox must be a sandbox id")

    @classmethod
    def from_json(cls, data: Any) -> ScriptedCommand:
        if not isinstance(data, dict):
            raise InvalidScript("a scripted command is a JSON object")
        unknown = set(data) - SCRIPT_FIELDS
        if unknown:
            raise InvalidScript(f"unknown fields: {', '.join(sorted(unknown))}")
        return cls(**{key: data[key] for key in SCRIPT_FIELDS if key in data and data[key] is not None})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, sandbox_id: str, command_line: str) -> bool:
        return (self.sandbox is None or self.sandbox == sandbox_id) and self._regex.search(command_line) is not None


class CommandScripts(Book[ScriptedCommand]):
    """The scripted commands; `take` picks the oldest that matches a command and counts its use."""

    def take(self, sandbox_id: str, command_line: str) -> ScriptedCommand | None:
        if not self._entries:
            return None
        with self._lock:
            for script in self._entries:
                if script.matches(sandbox_id, command_line):
                    script.used += 1
                    if script.times is not None and script.used >= script.times:
                        self._entries.remove(script)
                    return script
        return None
