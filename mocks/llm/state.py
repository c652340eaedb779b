"""The state model of the fake LLM: API keys, models with context windows, scripts, conversations, limits.

`complete()` is the whole of a chat completion but its HTTP: the model must exist, the prompt must fit
its context window (tokens by mocks.llm.tokens), the key's rate limits must let it through; then the
conversation's script (mocks.llm.scripts) or the default agent (mocks.llm.agent) gives the answer.
What OpenAI would refuse raises an LLMError carrying the status of OpenAI's answer and its error fields
(errors.py words the body). Plain Python: no HTTP framework here; the app (app.py) is the only HTTP front.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mocks.common.service import FakeService
from mocks.llm import tokens
from mocks.llm.agent import default_turn
from mocks.llm.rate_limits import REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE, Decision, RateLimits, duration
from mocks.llm.scripts import Script, ScriptBook, ToolCall, Turn, TurnError

DEFAULT_API_KEY = "sk-fake-llm-" + "0" * 32
ORGANIZATION = "org-fakellm"
RATE_LIMITS_DOCS = "https://platform.openai.com/account/rate-limits"
# Context windows of the models the fake serves unless told otherwise (OpenAI's figures).
DEFAULT_MODELS = {"gpt-4o-mini": 128_000, "gpt-4o": 128_000, "gpt-4.1-mini": 1_047_576, "gpt-3.5-turbo": 16_385}
MODEL_CREATED = 1_715_367_049  # a fixed `created` for the built-in models
ID_ALPHABET = string.ascii_letters + string.digits
# What a 429 the fake was told to give (a fault, a scripted error) says when its headers do not: retry in a
# second. Only `retry-after`, so that headers given with it win: their `retry-after` replaces it, their
# `retry-after-ms` is what clients read first (the openai SDK prefers it).
RETRY_AFTER_429 = {"retry-after": "1"}


class LLMError(Exception):
    """A request OpenAI refuses: `status` of its answer and the fields of its error body. A field left
    None gets OpenAI's usual value for the status (errors.py)."""

    status = 500

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message or f"HTTP {status or self.status}")
        if status is not None:
            self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})


class InvalidRequest(LLMError):
    status = 400

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, type="invalid_request_error", param=param, code=code)


class AuthenticationFailed(LLMError):
    status = 401


class ModelNotFound(LLMError):
    status = 404

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist or you do not have access to it.",
            type="invalid_request_error",
            code="model_not_found",
        )


class ContextLengthExceeded(InvalidRequest):
    def __init__(self, window: int, messages: int, functions: int, completion: int) -> None:
        parts = [f"{messages} in the messages"]
        parts += [f"{functions} in the functions"] if functions else []
        parts += [f"{completion} in the completion"] if completion else []
        if len(parts) == 1:
            detail = f"However, your messages resulted in {messages} tokens. Please reduce the length of the messages."
        else:
            what = "messages or completion" if completion else "messages or functions"
            detail = (
                f"However, you requested {messages + functions + completion} tokens ({', '.join(parts)}). "
                f"Please reduce the length of the {what}."
            )
        super().__init__(
            f"This model's maximum context length is {window} tokens. {detail}",
            param="messages",
            code="context_length_exceeded",
        )


class RateLimited(LLMError):
    status = 429

    def __init__(self, model: str, decision: Decision) -> None:
        per = "requests per min (RPM)" if decision.kind == "requests" else "tokens per min (TPM)"
        where = f"for {model} in organization {ORGANIZATION} on {per}"
        headers = dict(decision.headers)
        if decision.retry_after is None:
            message = (
                f"Request too large {where}: Limit {decision.limit}, Requested {decision.requested}. "
                f"The input or output tokens must be reduced in order to run successfully. "
                f"Visit {RATE_LIMITS_DOCS} to learn more."
            )
        else:
            message = (
                f"Rate limit reached {where}: Limit {decision.limit}, Used {decision.used}, Requested "
                f"{decision.requested}. Please try again in {duration(decision.retry_after)}. "
                f"Visit {RATE_LIMITS_DOCS} to learn more."
            )
            wait_ms = max(1, math.ceil(decision.retry_after * 1000))
            headers["retry-after"] = str(math.ceil(wait_ms / 1000))  # whole seconds, at least 1 (the spec's minimum)
            headers["retry-after-ms"] = str(wait_ms)
        super().__init__(message, type=decision.kind, code="rate_limit_exceeded", headers=headers)


@dataclass(frozen=True)
class Model:
    id: str
    context_window: int
    owned_by: str = "openai"
    created: int = MODEL_CREATED


