"""A squad holds at most SQUAD_MAX_SANDBOXES live sandboxes: those it made by hand and those of its
pipelines. One more is refused with 429 and a Retry-After that says when the oldest times out at E2B,
without E2B being asked; another squad is not affected; destroying one makes room."""

from datetime import timedelta

import pytest

from app.models import Sandbox, utcnow
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

MOST = 2
SANDBOX_TIMEOUT_S = 600


@pytest.fixture
async def limited(configured_platform, fake_e2b):
    return await configured_platform(squad_max_sandboxes=MOST, sandbox_timeout_s=SANDBOX_TIMEOUT_S)


@pytest.fixture
async def squad(limited, fake_github):
    made = await make_squad(limited.client, fake_github)
    made.task = await made.new_task()
    return made


async def create(squad):
    return await squad.call("POST", "/api/v1/sandboxes", json={"task_id": squad.task["id"]})


async def test_one_sandbox_past_the_limit_is_429_and_e2b_is_not_asked(squad, fake_e2b, e2b_routes):
    made = [await create(squad) for _ in range(MOST)]
    creations = e2b_routes["create_sandbox"].call_count

    refused = await create(squad)

    assert [response.status_code for response in made] == [201] * MOST
    assert refused.status_code == 429, refused.text
    assert "SQUAD_MAX_SANDBOXES" in refused.json()["detail"]
    assert SANDBOX_TIMEOUT_S - 30 < int(refused.headers["retry-after"]) <= SANDBOX_TIMEOUT_S + 1
    assert e2b_routes["create_sandbox"].call_count == creations
    assert len(fake_e2b.snapshot()["sandboxes"]) == MOST


async def test_another_squad_still_gets_its_sandboxes(squad, limited, fake_github):
    for _ in range(MOST):
        await create(squad)
    other = await make_squad(limited.client, fake_github)
    other.task = await other.new_task()

    answers = [(await create(other)).status_code for _ in range(MOST)]

    assert answers == [201] * MOST


async def test_destroying_a_sandbox_makes_room_for_another(squad):
    first = (await create(squad)).json()
    await create(squad)

    destroyed = await squad.call("DELETE", f"/api/v1/sandboxes/{first['id']}")

    assert destroyed.status_code == 204
    assert (await create(squad)).status_code == 201


async def test_a_pipelines_live_sandbox_counts_too(squad, limited):
    async with limited.runtime.sessionmaker() as session:
        session.add(Sandbox(task_id=squad.task["id"], e2b_sandbox_id="pipeline-made", status="ready"))
        await session.commit()
    await create(squad)

    refused = await create(squad)

    assert refused.status_code == 429


async def test_a_sandbox_past_its_e2b_timeout_no_longer_counts(squad, limited):
    long_ago = utcnow() - timedelta(seconds=SANDBOX_TIMEOUT_S + 60)
    async with limited.runtime.sessionmaker() as session:
        for number in range(MOST):
            session.add(
                Sandbox(task_id=squad.task["id"], e2b_sandbox_id=f"old-{number}", status="ready", created_at=long_ago)
            )
        await session.commit()

    assert (await create(squad)).status_code == 201


async def test_a_failed_creation_frees_its_place(squad, fake_e2b):
    fake_e2b.add_fault("create_sandbox", 400, times=MOST + 1)  # refused by E2B, not retried
    failed = [(await create(squad)).status_code for _ in range(MOST + 1)]

    made = [(await create(squad)).status_code for _ in range(MOST)]

    assert failed == [502] * (MOST + 1)
    assert made == [201] * MOST
