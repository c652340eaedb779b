"""A squad of its own per test, made through the in-process API, with its repository in the fake GitHub;
and, for tests that need connections of their own, a runtime on a database of the test module's own."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.main import attach_runtime, create_app
from app.models import Job, JobState
from app.runtime import Runtime, migrate
from app.settings import Settings
from fixtures import http
from fixtures.databases import worker_database_url
from fixtures.platform_client import AsyncPlatformClient
from fixtures.squads import Squad, make_squad


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