@dataclass(frozen=True)
class ChatRequest:
    """A request of POST /v1/chat/completions, checked (validation.py)."""

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = None  # "none", "auto", "required", {"type": "function", "function": {"name"}} or None
    stream: bool = False
    include_usage: bool = False
    include_obfuscation: bool = True
    max_tokens: int | None = None  # max_completion_tokens, or the older max_tokens
    n: int = 1
    body: dict[str, Any] = field(default_factory=dict)  # the request as sent


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass
class Answer:
    """What the model answered one request: its turn, and the answer or the error status."""

    turn: int
    source: str  # "default agent" or the script's name ("script 3" when it has none)
    status: int = 200
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: Usage | None = None
    stream: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "source": self.source,
            "status": self.status,
            "content": self.content,
            "tool_calls": [
                {"id": call.id, "name": call.name, "arguments": call.arguments_json} for call in self.tool_calls
            ],
            "finish_reason": self.finish_reason if self.status == 200 else None,
            "usage": asdict(self.usage) if self.usage else None,
            "stream": self.stream,
        }


@dataclass
class Conversation:
    """One conversation, known by its opening messages (those before the first assistant message)."""

    id: str
    opening: list[dict[str, Any]]
    script_id: int | None
    script_name: str | None
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request body, in order
    answers: list[Answer] = field(default_factory=list)
    errors_given: dict[tuple[int, int], int] = field(default_factory=dict)  # (turn, error) -> times

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The messages of its latest request."""
        return list(self.requests[-1].get("messages", [])) if self.requests else []

    def sent_text(self) -> str:
        """Everything the model was sent in this conversation, as one JSON text (to search for secrets)."""
        return json.dumps(self.requests)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "script": self.script_name,
            "opening": self.opening,
            "requests": len(self.requests),
            "messages": self.messages,
            "answers": [answer.to_json() for answer in self.answers],
        }


@dataclass(frozen=True)
class Completion:
    """An answer to represent: the request, what the model answered, and how fast it generates."""

    id: str
    created: int
    model: str
    request: ChatRequest
    answer: Answer
    usage: Usage
    headers: dict[str, str]  # the rate-limit headers
    time_to_first_token_ms: int
    per_token_ms: int


def opening_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    opening = []
    for message in messages:
        if message.get("role") == "assistant":
            break
        opening.append(dict(message))
    return opening


def conversation_id(messages: Sequence[Mapping[str, Any]]) -> str:
    """The id of the conversation `messages` belong to: a digest of its opening messages' roles and text."""
    opening = [[message.get("role"), tokens.message_text(message)] for message in opening_messages(messages)]
    return hashlib.sha256(json.dumps(opening).encode()).hexdigest()[:16]


def tool_call_id(conversation: str, turn: int, index: int) -> str:
    """Stable across retries of a turn, so the platform sees the same ids whatever it asks again."""
    return "call_" + hashlib.sha256(f"{conversation}:{turn}:{index}".encode()).hexdigest()[:24]


