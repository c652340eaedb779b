"""Request and response bodies of the public API."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

REPOSITORY_PATTERN = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"


class StrictBody(BaseModel):
    # Unknown fields are a client mistake worth reporting, not ignoring.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SquadCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)
    repository: str = Field(pattern=REPOSITORY_PATTERN, max_length=200, description="owner/name on GitHub")


class SquadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    repository: str
    created_at: datetime


class SquadCreated(SquadOut):
    token: str = Field(description="Bearer token of this squad; shown only once")


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
    created_at: datetime
    updated_at: datetime


class Health(BaseModel):
    status: str
    database: str
