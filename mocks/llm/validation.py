"""Checking a chat completion request the way OpenAI does, with OpenAI's words.

A body that is no JSON is refused before anything else; then unknown parameters, the required `model`
and `messages`, the type of each parameter and message the fake reads (with the path of the offending
value in `param`, e.g. "messages[2].role"), and last the order of the conversation: a `tool` message
must answer a tool call of the assistant message before it, and every tool call must be answered
before the conversation goes on. Parameters the fake does not act on (temperature, seed...) are
accepted as they come.
"""

from __future__ import annotations

import json
from typing import Any

from mocks.llm.state import ChatRequest, InvalidRequest

# Every parameter of CreateChatCompletionRequest in the official description.
KNOWN_PARAMETERS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model", "moderation", "n",
        "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
        "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
        "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
TOOL_TYPES = ("function", "custom")
TOOL_CHOICES = ("none", "auto", "required")
MAX_CHOICES = 128
UNPARSABLE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you "
    "have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def wrong_type(param: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def empty_array(param: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        param=param,
        code="empty_array",
    )


def invalid_value(param: str, value: Any, supported: tuple[str, ...]) -> InvalidRequest:
    quoted = [f"'{item}'" for item in supported]
    listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 2 else " and ".join(quoted)
    return InvalidRequest(
        f"Invalid value: '{value}'. Supported values are: {listed}.", param=param, code="invalid_value"
    )


