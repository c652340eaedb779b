"""Failure scenarios run the pipeline in-process: an assigned task and a way to run its job, and the app
answering an unexpected exception as a server would."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.models import Event, Task
from fixtures import http
from fixtures.platform_client import AsyncPlatformClient
from fixtures.squads import Squad, make_squad


@dataclass
class PipelineRun:
    squad: Squad[AsyncPlatformClient]
    runtime: Any
    db_session: Any
    task: dict[str, Any]

    async def assign_and_run(self) -> Task:
        await self.squad.assign(self.task["id"])
        assert await self.runtime.worker().run_once()
        self.db_session.expire_all()
        return await self.db_session.get(Task, self.task["id"])

    async def events(self) -> list[Event]:
        query = select(Event).where(Event.task_id == self.task["id"]).order_by(Event.id)
        return list(await self.db_session.scalars(query))


@pytest.fixture
async def pipeline_run(app_client, runtime, db_session, fake_e2b, fake_github) -> PipelineRun:
    squad = await make_squad(app_client, fake_github)
    return PipelineRun(squad, runtime, db_session, await squad.new_task())


@pytest.fixture
async def lenient_client(runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The in-process app answering as a server would: an exception becomes a response, not a raise."""
    from app.main import attach_runtime, create_app

    app = create_app(runtime.settings)
    attach_runtime(app, runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with http.AsyncClient(transport=transport, base_url="http://squad.test") as client:
        yield client
