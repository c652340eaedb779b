"""A squad of its own per test, made through the in-process API, with its repository in the fake GitHub."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fixtures.factories import agent_data, squad_data, task_data


@dataclass
class ApiSquad:
    client: httpx.AsyncClient
    squad: dict[str, Any]
    agent: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.squad['token']}"}

    @property
    def owner_and_name(self) -> tuple[str, str]:
        owner, name = self.squad["repository"].split("/")
        return owner, name

    async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, url, headers=self.headers, **kwargs)

    async def new_task(self, **overrides: Any) -> dict[str, Any]:
        response = await self.call("POST", "/api/v1/tasks", json=task_data(**overrides))
        assert response.status_code == 201, response.text
        return response.json()

    async def new_sandbox(self, task_id: str) -> dict[str, Any]:
        response = await self.call("POST", "/api/v1/sandboxes", json={"task_id": task_id})
        assert response.status_code == 201, response.text
        return response.json()


async def make_squad(app_client: httpx.AsyncClient, fake_github, with_repository: bool = True) -> ApiSquad:
    body = squad_data()
    if with_repository:
        fake_github.fake.create_repo(*body["repository"].split("/"))
    response = await app_client.post("/api/v1/squads", json=body)
    assert response.status_code == 201, response.text
    squad = response.json()
    headers = {"Authorization": f"Bearer {squad['token']}"}
    agent = (await app_client.post("/api/v1/agents", json=agent_data(), headers=headers)).json()
    return ApiSquad(app_client, squad, agent)


@pytest.fixture
async def api_squad(app_client, fake_e2b, fake_github) -> ApiSquad:
    return await make_squad(app_client, fake_github)


@pytest.fixture
async def other_squad(app_client, fake_github) -> ApiSquad:
    return await make_squad(app_client, fake_github)
