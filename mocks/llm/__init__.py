"""Fake of an OpenAI-compatible LLM provider: Chat Completions (plain and streamed, with tools) and Models.

The platform's agent loop sends the conversation to `POST {LLM_API_URL}/chat/completions`; the fake
answers as OpenAI does (mocks.llm.representations), after the checks OpenAI makes (validation, model,
context window, rate limits). What the model says comes from a script the test registered for that
conversation, or from the default agent.

Scripting (mocks.llm.scripts): a script's `match` is searched in a conversation's opening messages (the
system and user prompts before the first assistant message: the platform names the task there); its
turns are answered in order, the turn being the number of assistant messages the request already holds,
so asking the same request again gets the same answer::

    from mocks.llm import FakeLLM, ToolCall, Turn

    fake = FakeLLM()
    fake.script(
        "task-42",
        [
            Turn.calls(ToolCall("write_file", {"path": "calc.py", "content": "def add(a, b):\\n    return a - b\\n"})),
            Turn.call("run_command", command="python -m pytest -q"),   # the platform sends back the failure
            Turn.fail(429, headers={"retry-after-ms": "200"}),         # the next request is rate limited once
            Turn.call("write_file", path="calc.py", content="def add(a, b):\\n    return a + b\\n"),
            Turn.call("run_command", command="python -m pytest -q"),
            Turn.finish_with("Fixed add() and the tests pass"),
        ],
    )

The same through the admin API: `POST /_fake/scripts {"match": "task-42", "turns": [{"tool_calls":
[{"name": "write_file", "arguments": {"path": "calc.py", "content": "..."}}]}, {"error": {"status": 429}},
{"content": "done"}]}`.

The default agent (mocks.llm.agent), for a conversation no script matches: turn 1 writes
AGENT_NOTES.md (`write_file`, a note naming the task), turn 2 checks it (`run_command` `cat
AGENT_NOTES.md`), turn 3 calls `finish` with a summary; it calls only the tools the request offers, and
answers plain text (`stop`) when none are offered or the plan is done.

Inspection: `fake.conversations()` / `fake.conversation("task-42")` (every request's body and every
answer), `fake.requests("create_chat_completion")` (the journal). Tokens are counted by a fixed rule
(mocks.llm.tokens: 4 characters a token), generation speed is `time_to_first_token_ms` and
`per_token_ms` (per fake, per script, `POST /_fake/latency`).
"""

from mocks.llm.scripts import Script, ToolCall, Turn, TurnError
from mocks.llm.state import Conversation, FakeLLM

__all__ = ["Conversation", "FakeLLM", "Script", "ToolCall", "Turn", "TurnError"]
