"""A squad of its own per test, made through the in-process API, with its repository in the fake GitHub."""

import pytest

from fixtures.platform_client import AsyncPlatformClient
from fixtures.squads import Squad, make_squad


@pytest.fixture
async def api_squad(app_client, fake_e2b, fake_github) -> Squad[AsyncPlatformClient]:
    return await make_squad(app_client, fake_github)


@pytest.fixture
async def other_squad(app_client, fake_github) -> Squad[AsyncPlatformClient]:
    return await make_squad(app_client, fake_github)
