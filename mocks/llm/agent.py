"""The default agent: what the fake LLM answers a conversation no script matches.

It makes one small, sensible change and finishes, calling only the tools the request offers, by the
names the platform gives its tools:

    run_command(command: str, cwd?: str, timeout_s?: int)   read_file(path: str)
    write_file(path: str, content: str)                       finish(summary: str)

Its plan, one step per turn (turn = the assistant messages the request already holds):

1. `write_file` of AGENT_NOTES.md: a short note naming the task (the first line of the first user
   message) and, when the conversation went on, the latest request (of the last user message);
2. a check of it: `run_command` `cat AGENT_NOTES.md` (or, without run_command, `read_file`);
3. `finish` with a one-line summary.

Steps whose tool is not offered are left out: without `write_file` the check becomes `run_command`
`git status --short`; without `finish` the last step is the summary as plain text (`stop`), which is
also the answer to every turn past the plan and to a request offering no tools (or `tool_choice: "none"`).
`tool_choice: "required"` turns a plain-text answer into `finish` (or the first offered tool), and a
named `tool_choice` is called with the arguments the plan would give it. It reads no tool results: the
same turn of the same conversation always gets the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mocks.llm.scripts import ToolCall, Turn
from mocks.llm.tokens import content_text

NOTE_PATH = "AGENT_NOTES.md"
MAX_LINE = 200


def first_line(text: str) -> str:
    for line in text.splitlines():
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            return line[:MAX_LINE]
    return ""


def user_lines(messages: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(the first line of the first user message, the first line of the last one)."""
    users = [first_line(content_text(message.get("content"))) for message in messages if message.get("role") == "user"]
    users = [line for line in users if line] or [first_line(content_text(messages[0].get("content")))]
    return users[0], users[-1]


def offered_functions(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        tool["function"]["name"]
        for tool in tools
        if tool.get("type") == "function" and isinstance(tool.get("function"), dict)
    ]


def note(task: str, latest: str) -> str:
    lines = ["# Agent notes", "", f"Task: {task}"]
    if latest != task:
        lines.append(f"Latest request: {latest}")
    lines += ["", "Written by the fake LLM's default agent: a small, deterministic change to commit.", ""]
    return "\n".join(lines)


def arguments_for(name: str, task: str, latest: str, *, wrote_note: bool) -> dict[str, Any]:
    if name == "write_file":
        return {"path": NOTE_PATH, "content": note(task, latest)}
    if name == "run_command":
        return {"command": f"cat {NOTE_PATH}" if wrote_note else "git status --short"}
    if name == "read_file":
        return {"path": NOTE_PATH}
    if name == "finish":
        return {"summary": summary(task, wrote_note=wrote_note)}
    return {}


def summary(task: str, *, wrote_note: bool) -> str:
    if wrote_note:
        return f"Added {NOTE_PATH} with a short note on the task: {task}"
    return f"Looked at the task and changed nothing: {task}"


def plan(offered: Sequence[str], task: str, latest: str) -> list[Turn]:
    wrote = "write_file" in offered
    check = "run_command" if "run_command" in offered else ("read_file" if wrote and "read_file" in offered else None)
    names = [
        name for name in ("write_file" if wrote else None, check, "finish" if "finish" in offered else None) if name
    ]
    return [Turn(tool_calls=[ToolCall(name, arguments_for(name, task, latest, wrote_note=wrote))]) for name in names]


def default_turn(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]], tool_choice: Any, index: int
) -> Turn:
    """The default agent's answer to turn `index` of a conversation (see the module's docstring)."""
    task, latest = user_lines(messages)
    offered = [] if tool_choice == "none" else offered_functions(tools)
    wrote = "write_file" in offered
    if isinstance(tool_choice, dict) and isinstance(tool_choice.get("function"), dict):
        name = tool_choice["function"]["name"]
        return Turn(tool_calls=[ToolCall(name, arguments_for(name, task, latest, wrote_note=wrote))])
    steps = plan(offered, task, latest)
    if index < len(steps):
        return steps[index]
    if tool_choice == "required" and offered:
        name = "finish" if "finish" in offered else offered[0]
        return Turn(tool_calls=[ToolCall(name, arguments_for(name, task, latest, wrote_note=wrote))])
    return Turn(content=summary(task, wrote_note=wrote))
