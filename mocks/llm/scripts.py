"""Scripted conversations: the model's turns a test writes in advance, for the conversation they belong to.

A script names a `match`, a string searched (case-sensitively) in the opening of a conversation: the
text of its messages before the first assistant message (the system, developer and user prompts, where
the platform names the task). A conversation is bound to the oldest script that matches it the first
time the fake sees it, and keeps that script. Its turn is the number of assistant messages the request
already holds, so the same request asked again (a retry after a 429, a timeout) gets the same answer.

A turn is what the model answers once: `content` and/or `tool_calls`, optionally `finish_reason` and
`usage` overrides and a `delay_ms` before its first token. A turn's `error` (an HTTP status and OpenAI's
error fields) is answered `times` times to the requests for that turn before its answer is given. A
turn with only an error is no answer of its own: its error goes before the answer of the turn after it
(`[Turn.fail(429), Turn.call("run_command", ...)]`: the first request is refused with 429, its retry
gets the tool call).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from mocks.common.book import Book

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
SCRIPT_FIELDS = frozenset({"match", "turns", "name", "time_to_first_token_ms", "per_token_ms"})
TURN_FIELDS = frozenset({"content", "tool_calls", "finish_reason", "usage", "error", "delay_ms"})
CALL_FIELDS = frozenset({"name", "arguments", "id"})
ERROR_FIELDS = frozenset({"status", "message", "type", "code", "param", "headers", "times"})


class InvalidScript(ValueError):
    pass


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_str(value: Any, what: str) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidScript(f"{what} must be a string")


def _non_negative(value: Any, what: str) -> None:
    if value is not None and (not _is_int(value) or value < 0):
        raise InvalidScript(f"{what} must be a non-negative integer (milliseconds)")


def _object(data: Any, fields: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidScript(f"{what} must be a JSON object")
    unknown = set(data) - fields
    if unknown:
        raise InvalidScript(f"unknown {what} fields: {', '.join(sorted(unknown))}")
    return data


@dataclass
class ToolCall:
    """A function the model calls. `arguments` is an object (sent as its JSON) or a string sent verbatim,
    e.g. broken JSON on purpose; `id` defaults to one derived from the conversation and the turn."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not FUNCTION_NAME.match(self.name):
            raise InvalidScript("a tool call's name must be 1-64 letters, digits, '_' or '-'")
        if not isinstance(self.arguments, (dict, str)):
            raise InvalidScript("a tool call's arguments must be an object or a string")
        _optional_str(self.id, "a tool call's id")

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)

    @classmethod
    def from_json(cls, data: Any) -> ToolCall:
        data = _object(data, CALL_FIELDS, "tool call")
        return cls(data.get("name", ""), data.get("arguments", {}), data.get("id"))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "id": self.id}


