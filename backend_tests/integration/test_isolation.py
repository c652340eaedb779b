"""Per-test isolation: what one test writes is rolled back before the next one runs.

Two tests, each writing a squad under its own name and checking that the other's is absent. In
whichever order they run in one process, the second would see the first's squad if the rollback
leaked (under xdist they may land on different workers, where each has its own database anyway).
"""

import pytest
from sqlalchemy import select

from app.models import Squad
from fixtures.factories import squad_data

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

NAMES = ("isolation-probe-first", "isolation-probe-second")


async def write_mine_and_look_for_the_other(app_client, db_session, mine: str, other: str) -> None:
    response = await app_client.post("/api/v1/squads", json=squad_data(name=mine))
    assert response.status_code == 201, response.text

    names = set(await db_session.scalars(select(Squad.name).where(Squad.name.in_(NAMES))))

    assert names == {mine}, f"expected only this test's squad {mine!r}, found {sorted(names)}"


async def test_the_first_probe_sees_nothing_of_the_second(app_client, db_session):
    await write_mine_and_look_for_the_other(app_client, db_session, *NAMES)


async def test_the_second_probe_sees_nothing_of_the_first(app_client, db_session):
    await write_mine_and_look_for_the_other(app_client, db_session, *reversed(NAMES))
