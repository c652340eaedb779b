"""Failure scenarios run the pipeline in-process: an assigned task and a way to run its job."""

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.models import Event, Task
from fixtures.api_squad import ApiSquad, make_squad


@dataclass
class PipelineRun:
    api: ApiSquad
    runtime: Any
    db_session: Any
    task: dict[str, Any]

    async def assign_and_run(self) -> Task:
        response = await self.api.call(
            "POST", f"/api/v1/tasks/{self.task['id']}/assign", json={"agent_id": self.api.agent["id"]}
        )
        assert response.status_code == 202, response.text
        assert await self.runtime.worker().run_once()
        self.db_session.expire_all()
        return await self.db_session.get(Task, self.task["id"])

    async def events(self) -> list[Event]:
        query = select(Event).where(Event.task_id == self.task["id"]).order_by(Event.id)
        return list(await self.db_session.scalars(query))


@pytest.fixture
async def pipeline_run(app_client, runtime, db_session, fake_e2b, fake_github) -> PipelineRun:
    api = await make_squad(app_client, fake_github)
    return PipelineRun(api, runtime, db_session, await api.new_task())
