"""A squad's request rate (SQUAD_RATE_LIMIT_PER_S, bursts of SQUAD_RATE_LIMIT_BURST): past it the squad
gets 429 with Retry-After saying when its next request is allowed, before the request does any work;
another squad is not slowed at all. The clock of the platform's bucket is the test's, so no test waits."""

import pytest
from sqlalchemy import func, select

from app.models import Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

RATE_PER_S, BURST = 2.0, 5


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited(configured_platform):
    platform = await configured_platform(squad_rate_limit_per_s=RATE_PER_S, squad_rate_limit_burst=BURST)
    platform.clock = Clock()
    platform.runtime.request_rate.clock = platform.clock
    return platform


@pytest.fixture
async def flooder(limited, fake_github):
    return await make_squad(limited.client, fake_github)


@pytest.fixture
async def bystander(limited, fake_github):
    return await make_squad(limited.client, fake_github)


async def spend_the_burst(squad) -> None:
    # make_squad's agent took one request of the burst already.
    for _ in range(BURST - 1):
        assert (await squad.call("GET", "/api/v1/tasks")).status_code == 200


async def test_past_its_burst_a_squad_gets_429_with_when_to_come_back(limited, flooder):
    await spend_the_burst(flooder)

    refused = await flooder.call("GET", "/api/v1/tasks")

    assert refused.status_code == 429, refused.text
    assert refused.headers["retry-after"] == "1"  # half a second, rounded up to HTTP's whole seconds
    assert "2 a second" in refused.json()["detail"] and "0.50 s" in refused.json()["detail"]


async def test_another_squad_is_answered_while_one_is_refused(limited, flooder, bystander):
    await spend_the_burst(flooder)
    refused = [(await flooder.call("GET", "/api/v1/tasks")).status_code for _ in range(20)]

    answered = [(await bystander.call("GET", "/api/v1/tasks")).status_code for _ in range(BURST - 1)]

    assert set(refused) == {429}
    assert answered == [200] * (BURST - 1)


async def test_after_the_retry_after_the_squad_is_answered_again(limited, flooder):
    await spend_the_burst(flooder)
    refused = await flooder.call("GET", "/api/v1/tasks")

    limited.clock.now += float(refused.headers["retry-after"])

    assert (await flooder.call("GET", "/api/v1/tasks")).status_code == 200


async def test_a_refused_request_does_no_work(limited, flooder, db_session):
    await spend_the_burst(flooder)

    refused = await flooder.call("POST", "/api/v1/tasks", json={"title": "over the limit"})

    assert refused.status_code == 429
    stored = await db_session.scalar(select(func.count()).select_from(Task).where(Task.squad_id == flooder.id))
    assert stored == 0


async def test_the_event_stream_counts_and_is_refused_before_it_opens(limited, flooder):
    await spend_the_burst(flooder)

    refused = await flooder.call("GET", "/api/v1/events")

    assert refused.status_code == 429 and refused.headers["content-type"] == "application/json"


async def test_requests_with_a_wrong_token_spend_nothing_of_the_squads(limited, flooder):
    for _ in range(3 * BURST):
        assert (await limited.client.get("/api/v1/tasks", headers={"Authorization": "Bearer sq_x"})).status_code == 401

    assert (await flooder.call("GET", "/api/v1/tasks")).status_code == 200


async def test_creating_squads_is_the_operators_and_not_counted(limited, fake_github):
    made = [await make_squad(limited.client, fake_github) for _ in range(BURST + 2)]

    assert len({squad.id for squad in made}) == BURST + 2


async def test_a_rate_of_zero_turns_the_limit_off(configured_platform, fake_github):
    platform = await configured_platform(squad_rate_limit_per_s=0, squad_rate_limit_burst=1)
    squad = await make_squad(platform.client, fake_github)

    answers = [(await squad.call("GET", "/api/v1/tasks")).status_code for _ in range(20)]

    assert answers == [200] * 20
