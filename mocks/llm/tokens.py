"""How the fake LLM counts tokens: a simple, deterministic rule instead of a real tokenizer.

The numbers only have to be stable and roughly the size of real ones, so that token budgets, usage
reports and context windows can be tested:

- a text of N characters is ceil(N / 4) tokens (the empty text: 0);
- a prompt is 3 tokens (priming the reply) plus, for every message, 3 tokens of framing and the tokens
  of its text: its `content` (a string, or the `text` of its text parts; other parts count nothing), its
  `name`, and for an assistant message each tool call's function name and arguments. The tools offered
  add the tokens of their JSON (compact, keys sorted);
- a completion is the tokens of its content plus, for every tool call, of its function name and of its
  arguments;
- a stream sends one token per chunk: the text in pieces of 4 characters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_FRAMING = 3
REPLY_PRIMING = 3


def count(text: str | None) -> int:
    return -(-len(text) // CHARS_PER_TOKEN) if text else 0


def pieces(text: str) -> list[str]:
    """`text` as a stream sends it: one token (4 characters, the last maybe fewer) per piece."""
    return [text[start : start + CHARS_PER_TOKEN] for start in range(0, len(text), CHARS_PER_TOKEN)]


def content_text(content: Any) -> str:
    """The text of a message's `content`: the string itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def message_text(message: Mapping[str, Any]) -> str:
    """Everything of a message that counts as prompt text (see the module's rule)."""
    texts = [content_text(message.get("content"))]
    if isinstance(message.get("name"), str):
        texts.append(message["name"])
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            texts.extend(str(function.get(key) or "") for key in ("name", "arguments"))
    return "".join(texts)


def messages_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    return REPLY_PRIMING + sum(MESSAGE_FRAMING + count(message_text(message)) for message in messages)


def tools_tokens(tools: Sequence[Any]) -> int:
    return count(json.dumps(list(tools), separators=(",", ":"), sort_keys=True)) if tools else 0


def completion_tokens(content: str | None, calls: Iterable[tuple[str, str]]) -> int:
    """Tokens of a completion: its content and every (function name, arguments) it calls."""
    return count(content) + sum(count(name) + count(arguments) for name, arguments in calls)