class FakeLLM(FakeService):
    """An OpenAI-compatible provider: chat completions (plain and streamed, with tools) and models.

    `api_keys` are the keys it accepts; `models` maps the model ids it serves to their context windows
    (default DEFAULT_MODELS); `time_to_first_token_ms` and `per_token_ms` are how fast its model
    generates; `requests_per_minute` and `tokens_per_minute` every key's rate limits. All of these
    survive reset(); what a test changes afterwards (models added, pace, limits, scripts) does not.
    """

    def __init__(
        self,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        *,
        models: Mapping[str, int] | None = None,
        latency_ms: int = 0,
        time_to_first_token_ms: int = 0,
        per_token_ms: int = 0,
        requests_per_minute: int = REQUESTS_PER_MINUTE,
        tokens_per_minute: int = TOKENS_PER_MINUTE,
    ) -> None:
        super().__init__(latency_ms=latency_ms)
        self.api_keys: set[str] = set(api_keys)
        # What construction configures survives reset(); what a test changes later does not.
        self._configured_models = dict(DEFAULT_MODELS if models is None else models)
        self._configured_timing = (time_to_first_token_ms, per_token_ms)
        self._configured_limits = (requests_per_minute, tokens_per_minute)
        self.scripts = ScriptBook()
        self.rate_limits = RateLimits(requests_per_minute, tokens_per_minute, clock=self.time)
        self._models: dict[str, Model] = {}
        self._conversations: dict[str, Conversation] = {}
        self.time_to_first_token_ms = time_to_first_token_ms
        self.per_token_ms = per_token_ms
        self._reset_state()

    # -- credentials ----------------------------------------------------------------------------------
    def add_api_key(self, key: str) -> None:
        with self._lock:
            self.api_keys.add(key)

    def is_valid_api_key(self, key: str | None) -> bool:
        with self._lock:
            return bool(key) and key in self.api_keys

    # -- models ---------------------------------------------------------------------------------------
    def add_model(self, model_id: str, *, context_window: int, owned_by: str = "openai") -> Model:
        """Serve `model_id` too, e.g. a model with a small context window to run into it."""
        if not isinstance(model_id, str) or not model_id or "/" in model_id:
            raise ValueError("a model id is a non-empty string without '/'")
        if isinstance(context_window, bool) or not isinstance(context_window, int) or context_window < 1:
            raise ValueError("context_window must be a positive integer (tokens)")
        model = Model(model_id, context_window, owned_by)
        with self._lock:
            self._models[model_id] = model
        return model

    def models(self) -> list[Model]:
        with self._lock:
            return list(self._models.values())

    def model(self, model_id: str) -> Model | None:
        with self._lock:
            return self._models.get(model_id)

    # -- scripts --------------------------------------------------------------------------------------
    def script(
        self,
        match: str,
        turns: Sequence[Turn | Mapping[str, Any]],
        *,
        name: str | None = None,
        time_to_first_token_ms: int | None = None,
        per_token_ms: int | None = None,
    ) -> Script:
        """Script the model's turns for the conversations whose opening messages contain `match`
        (see mocks.llm.scripts): `fake.script("task-7", [Turn.call("write_file", path="a", content="b"),
        Turn.finish_with("done")])`. Turns may be Turn objects or their JSON (as POST /_fake/scripts takes)."""
        script = Script(
            match=match,
            turns=[turn if isinstance(turn, Turn) else Turn.from_json(dict(turn)) for turn in turns],
            name=name,
            time_to_first_token_ms=time_to_first_token_ms,
            per_token_ms=per_token_ms,
        )
        return self.scripts.add(script)

    def remove_script(self, script: Script | int) -> bool:
        return self.scripts.remove(script if isinstance(script, int) else script.id)

    def clear_scripts(self) -> None:
        self.scripts.clear()

    # -- generation speed and limits -------------------------------------------------------------------
    def set_latency(self, *, time_to_first_token_ms: int | None = None, per_token_ms: int | None = None) -> None:
        """How fast the model "generates": the wait before the first token and between two tokens (a
        stream's chunks; a plain answer waits for all of them). Scripts may set their own."""
        for value in (time_to_first_token_ms, per_token_ms):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError("latencies are non-negative integers (milliseconds)")
        with self._lock:
            if time_to_first_token_ms is not None:
                self.time_to_first_token_ms = time_to_first_token_ms
            if per_token_ms is not None:
                self.per_token_ms = per_token_ms

    def set_rate_limits(self, *, requests_per_minute: int | None = None, tokens_per_minute: int | None = None) -> None:
        """Every API key's limits, e.g. `requests_per_minute=1`: the second request in a minute gets 429."""
        self.rate_limits.set(requests_per_minute=requests_per_minute, tokens_per_minute=tokens_per_minute)

    # -- inspection -----------------------------------------------------------------------------------
    def conversations(self) -> list[Conversation]:
        """Every conversation so far (copies), in the order they began."""
        with self._lock:
            return copy.deepcopy(list(self._conversations.values()))

    def conversation(self, containing: str) -> Conversation:
        """The one conversation whose opening messages contain `containing` (e.g. the task's id)."""
        found = [c for c in self.conversations() if containing in "\n".join(map(tokens.message_text, c.opening))]
        if len(found) != 1:
            raise LookupError(f"{len(found)} conversations open with {containing!r} (expected one)")
        return found[0]

    # -- the API --------------------------------------------------------------------------------------
    def complete(self, request: ChatRequest, api_key: str) -> Completion:
        """Answer a chat completion request, or raise the LLMError OpenAI would answer instead."""
        model = self.model(request.model)
        if model is None:
            raise ModelNotFound(request.model)
        messages = tokens.messages_tokens(request.messages)
        functions = tokens.tools_tokens(request.tools)
        completion_budget = request.max_tokens or 0
        if messages + functions + completion_budget > model.context_window:
            raise ContextLengthExceeded(model.context_window, messages, functions, completion_budget)
        decision = self.rate_limits.take(api_key, messages + functions + completion_budget)
        if not decision.allowed:
            raise RateLimited(request.model, decision)
        answer, timing = self._answer(request, messages + functions, decision)
        assert answer.usage is not None
        return Completion(
            id="chatcmpl-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(29)),
            created=int(self.time()),
            model=request.model,
            request=request,
            answer=answer,
            usage=answer.usage,
            headers=decision.headers,
            time_to_first_token_ms=timing[0],
            per_token_ms=timing[1],
        )

    def _answer(self, request: ChatRequest, prompt_tokens: int, decision: Decision) -> tuple[Answer, tuple[int, int]]:
        turn_index = sum(1 for message in request.messages if message.get("role") == "assistant")
        with self._lock:
            conversation = self._conversation(request)
            conversation.requests.append(request.body)
            script = self.scripts.get(conversation.script_id) if conversation.script_id is not None else None
            first_token, per_token = self.time_to_first_token_ms, self.per_token_ms
            if script is None:
                source = "default agent"
                turn = default_turn(request.messages, request.tools, request.tool_choice, turn_index)
            else:
                source = script.label
                if script.time_to_first_token_ms is not None:
                    first_token = script.time_to_first_token_ms
                if script.per_token_ms is not None:
                    per_token = script.per_token_ms
                scripted, errors = script.step(turn_index)
                error = self._due_error(conversation, turn_index, errors)
                if error is not None:
                    conversation.answers.append(Answer(turn_index, source, error.status, stream=request.stream))
                    raise LLMError(
                        error.message,
                        status=error.status,
                        type=error.type,
                        param=error.param,
                        code=error.code,
                        headers={
                            **decision.headers,
                            **(RETRY_AFTER_429 if error.status == 429 else {}),
                            **error.headers,
                        },
                    )
                turn = scripted or Turn(
                    content=f"[fake LLM] {script.label} has no turn {turn_index + 1}: it scripts {len(script.steps())}."
                )
            answer = self._generated(conversation.id, turn_index, source, turn, request, prompt_tokens)
            conversation.answers.append(answer)
            return copy.deepcopy(answer), (first_token + turn.delay_ms, per_token)

    def _conversation(self, request: ChatRequest) -> Conversation:
        key = conversation_id(request.messages)
        conversation = self._conversations.get(key)
        if conversation is None or (
            conversation.script_id is not None and self.scripts.get(conversation.script_id) is None
        ):  # new, or its script was removed: (re)bind it to the oldest script that matches
            opening = opening_messages(request.messages)
            script = self.scripts.matching("\n".join(tokens.message_text(message) for message in opening))
            if conversation is None:
                conversation = self._conversations[key] = Conversation(key, opening, None, None)
            conversation.script_id = script.id if script else None
            conversation.script_name = script.label if script else None
        return conversation

    @staticmethod
    def _due_error(conversation: Conversation, turn_index: int, errors: list[TurnError]) -> TurnError | None:
        for position, error in enumerate(errors):
            given = conversation.errors_given.get((turn_index, position), 0)
            if error.times is None or given < error.times:
                conversation.errors_given[(turn_index, position)] = given + 1
                return error
        return None

    @staticmethod
    def _generated(
        conversation: str, turn_index: int, source: str, turn: Turn, request: ChatRequest, prompt_tokens: int
    ) -> Answer:
        # A turn that says nothing and calls nothing is an empty message, as OpenAI sends one: "", not null.
        content = turn.content if turn.content is not None or turn.tool_calls else ""
        calls = [
            ToolCall(call.name, call.arguments, call.id or tool_call_id(conversation, turn_index, index))
            for index, call in enumerate(turn.tool_calls)
        ]
        finish = turn.finish
        generated = tokens.completion_tokens(content, [(call.name, call.arguments_json) for call in calls])
        if request.max_tokens is not None and generated > request.max_tokens:
            # Cut where the budget ends: a tool call cut short is no call, so none is made.
            content = (content or "")[: request.max_tokens * tokens.CHARS_PER_TOKEN]
            calls, finish = [], "length"
            generated = tokens.count(content)
        overrides = turn.usage or {}
        prompt = overrides.get("prompt_tokens", prompt_tokens)
        completion = overrides.get("completion_tokens", generated * request.n)
        usage = Usage(prompt, completion, overrides.get("total_tokens", prompt + completion))
        return Answer(turn_index, source, 200, content, calls, finish, usage, request.stream)

    # -- lifecycle ------------------------------------------------------------------------------------
    def _reset_state(self) -> None:
        with self._lock:
            self._models = {model_id: Model(model_id, window) for model_id, window in self._configured_models.items()}
            self._conversations.clear()
            self.time_to_first_token_ms, self.per_token_ms = self._configured_timing
        self.scripts.clear()
        self.rate_limits.clear()
        requests, tokens_ = self._configured_limits
        self.rate_limits.set(requests_per_minute=requests, tokens_per_minute=tokens_)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            timing = {"time_to_first_token_ms": self.time_to_first_token_ms, "per_token_ms": self.per_token_ms}
        return {
            "models": [{"id": m.id, "context_window": m.context_window, "owned_by": m.owned_by} for m in self.models()],
            "scripts": [script.to_json() for script in self.scripts.entries()],
            "conversations": [conversation.to_json() for conversation in self.conversations()],
            "latency": timing,
            "rate_limits": self.rate_limits.to_json(),
            "faults": [rule.to_json() for rule in self.faults.entries()],
        }