def parse_chat_request(raw: bytes) -> ChatRequest:
    """The body of POST /v1/chat/completions, checked; raises InvalidRequest with OpenAI's message."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidRequest(UNPARSABLE) from None
    if not isinstance(body, dict):
        raise InvalidRequest(UNPARSABLE)
    unknown = sorted(set(body) - KNOWN_PARAMETERS)
    if unknown:
        raise InvalidRequest(f"Unrecognized request argument supplied: {unknown[0]}")
    if body.get("model") is None:
        raise InvalidRequest("you must provide a model parameter")
    if not isinstance(body["model"], str):
        raise wrong_type("model", "a string", body["model"])
    messages = _messages(body)
    tools = _tools(body.get("tools"))
    tool_choice = _tool_choice(body.get("tool_choice"), tools)
    stream, include_usage, include_obfuscation = _streaming(body)
    max_tokens = _bounded_integer(body, "max_completion_tokens", 1, None)
    if max_tokens is None:
        max_tokens = _bounded_integer(body, "max_tokens", 1, None)
    n = _bounded_integer(body, "n", 1, MAX_CHOICES)
    _check_tool_call_order(messages)
    return ChatRequest(
        model=body["model"],
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        stream=stream,
        include_usage=include_usage,
        include_obfuscation=include_obfuscation,
        max_tokens=max_tokens,
        n=1 if n is None else n,
        body=body,
    )


# -- messages -----------------------------------------------------------------------------------------
def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body:
        raise missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise wrong_type("messages", "an array of objects", messages)
    if not messages:
        raise empty_array("messages")
    for index, message in enumerate(messages):
        _message(f"messages[{index}]", message)
    return messages


def _message(where: str, message: Any) -> None:
    if not isinstance(message, dict):
        raise wrong_type(where, "an object", message)
    if "role" not in message:
        raise missing(f"{where}.role")
    role = message["role"]
    if not isinstance(role, str):
        raise wrong_type(f"{where}.role", "a string", role)
    if role not in ROLES:
        raise invalid_value(f"{where}.role", role, ROLES)
    if "name" in message and not isinstance(message["name"], str):
        raise wrong_type(f"{where}.name", "a string", message["name"])
    if role == "assistant":
        calls = message.get("tool_calls")
        if calls is not None:
            _tool_calls(f"{where}.tool_calls", calls)
        if message.get("content") is None:
            if not calls and message.get("function_call") is None:
                raise missing(f"{where}.content")
            return
    elif "content" not in message:
        raise missing(f"{where}.content")
    _content(f"{where}.content", message["content"])
    if role == "tool":
        if "tool_call_id" not in message:
            raise missing(f"{where}.tool_call_id")
        if not isinstance(message["tool_call_id"], str):
            raise wrong_type(f"{where}.tool_call_id", "a string", message["tool_call_id"])


def _content(where: str, content: Any) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise wrong_type(where, "one of a string or array of objects", content)
    if not content:
        raise empty_array(where)
    for index, part in enumerate(content):
        if not isinstance(part, dict):
            raise wrong_type(f"{where}[{index}]", "an object", part)
        if "type" not in part:
            raise missing(f"{where}[{index}].type")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            if "text" not in part:
                raise missing(f"{where}[{index}].text")
            raise wrong_type(f"{where}[{index}].text", "a string", part["text"])


def _tool_calls(where: str, calls: Any) -> None:
    if not isinstance(calls, list):
        raise wrong_type(where, "an array of objects", calls)
    if not calls:
        raise empty_array(where)
    for index, call in enumerate(calls):
        at = f"{where}[{index}]"
        if not isinstance(call, dict):
            raise wrong_type(at, "an object", call)
        for key in ("id", "type", "function"):
            if key not in call:
                raise missing(f"{at}.{key}")
        if not isinstance(call["id"], str):
            raise wrong_type(f"{at}.id", "a string", call["id"])
        if call["type"] != "function":
            raise invalid_value(f"{at}.type", call["type"], ("function",))
        function = call["function"]
        if not isinstance(function, dict):
            raise wrong_type(f"{at}.function", "an object", function)
        for key in ("name", "arguments"):
            if key not in function:
                raise missing(f"{at}.function.{key}")
            if not isinstance(function[key], str):
                raise wrong_type(f"{at}.function.{key}", "a string", function[key])


def _check_tool_call_order(messages: list[dict[str, Any]]) -> None:
    """Tool messages answer the tool calls of the assistant message just before them, all of them."""
    calling: int | None = None  # the assistant message whose tool calls are being answered
    unanswered: list[str] = []
    for index, message in enumerate(messages):
        if message["role"] == "tool":
            if calling is None:
                raise InvalidRequest(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    param=f"messages.[{index}].role",
                )
            call_id = message["tool_call_id"]
            if call_id not in [call["id"] for call in messages[calling]["tool_calls"]]:
                raise InvalidRequest(
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' of previous message.",
                    param=f"messages.[{index}].tool_call_id",
                )
            unanswered = [pending for pending in unanswered if pending != call_id]
            continue
        _all_answered(calling, unanswered)
        calls = message.get("tool_calls") if message["role"] == "assistant" else None
        calling, unanswered = (index, [call["id"] for call in calls]) if calls else (None, [])
    _all_answered(calling, unanswered)


def _all_answered(calling: int | None, unanswered: list[str]) -> None:
    if calling is not None and unanswered:
        raise InvalidRequest(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(unanswered)}",
            param=f"messages.[{calling}].role",
        )


# -- tools ----------------------------------------------------------------------------------------------
def _tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise wrong_type("tools", "an array of objects", tools)
    if not tools:
        raise empty_array("tools")
    for index, tool in enumerate(tools):
        at = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise wrong_type(at, "an object", tool)
        if "type" not in tool:
            raise missing(f"{at}.type")
        if tool["type"] not in TOOL_TYPES:
            raise invalid_value(f"{at}.type", tool["type"], TOOL_TYPES)
        kind = tool["type"]
        if kind not in tool:
            raise missing(f"{at}.{kind}")
        definition = tool[kind]
        if not isinstance(definition, dict):
            raise wrong_type(f"{at}.{kind}", "an object", definition)
        if "name" not in definition:
            raise missing(f"{at}.{kind}.name")
        name = definition["name"]
        if not isinstance(name, str):
            raise wrong_type(f"{at}.{kind}.name", "a string", name)
        if not name or len(name) > 64 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
            raise InvalidRequest(
                f"Invalid '{at}.{kind}.name': string does not match pattern. Expected a string that matches "
                "the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"{at}.{kind}.name",
                code="invalid_value",
            )
        if "parameters" in definition and not isinstance(definition["parameters"], dict):
            raise wrong_type(f"{at}.{kind}.parameters", "an object", definition["parameters"])
    return tools


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> Any:
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise invalid_value("tool_choice", choice, TOOL_CHOICES)
    elif not isinstance(choice, dict):
        raise wrong_type("tool_choice", "one of a string or object", choice)
    elif "type" not in choice:
        raise missing("tool_choice.type")
    if not tools:
        raise InvalidRequest(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )
    if isinstance(choice, dict) and choice["type"] == "function":
        function = choice.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise missing("tool_choice.function.name")
        names = [tool["function"]["name"] for tool in tools if tool["type"] == "function"]
        if function["name"] not in names:
            raise InvalidRequest(
                f"Invalid value for 'tool_choice': function '{function['name']}' was not found in 'tools'.",
                param="tool_choice",
            )
    return choice


# -- streaming and numbers ------------------------------------------------------------------------------
def _streaming(body: dict[str, Any]) -> tuple[bool, bool, bool]:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise wrong_type("stream", "a boolean", stream)
    options = body.get("stream_options")
    if options is None:
        return bool(stream), False, True
    if not isinstance(options, dict):
        raise wrong_type("stream_options", "an object", options)
    if not stream:
        raise InvalidRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
        )
    for key in ("include_usage", "include_obfuscation"):
        if key in options and not isinstance(options[key], bool):
            raise wrong_type(f"stream_options.{key}", "a boolean", options[key])
    return True, bool(options.get("include_usage")), options.get("include_obfuscation", True) is not False


def _bounded_integer(body: dict[str, Any], name: str, minimum: int, maximum: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(name, "an integer", value)
    if value < minimum:
        raise InvalidRequest(
            f"Invalid '{name}': integer below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if maximum is not None and value > maximum:
        raise InvalidRequest(
            f"Invalid '{name}': integer above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    return value
