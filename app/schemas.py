"""Request and response bodies of the public API."""

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from app.repositories import MAX_LENGTH as REPOSITORY_MAX_LENGTH
from app.repositories import SHAPE as REPOSITORY_SHAPE
from app.repositories import repository_problem


def _check_branch_name(name: str) -> str:
    """The rules of `git check-ref-format --branch` that matter here, with the reason when broken."""
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", name):
        raise ValueError("a branch name may only hold letters, digits, '.', '_', '/' and '-'")
    if name.startswith(("/", "-", ".")) or name.endswith(("/", ".", ".lock")) or ".." in name or "//" in name:
        raise ValueError("not a valid git branch name (see git check-ref-format)")
    return name


BranchName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_check_branch_name)]


def _check_repository(value: str) -> str:
    problem = repository_problem(value)
    if problem:
        raise ValueError(problem)
    return value


RepositoryName = Annotated[
    str,
    Field(
        max_length=REPOSITORY_MAX_LENGTH,
        description="owner/name on GitHub: an owner of 1-39 characters, a name of 1-100 and not '.' or '..'",
        examples=["acme/webapp"],
        # For the API's readers; the validator checks what a pattern cannot say (lengths, '..').
        json_schema_extra={"pattern": REPOSITORY_SHAPE},
    ),
    AfterValidator(_check_repository),
]


def unstorable(text: str) -> str | None:
    """Why no database of the platform's can store `text` (PostgreSQL refuses NUL in text, and text that
    is not valid Unicode cannot be encoded as UTF-8 by either), or None when it can."""
    if "\x00" in text:
        return "must not contain the NUL character (\\u0000), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain unpaired surrogates (such as \\ud800): it is not valid Unicode text"
    return None


class StrictBody(BaseModel):
    # Unknown fields are a client mistake worth reporting, not ignoring.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: object) -> object:
        # Before any other check of the field: a client's text that the database would refuse is
        # the client's mistake (422, naming the field), never the database's (503) or ours (500).
        if isinstance(value, str) and (reason := unstorable(value)):
            raise ValueError(reason)
        return value


class SquadCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)
    repository: RepositoryName


class SquadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    repository: str
    created_at: datetime


class WebhookRegistration(BaseModel):
    """The repository's webhook, which brings reviews and merges back to the platform."""

    status: Literal["created", "updated", "not_registered"] = Field(
        description="made now, already there and brought up to date, or not registered (`detail` says why "
        "and how to register it by hand)"
    )
    url: str | None = Field(description="where GitHub delivers: PLATFORM_PUBLIC_URL + /api/v1/github/webhooks")
    hook_id: int | None
    detail: str


class SquadCreated(SquadOut):
    token: str = Field(description="Bearer token of this squad; shown only once")
    webhook: WebhookRegistration


class AgentCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    squad_id: str
    name: str
    created_at: datetime


class TaskCreate(StrictBody):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20_000)


class TaskUpdate(StrictBody):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    status: Literal["todo", "done"] | None = Field(
        default=None, description="done closes a task in review; todo reopens a failed one"
    )


class TaskAssign(StrictBody):
    agent_id: str = Field(min_length=1, max_length=32)


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    squad_id: str
    title: str
    description: str
    status: str
    agent_id: str | None
    branch: str | None
    pr_url: str | None
    pr_number: int | None
    error: str | None
    prompt_tokens: int = Field(description="tokens of the prompts the task's agent sent the LLM, all runs together")
    completion_tokens: int = Field(description="tokens the LLM answered the task's agent, all runs together")
    cost_usd: float = Field(description="what those tokens cost, in USD, by the platform's price table")
    created_at: datetime
    updated_at: datetime


class SandboxCreate(StrictBody):
    task_id: str = Field(min_length=1, max_length=32)


class SandboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    task_id: str
    e2b_sandbox_id: str
    status: str
    created_at: datetime
    destroyed_at: datetime | None


class CloneRequest(StrictBody):
    sandbox_id: str = Field(min_length=1, max_length=32)


class BranchRequest(StrictBody):
    sandbox_id: str = Field(min_length=1, max_length=32)
    branch: BranchName


class CommitRequest(StrictBody):
    sandbox_id: str = Field(min_length=1, max_length=32)
    message: str = Field(min_length=1, max_length=5_000)


class GitResult(BaseModel):
    sandbox_id: str
    repository: str
    branch: str
    output: str = Field(description="what git printed, secrets removed")


class PullRequestCreate(StrictBody):
    task_id: str = Field(min_length=1, max_length=32)
    branch: BranchName
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = Field(default=None, max_length=20_000)


class PullRequestOut(BaseModel):
    number: int
    url: str
    head: str
    task_id: str


class Health(BaseModel):
    status: str
    database: str
