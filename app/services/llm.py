"""LLMService: one turn of a conversation with an OpenAI-compatible Chat Completions API, streamed.

The platform talks to the provider over httpx itself (not the `openai` SDK, whose transport respx
cannot see), as OpenAI's API reference describes: `POST {LLM_API_URL}/chat/completions` with
`stream: true` and `stream_options.include_usage`, answered with server-sent events, one JSON chunk a
`data:` line, ending in `data: [DONE]`. A turn's text arrives in pieces; each tool call is opened by a
chunk carrying its `index`, `id` and function name and continued by chunks carrying more of its
arguments under the same `index`; the last chunk carries the usage the provider counted.

A turn is retried whole (the provider answers the same request again) on 408, 409, 429, 5xx,
timeouts, lost connections and a stream that ends before `[DONE]`, waiting what the provider asks
(`retry-after-ms`, `retry-after`, `x-ratelimit-reset-*`) or the RetryPolicy's backoff. What the
provider refuses for good (a bad key, an unknown model, a conversation too long for the model, a
quota used up) fails at once with a message naming the setting to check.
"""

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.redaction import redact
from app.services.errors import (
    LLMAuthError,
    LLMContextTooLong,
    LLMError,
    LLMModelNotFound,
    LLMRateLimited,
    LLMStreamCut,
    LLMTimeout,
    LLMUnreachable,
)
from app.services.retry import RetryPolicy, parse_retry_after, with_retries

# A piece of the turn's text, and the attempt it belongs to (1, then 2... when the turn is retried).
TextCallback = Callable[[str, int], Awaitable[None]]
# Each attempt's outcome, for the metrics: ok, rate_limited, server_error, timeout, connection_error,
# stream_cut, refused.
OutcomeCallback = Callable[[str], None]
# What OpenAI's own SDK retries besides 5xx: a request timeout, a lock conflict, a rate limit.
_RETRIED_STATUSES = (408, 409, 429)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class ToolCall:
    """A function the model asked for; `arguments` is the JSON text it wrote, unchecked."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    # False when the provider sent no usage and the counts are the platform's estimate (4 characters a token).
    reported: bool = True


@dataclass(frozen=True)
class Completion:
    """The model's answer to one turn."""

    content: str
    tool_calls: list[ToolCall]
    finish_reason: str | None
    usage: Usage
    model: str

    def assistant_message(self) -> dict[str, Any]:
        """The answer as the assistant message the next request carries."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in self.tool_calls
            ]
        elif message["content"] is None:
            message["content"] = ""
        return message


@dataclass
class _CallPieces:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Turn:
    """What the chunks of one stream said so far."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, _CallPieces] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    model: str = ""
    started: bool = False  # a chunk arrived
    done: bool = False


def estimated_tokens(text: str) -> int:
    """A provider that reports no usage is counted at 4 characters a token, OpenAI's rule of thumb."""
    return -(-len(text) // 4)


def parse_duration(value: str | None) -> float | None:
    """Seconds of OpenAI's `x-ratelimit-reset-*` durations ("20ms", "1.5s", "6m0s", "1h2m"); None if unreadable."""
    if not value:
        return None
    text = value.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in parts)


def requested_wait(headers: Mapping[str, str]) -> float | None:
    """The wait a refusal asks for, most precise first: `retry-after-ms`, `retry-after`, then the reset of
    whichever rate limit (requests, tokens) has nothing remaining."""
    try:
        milliseconds = headers.get("retry-after-ms")
        if milliseconds is not None:
            return max(0.0, float(milliseconds) / 1000)
    except ValueError:
        pass
    seconds = parse_retry_after(headers.get("retry-after"))
    if seconds is not None:
        return seconds
    resets = [
        parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
        for kind in ("requests", "tokens")
        if headers.get(f"x-ratelimit-remaining-{kind}") == "0"
    ]
    known = [reset for reset in resets if reset is not None]
    return max(known) if known else None


