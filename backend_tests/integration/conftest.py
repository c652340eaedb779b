"""A squad of its own per test, made through the in-process API, with its repository in the fake GitHub;
and a task whose pull request is in review, on a platform that takes the fake GitHub's webhooks."""

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.models import Event, Job, Task
from fixtures.inprocess import Delivered, WebhookPlatform
from fixtures.platform_client import AsyncPlatformClient
from fixtures.squads import Squad, make_squad
from mocks.github.state import FakeGitHub


@pytest.fixture
async def api_squad(app_client, fake_e2b, fake_github) -> Squad[AsyncPlatformClient]:
    return await make_squad(app_client, fake_github)


@pytest.fixture
async def other_squad(app_client, fake_github) -> Squad[AsyncPlatformClient]:
    return await make_squad(app_client, fake_github)


REVIEWER = "rita-reviewer"


@dataclass
class PullRequestInReview:
    """A task whose first run opened its pull request and put it in review, on a platform that takes the
    fake GitHub's webhooks (`webhook_platform`); and a reviewer, REVIEWER, who acts on the pull request
    through the fake's Python API (each act's webhooks are held until `deliver`)."""

    platform: WebhookPlatform
    squad: Squad[AsyncPlatformClient]
    task_id: str
    number: int

    @property
    def github(self) -> FakeGitHub:
        return self.platform.github

    @property
    def where(self) -> tuple[str, str, int]:
        return self.squad.owner, self.squad.repo_name, self.number

    async def deliver(self) -> list[Delivered]:
        return await self.platform.deliver()

    def request_changes(self, body: str, comments: list[dict[str, Any]] | None = None, login: str = REVIEWER):
        return self.github.create_review(
            *self.where, login=login, event="REQUEST_CHANGES", body=body, comments=comments or []
        )

    def comment(self, body: str, login: str = REVIEWER):
        return self.github.create_issue_comment(*self.where, login=login, body=body)

    def merge(self, login: str = REVIEWER) -> str:
        return self.github.merge_pull_request(*self.where, login=login)

    def close(self, login: str = REVIEWER):
        return self.github.update_pull_request(*self.where, login=login, state="closed")

    def reopen(self, login: str = REVIEWER):
        return self.github.update_pull_request(*self.where, login=login, state="open")

    async def task(self) -> Task:
        async with self.platform.runtime.sessionmaker() as session:
            task = await session.get(Task, self.task_id)
        assert task is not None
        return task

    async def events(self, *types: str) -> list[Event]:
        """The task's events (of these types, when given), in order."""
        async with self.platform.runtime.sessionmaker() as session:
            query = select(Event).where(Event.task_id == self.task_id).order_by(Event.id)
            if types:
                query = query.where(Event.type.in_(types))
            return list(await session.scalars(query))

    async def jobs(self) -> list[Job]:
        async with self.platform.runtime.sessionmaker() as session:
            return list(await session.scalars(select(Job).where(Job.task_id == self.task_id).order_by(Job.created_at)))


@pytest.fixture
async def in_review(webhook_platform: WebhookPlatform) -> PullRequestInReview:
    squad = await make_squad(webhook_platform.client, webhook_platform.github)
    task = await squad.new_task()
    await squad.assign(task["id"])
    assert await webhook_platform.run_next_job()
    await webhook_platform.deliver()  # the hook's ping, the push and the pull request opened: nothing to do
    scene = PullRequestInReview(webhook_platform, squad, task["id"], 0)
    stored = await scene.task()
    assert (stored.status, stored.error) == ("review", None), stored.error
    assert stored.pr_number is not None
    scene.number = stored.pr_number
    return scene
