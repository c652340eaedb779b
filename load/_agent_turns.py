"""The conversation each assignment's agent has with the fake LLM: what a small real agent run looks
like, so the platform streams, stores and delivers what it would in production.

The fake's default agent calls tools without a word; a real model narrates. Each assignment user
scripts its task's conversation (matched by the task's id, which the platform names in the opening
messages) before assigning it, and removes the script once the task ended:

    1. a message on the plan, and write_file of a helper module
    2. a message on the check, and write_file of it
    3. a short message, and run_command of the check (python3 in the sandbox)
    4. finish with a summary

About 420 tokens the model writes, in 4 turns: at the realistic pace (load/_fakes.py) about 10 s of
the model's time a task, each message in several `agent.message` deltas.
"""

from typing import Any

PLAN = (
    "I'll start with a small helper module for this task: one function with a docstring, kept in a "
    "file of its own so the change is easy to review. Then a check that calls it with a few inputs, "
    "and I'll run the check before I finish."
)
CHECK_NOTE = (
    "Now the check: it imports the helper, calls it with an empty list, a single item and a longer "
    "list, and prints one line when every assertion holds, so the command's exit code says whether "
    "the helper works."
)
RUN_NOTE = "Both files are written. Running the check now."
HELPER = '''"""A helper the agent wrote for its task."""


def summarise(items):
    """The number of items, and the longest of them (None when there are none)."""
    if not items:
        return 0, None
    return len(items), max(items, key=len)
'''
CHECK = """from helper import summarise

assert summarise([]) == (0, None)
assert summarise(["a"]) == (1, "a")
assert summarise(["a", "abc", "ab"]) == (3, "abc")
print("summarise works")
"""
SUMMARY = "Added summarise() in agent_work/helper.py and a check of it; the check passes."


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def script(task_id: str) -> dict[str, Any]:
    """The body of `POST /_fake/scripts` for the task's conversation (mocks/llm/scripts.py). It sets no
    pace of its own: the run's (load/_fakes.py) applies."""
    return {
        "match": task_id,
        "name": f"load {task_id}",
        "turns": [
            {"content": PLAN, "tool_calls": [_call("write_file", path="agent_work/helper.py", content=HELPER)]},
            {"content": CHECK_NOTE, "tool_calls": [_call("write_file", path="agent_work/check.py", content=CHECK)]},
            {"content": RUN_NOTE, "tool_calls": [_call("run_command", command="cd agent_work && python3 -B check.py")]},
            {"tool_calls": [_call("finish", summary=SUMMARY)]},
        ],
    }