def _error_fields(response: httpx.Response) -> tuple[str, str | None]:
    """OpenAI's `error.message` and `error.code`, else the body's text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return str(error.get("message") or response.reason_phrase), str(code) if code else None
    return (response.text.strip() or response.reason_phrase)[:300], None


class LLMService:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        model: str,
        retry: RetryPolicy | None = None,
        on_attempt: OutcomeCallback | None = None,
    ) -> None:
        """`client` carries the base URL (LLM_API_URL) and the Authorization header; the key is read
        from it to keep it out of every message."""
        self._client = client
        self.model = model
        self._retry = retry or RetryPolicy()
        self._on_attempt = on_attempt

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] = (),
        *,
        on_text: TextCallback | None = None,
    ) -> Completion:
        """The model's next turn. `on_text` gets the text as it streams, piece by piece, with the number
        of the attempt (a retried turn streams again from its start).

        Raises LLMAuthError, LLMModelNotFound, LLMContextTooLong, LLMRateLimited or LLMError once
        retrying is over or pointless.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = list(tools)

        attempts = 0

        async def attempt() -> Completion:
            nonlocal attempts
            attempts += 1
            try:
                completion = await self._attempt(body, on_text, attempts)
            except LLMError as error:
                self._count(error.outcome)
                raise
            self._count("ok")
            return completion

        return await with_retries(attempt, self._retry)

    def _count(self, outcome: str) -> None:
        if self._on_attempt is not None:
            self._on_attempt(outcome)

    async def _attempt(self, body: dict[str, Any], on_text: TextCallback | None, number: int) -> Completion:
        turn = _Turn()
        try:
            async with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise self._status_error(response)
                await self._read(response, turn, on_text, number)
        except httpx.TimeoutException as error:
            raise LLMTimeout(
                f"the LLM provider did not answer in time ({type(error).__name__})", transient=True
            ) from error
        except httpx.TransportError as error:
            if turn.started:
                raise LLMStreamCut(
                    f"the connection to the LLM provider broke during the answer ({type(error).__name__})",
                    transient=True,
                ) from error
            raise LLMUnreachable(
                self._clean(
                    f"cannot reach the LLM provider at {self._client.base_url} ({type(error).__name__}: {error})"
                ),
                transient=True,
            ) from error
        if not turn.done:
            raise LLMStreamCut(
                "the LLM provider's stream ended before the answer was complete (no [DONE])", transient=True
            )
        return self._completion(body, turn)

    async def _read(self, response: httpx.Response, turn: _Turn, on_text: TextCallback | None, number: int) -> None:
        """Server-sent events: `data:` lines, an event ending at a blank line."""
        data: list[str] = []
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
                continue
            if line or not data:
                continue  # comments, other fields, or a blank line between events
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                turn.done = True
                return
            await self._apply(payload, turn, on_text, number)
        if data and "\n".join(data).strip() == "[DONE]":
            turn.done = True

    async def _apply(self, payload: str, turn: _Turn, on_text: TextCallback | None, number: int) -> None:
        turn.started = True
        try:
            chunk = json.loads(payload)
        except ValueError as error:
            raise LLMStreamCut(
                "the LLM provider sent a stream chunk that is not JSON (a cut or garbled stream)", transient=True
            ) from error
        if not isinstance(chunk, dict):
            raise LLMStreamCut("the LLM provider sent a stream chunk that is not a JSON object", transient=True)
        if isinstance(chunk.get("error"), dict):  # a failure after the 200: OpenAI sends it as a chunk
            message = self._clean(str(chunk["error"].get("message") or "no message"))
            raise LLMError(f"the LLM provider failed during the answer: {message}", transient=True)
        turn.model = str(chunk.get("model") or turn.model)
        if isinstance(chunk.get("usage"), dict):
            turn.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if isinstance(text, str) and text:
                turn.text.append(text)
                if on_text is not None:
                    await on_text(text, number)
            for piece in delta.get("tool_calls") or []:
                self._add_call_piece(turn, piece)
            if choice.get("finish_reason"):
                turn.finish_reason = str(choice["finish_reason"])

    @staticmethod
    def _add_call_piece(turn: _Turn, piece: Any) -> None:
        if not isinstance(piece, dict):
            return
        index = piece.get("index", len(turn.calls))
        call = turn.calls.setdefault(index if isinstance(index, int) else len(turn.calls), _CallPieces())
        if piece.get("id"):
            call.id = str(piece["id"])
        function = piece.get("function") or {}
        if function.get("name"):
            call.name = str(function["name"])
        if isinstance(function.get("arguments"), str):
            call.arguments.append(function["arguments"])

    def _completion(self, body: dict[str, Any], turn: _Turn) -> Completion:
        content = "".join(turn.text)
        calls = [
            ToolCall(id=pieces.id or f"call_{index}", name=pieces.name, arguments="".join(pieces.arguments))
            for index, pieces in sorted(turn.calls.items())
        ]
        return Completion(content, calls, turn.finish_reason, self._usage(body, turn, content, calls), turn.model)

    @staticmethod
    def _usage(body: dict[str, Any], turn: _Turn, content: str, calls: list[ToolCall]) -> Usage:
        reported = turn.usage or {}
        prompt, completion = reported.get("prompt_tokens"), reported.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int):
            return Usage(prompt, completion)
        sent = json.dumps(body["messages"]) + json.dumps(body.get("tools", []))
        written = content + "".join(call.name + call.arguments for call in calls)
        return Usage(estimated_tokens(sent), estimated_tokens(written), reported=False)

    def _status_error(self, response: httpx.Response) -> LLMError:
        status = response.status_code
        message, code = _error_fields(response)
        said = self._clean(message)[:400]
        wait = requested_wait(response.headers)
        if status == 401:
            return LLMAuthError(f"the LLM provider refused the API key (HTTP 401: {said}); check LLM_API_KEY")
        if status == 403:
            return LLMAuthError(
                f"the LLM provider denied the request (HTTP 403: {said}); check that LLM_API_KEY may use "
                f"the model {self.model!r}"
            )
        if status == 404 and code == "model_not_found":
            return LLMModelNotFound(
                f"the LLM provider has no model {self.model!r} for this key (HTTP 404: {said}); check LLM_MODEL"
            )
        if status == 404:
            return LLMError(
                f"the LLM provider answered 404 at {self._client.base_url}/chat/completions ({said}); check "
                "LLM_API_URL (it ends in /v1 for OpenAI)"
            )
        if code == "context_length_exceeded":
            return LLMContextTooLong(
                f"the conversation no longer fits the model's context window ({self.model}: {said})"
            )
        if status == 429 and code == "insufficient_quota":
            return LLMRateLimited(
                f"the LLM provider's quota for this key is used up (HTTP 429: {said}); check the account's plan "
                "and billing"
            )
        if status == 429:
            return LLMRateLimited(
                f"the LLM provider's rate limit is reached (HTTP 429: {said})", transient=True, retry_after=wait
            )
        if status >= 500 or status in _RETRIED_STATUSES:
            return LLMError(
                f"the LLM provider failed to answer (HTTP {status}: {said})", transient=True, retry_after=wait
            )
        return LLMError(f"the LLM provider refused the request (HTTP {status}: {said})")

    def _clean(self, text: str) -> str:
        """`text` without the key of the Authorization header."""
        scheme, _, credential = self._client.headers.get("authorization", "").partition(" ")
        return redact(text, [credential.strip() or scheme])
