"""A squad of its own per test, made through the in-process API, with its repository in the fake GitHub;
for tests that need connections of their own, a runtime on a database of the test module's own; and a
task whose pull request is in review, on a platform that takes the fake GitHub's webhooks."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.main import attach_runtime, create_app
from app.models import Event, Job, JobState, Task
from app.runtime import Runtime, migrate
from app.settings import Settings
from fixtures import http
from fixtures.databases import worker_database_url
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


@pytest.fixture(scope="module")
def module_database_url(
    request: pytest.FixtureRequest, worker_id: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A migrated database of the test module's own, for tests that need connections of their own,
    which the rolled-back test transaction cannot give (one connection, savepoints in a stack, and on
    SQLite one writer)."""
    name = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    url = worker_database_url(f"{worker_id}_{name}", tmp_path_factory.mktemp(f"{name}-db"))
    migrate(url)
    return url


@pytest.fixture
def own_runtime_changes() -> dict[str, Any]:
    """The settings `own_runtime` changes from the suite's; a module overrides this fixture to change them."""
    return {}


@pytest.fixture
async def own_runtime(
    inprocess_settings: Settings, module_database_url: str, own_runtime_changes: dict[str, Any]
) -> AsyncIterator[Runtime]:
    """A runtime with its own engine on `module_database_url`: each test's squads are its own, and no
    job outlives its test."""
    settings = inprocess_settings.model_copy(update={"database_url": module_database_url, **own_runtime_changes})
    async with Runtime(settings) as runtime:
        yield runtime
        # Whatever this test left unfinished must not be claimed by the next test's worker.
        async with runtime.sessionmaker() as session:
            await session.execute(
                update(Job).where(Job.state.in_([JobState.QUEUED, JobState.RUNNING])).values(state=JobState.DONE)
            )
            await session.commit()


@pytest.fixture
async def own_client(own_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The platform's API in-process on `own_runtime`."""
    app = create_app(own_runtime.settings)
    attach_runtime(app, own_runtime)
    async with http.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://squad.test") as client:
        yield client


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