@dataclass
class TurnError:
    """An error answer: `status` with OpenAI's error body (`message`, `type`, `code`, `param`; what is left
    out is OpenAI's usual wording for the status) and `headers`; given `times` times (None: always)."""

    status: int
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1

    def __post_init__(self) -> None:
        if not _is_int(self.status) or not 400 <= self.status <= 599:
            raise InvalidScript("an error's status must be an HTTP error status (400-599)")
        for name in ("message", "type", "code", "param"):
            _optional_str(getattr(self, name), f"an error's {name}")
        if not isinstance(self.headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise InvalidScript("an error's headers must map strings to strings")
        if self.times is not None and (not _is_int(self.times) or self.times < 1):
            raise InvalidScript("an error's times must be a positive integer or null (always)")

    @classmethod
    def from_json(cls, data: Any) -> TurnError:
        data = _object(data, ERROR_FIELDS, "error")
        return cls(
            status=data.get("status", 0),
            message=data.get("message"),
            type=data.get("type"),
            code=data.get("code"),
            param=data.get("param"),
            headers=data.get("headers") or {},
            times=data.get("times", 1),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Turn:
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None  # None: "tool_calls" when it calls tools, else "stop"
    usage: dict[str, int] | None = None  # overrides of prompt_tokens, completion_tokens, total_tokens
    error: TurnError | None = None
    delay_ms: int = 0  # added to the time to the first token

    def __post_init__(self) -> None:
        _optional_str(self.content, "a turn's content")
        self.tool_calls = [call if isinstance(call, ToolCall) else ToolCall.from_json(call) for call in self.tool_calls]
        if self.finish_reason is not None and self.finish_reason not in FINISH_REASONS:
            raise InvalidScript(f"finish_reason must be one of {', '.join(FINISH_REASONS)}")
        if self.usage is not None and (
            not isinstance(self.usage, dict)
            or set(self.usage) - set(USAGE_FIELDS)
            or not all(_is_int(value) and value >= 0 for value in self.usage.values())
        ):
            raise InvalidScript(f"usage may only set {', '.join(USAGE_FIELDS)}, to non-negative integers")
        if self.error is not None and not isinstance(self.error, TurnError):
            self.error = TurnError.from_json(self.error)
        _non_negative(self.delay_ms, "delay_ms")

    @property
    def only_error(self) -> bool:
        return self.error is not None and self.content is None and not self.tool_calls

    @property
    def finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")

    # -- the turns tests write most ------------------------------------------------------------------
    @classmethod
    def say(cls, text: str) -> Turn:
        """Plain text, finishing with `stop`."""
        return cls(content=text)

    @classmethod
    def call(cls, name: str, /, **arguments: Any) -> Turn:
        """One tool call, e.g. `Turn.call("run_command", command="pytest -q")`."""
        return cls(tool_calls=[ToolCall(name, arguments)])

    @classmethod
    def calls(cls, *calls: ToolCall, content: str | None = None) -> Turn:
        """Several tool calls in one turn (parallel tool calls), optionally with some text first."""
        return cls(content=content, tool_calls=list(calls))

    @classmethod
    def finish_with(cls, summary: str) -> Turn:
        """The platform's `finish(summary)` tool."""
        return cls.call("finish", summary=summary)

    @classmethod
    def fail(cls, status: int, *, times: int | None = 1, **fields: Any) -> Turn:
        """An error before the next turn's answer, `times` times (None: always), e.g.
        `Turn.fail(429, headers={"retry-after-ms": "200"})`."""
        return cls(error=TurnError(status, times=times, **fields))

    @classmethod
    def from_json(cls, data: Any) -> Turn:
        data = _object(data, TURN_FIELDS, "turn")
        calls = data.get("tool_calls") or []
        if not isinstance(calls, list):
            raise InvalidScript("a turn's tool_calls must be a list")
        return cls(
            content=data.get("content"),
            tool_calls=[ToolCall.from_json(call) for call in calls],
            finish_reason=data.get("finish_reason"),
            usage=data.get("usage"),
            error=TurnError.from_json(data["error"]) if data.get("error") is not None else None,
            delay_ms=data.get("delay_ms", 0),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "tool_calls": [call.to_json() for call in self.tool_calls],
            "finish_reason": self.finish,
            "usage": self.usage,
            "error": self.error.to_json() if self.error else None,
            "delay_ms": self.delay_ms,
        }


@dataclass(eq=False)  # scripts are told apart by identity, like fault rules
class Script:
    match: str
    turns: list[Turn]
    name: str | None = None
    time_to_first_token_ms: int | None = None  # None: the fake's
    per_token_ms: int | None = None  # None: the fake's
    id: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.match, str) or not self.match:
            raise InvalidScript("match must be a non-empty string found in the conversation's opening messages")
        if not isinstance(self.turns, list) or not self.turns:
            raise InvalidScript("turns must be a non-empty list")
        self.turns = [turn if isinstance(turn, Turn) else Turn.from_json(turn) for turn in self.turns]
        _optional_str(self.name, "name")
        _non_negative(self.time_to_first_token_ms, "time_to_first_token_ms")
        _non_negative(self.per_token_ms, "per_token_ms")

    @property
    def label(self) -> str:
        return self.name or f"script {self.id}"

    def steps(self) -> list[tuple[Turn, list[TurnError]]]:
        """The script's answers in order, each with the errors that go before it."""
        steps: list[tuple[Turn, list[TurnError]]] = []
        pending: list[TurnError] = []
        for turn in self.turns:
            if turn.error is not None:
                pending.append(turn.error)
            if not turn.only_error:
                steps.append((turn, pending))
                pending = []
        return steps

    def step(self, index: int) -> tuple[Turn | None, list[TurnError]]:
        """The answer for a conversation's turn `index` and the errors before it; past the last answer,
        no turn (and the errors of the script's trailing error-only turns, for the turn right after it)."""
        steps = self.steps()
        if index < len(steps):
            return steps[index]
        trailing = [turn.error for turn in self.turns[self._last_answer() + 1 :] if turn.error is not None]
        return None, trailing if index == len(steps) else []

    def _last_answer(self) -> int:
        return max((i for i, turn in enumerate(self.turns) if not turn.only_error), default=-1)

    @classmethod
    def from_json(cls, data: Any) -> Script:
        data = _object(data, SCRIPT_FIELDS, "script")
        turns = data.get("turns")
        if not isinstance(turns, list):
            raise InvalidScript("turns must be a non-empty list")
        return cls(
            match=data.get("match", ""),
            turns=[Turn.from_json(turn) for turn in turns],
            name=data.get("name"),
            time_to_first_token_ms=data.get("time_to_first_token_ms"),
            per_token_ms=data.get("per_token_ms"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "match": self.match,
            "turns": [turn.to_json() for turn in self.turns],
            "time_to_first_token_ms": self.time_to_first_token_ms,
            "per_token_ms": self.per_token_ms,
        }


class ScriptBook(Book[Script]):
    """The registered scripts, oldest first; `matching` picks the script of a conversation."""

    def get(self, script_id: int) -> Script | None:
        with self._lock:
            return next((script for script in self._entries if script.id == script_id), None)

    def matching(self, opening_text: str) -> Script | None:
        with self._lock:
            return next((script for script in self._entries if script.match in opening_text), None)
