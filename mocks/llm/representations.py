"""The JSON OpenAI returns for chat completions (`CreateChatCompletionResponse`), their stream chunks
(`CreateChatCompletionStreamResponse`, sent as server-sent events) and models (`Model`, `ListModelsResponse`).

A stream goes as OpenAI's does: a first chunk with the role, the content one token per chunk, each tool
call opened by a chunk carrying its `index`, `id`, `type` and `function.name` (with empty arguments)
and continued by chunks carrying the same `index` and the next piece of its arguments, a last chunk
with the `finish_reason` and an empty delta; with `stream_options.include_usage` every chunk has
`"usage": null` but one more, the last, with the usage and no choices; then `data: [DONE]`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mocks.llm import tokens
from mocks.llm.state import Completion, Model, Usage

SYSTEM_FINGERPRINT = "fp_fa4e11d0c0"
SERVICE_TIER = "default"
DONE = b"data: [DONE]\n\n"
OBFUSCATION_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_json(completion: Completion) -> dict[str, Any]:
    answer = completion.answer
    message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None, "annotations": []}
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments_json}}
            for call in answer.tool_calls
        ]
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [
            {"index": index, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}
            for index in range(completion.request.n)
        ],
        "usage": usage_json(completion.usage),
        "service_tier": SERVICE_TIER,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


@dataclass(frozen=True)
class Chunk:
    body: dict[str, Any]
    token: bool  # it carries a generated token: the per-token delay goes before it

    def sse(self) -> bytes:
        return f"data: {json.dumps(self.body, separators=(',', ':'))}\n\n".encode()


def deltas(completion: Completion) -> Iterator[tuple[dict[str, Any], bool]]:
    """(delta, carries a token) of one choice, before its last chunk."""
    answer = completion.answer
    calls = list(answer.tool_calls)
    first: dict[str, Any] = {"role": "assistant", "content": "" if answer.content or not calls else None}
    if not answer.content and calls:  # OpenAI opens the first tool call in the role's chunk
        first["tool_calls"] = [opening(0, calls[0])]
    first["refusal"] = None
    yield first, True
    for piece in tokens.pieces(answer.content or ""):
        yield {"content": piece}, True
    for index, call in enumerate(calls):
        if index > 0 or answer.content:
            yield {"tool_calls": [opening(index, call)]}, True
        for piece in tokens.pieces(call.arguments_json):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, True


def opening(index: int, call: Any) -> dict[str, Any]:
    return {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}


def chunks(completion: Completion) -> Iterator[Chunk]:
    """Every chunk of the stream, in order (the `data: [DONE]` line is not one)."""
    request = completion.request
    head = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "service_tier": SERVICE_TIER,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    number = 0

    def chunk(choices: list[dict[str, Any]], token: bool, usage: dict[str, Any] | None = None) -> Chunk:
        nonlocal number
        body = {**head, "choices": choices}
        if request.include_usage:
            body["usage"] = usage
        if request.include_obfuscation:
            body["obfuscation"] = obfuscation(number, len(json.dumps(choices)))
        number += 1
        return Chunk(body, token)

    for index in range(request.n):
        for delta, token in deltas(completion):
            yield chunk([{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}], token)
        last = {"index": index, "delta": {}, "logprobs": None, "finish_reason": completion.answer.finish_reason}
        yield chunk([last], False)
    if request.include_usage:
        yield chunk([], False, usage_json(completion.usage))


def obfuscation(number: int, size: int) -> str:
    """Padding that evens out the chunks' sizes (OpenAI adds random characters; these are fixed)."""
    length = max(1, 16 - size % 16)
    seed = zlib.crc32(f"{number}:{size}".encode())
    return "".join(OBFUSCATION_ALPHABET[(seed >> (i % 24)) % len(OBFUSCATION_ALPHABET)] for i in range(length))


def model_json(model: Model) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": model.owned_by}


def models_json(models: list[Model]) -> dict[str, Any]:
    return {"object": "list", "data": [model_json(model) for model in models]}
