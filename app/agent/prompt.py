"""What the model is told: the system prompt (its tools and their rules), the task as the first user
message, and the tools' JSON schemas as the Chat Completions API takes them. A review round adds a
second user message: what the reviewers asked for on the pull request.

The prompt holds the task, the repository's name and the branch (and a review's text): nothing of
the platform's credentials, which the model never needs (the platform commits and pushes for it).
"""

from dataclasses import dataclass, field
from typing import Any

from app.services.git import REPO_DIR, WORKSPACE

SYSTEM_PROMPT = f"""You are {{agent_name}}, a software engineer of the Agent Squad platform. You work on one task in a \
git repository checked out at {REPO_DIR}, inside a disposable Linux sandbox, using these tools:

- run_command(command, cwd?, timeout_s?): runs a bash command and returns its exit code and output. `cwd` is \
relative to the repository's root (the default). Long output is cut in the middle.
- read_file(path): returns the text of a file.
- write_file(path, content): creates or replaces a file with `content`; missing directories are created.
- finish(summary): ends your work. `summary` says what you changed and how you checked it; it becomes the pull \
request's description.

Rules:
- Paths are relative to the repository's root, and must stay inside {WORKSPACE}.
- Do not commit, push or switch branches: when you finish, the platform commits every change you made to the \
task's branch, pushes it and opens the pull request.
- The sandbox holds no credentials; you need none.
- Work in small steps: change something, run a check, read its result, go on.
- When the task is done, call finish. Call it without changing anything only when the task needs no change."""

USER_PROMPT = """{title}

{description}

---
Task: {task_id}
Repository: {repository}, cloned at {repo_dir}
Branch: {branch} ({branch_state})"""


REVIEW_PROMPT = """Review round {round} of your pull request #{pull_number} ({pull_url}): the reviewers asked for \
changes. The branch holds your pull request as it is; change what they ask for, check it, then call finish. \
Your summary is posted as your reply on the pull request: say what you changed for each request, or why you \
changed nothing.

{feedback}"""


@dataclass(frozen=True)
class Feedback:
    """One reviewer's request: a review asking for changes, a comment addressed to the agent, or a comment
    on a line; `comments` are the lines it is about, (path, line or None for the whole file, text)."""

    kind: str  # review, comment, review_comment
    reviewer: str
    body: str
    comments: list[tuple[str, int | None, str]] = field(default_factory=list)

    def text(self) -> str:
        said = {"review": "requested changes", "comment": "commented", "review_comment": "commented on a line"}
        lines = [f"{self.reviewer} {said.get(self.kind, 'wrote')}:"]
        if self.body.strip():
            lines += [f"> {line}" for line in self.body.strip().splitlines()]
        for path, line, body in self.comments:
            where = f"{path}, line {line}" if line is not None else path
            lines.append(f"- on {where}: {' '.join(body.split())}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ReviewRound:
    round: int
    pull_number: int
    pull_url: str
    feedback: list[Feedback]

    def text(self) -> str:
        feedback = "\n\n".join(item.text() for item in self.feedback) or "(the requests could not be read)"
        return REVIEW_PROMPT.format(
            round=self.round, pull_number=self.pull_number, pull_url=self.pull_url, feedback=feedback
        )


@dataclass(frozen=True)
class AgentTask:
    """What the agent is asked to do, and where."""

    task_id: str
    title: str
    description: str
    repository: str  # owner/name
    branch: str
    base_branch: str
    resumed: bool  # the branch holds what an earlier run of the task pushed
    agent_name: str
    review: ReviewRound | None = None  # a review round: what the reviewers asked for


def opening_messages(task: AgentTask) -> list[dict[str, Any]]:
    """The system prompt and the task (and, in a review round, the review): the conversation's opening."""
    if task.review is not None:
        state = f"it holds your pull request #{task.review.pull_number}; the review to answer follows"
    elif task.resumed:
        state = "it already holds what an earlier attempt at this task pushed: carry on from there"
    else:
        state = f"new, from {task.base_branch}"
    user = USER_PROMPT.format(
        title=task.title,
        description=task.description.strip() or "(no description)",
        task_id=task.task_id,
        repository=task.repository,
        repo_dir=REPO_DIR,
        branch=task.branch,
        branch_state=state,
    )
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT.format(agent_name=task.agent_name)},
        {"role": "user", "content": user},
    ]
    if task.review is not None:
        messages.append({"role": "user", "content": task.review.text()})
    return messages


def _function(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


TOOLS: list[dict[str, Any]] = [
    _function(
        "run_command",
        "Run a bash command in the repository (or in cwd); returns its exit code and output.",
        {
            "command": {"type": "string", "description": "the command line, run by bash"},
            "cwd": {"type": "string", "description": "directory relative to the repository's root"},
            "timeout_s": {"type": "number", "description": "seconds before the command is stopped"},
        },
        ["command"],
    ),
    _function(
        "read_file",
        "Read a text file of the repository.",
        {"path": {"type": "string", "description": "path relative to the repository's root"}},
        ["path"],
    ),
    _function(
        "write_file",
        "Create or replace a file of the repository with the given content.",
        {
            "path": {"type": "string", "description": "path relative to the repository's root"},
            "content": {"type": "string", "description": "the file's whole new content"},
        },
        ["path", "content"],
    ),
    _function(
        "finish",
        "End the work on the task: the platform then commits the changes and opens the pull request.",
        {"summary": {"type": "string", "description": "what was changed and how it was checked"}},
        ["summary"],
    ),
]
TOOL_NAMES = tuple(tool["function"]["name"] for tool in TOOLS)
