"""Per-test isolation: what one test writes is rolled back before the next one runs.

Two tests, each writing a squad under its own name and checking that the other's is absent. In
whichever order they run in one process, the second would see the first's squad if the rollback
leaked (under xdist they may land on different workers, where each has its own database anyway).
"""

import pytest
from sqlalchemy import select

from app.models import Squad
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

NAMES = ("isolation-probe-first", "isolation-probe-second")


async def write_mine_and_look_for_the_other(app_client, db_session, fake_github, mine: str, other: str) -> None:
    await make_squad(app_client, fake_github, name=mine)

    names = set(await db_session.scalars(select(Squad.name).where(Squad.name.in_(NAMES))))

    assert names == {mine}, f"expected only this test's squad {mine!r}, found {sorted(names)}"


async def test_the_first_probe_sees_nothing_of_the_second(app_client, db_session, fake_github):
    await write_mine_and_look_for_the_other(app_client, db_session, fake_github, *NAMES)


async def test_the_second_probe_sees_nothing_of_the_first(app_client, db_session, fake_github):
    await write_mine_and_look_for_the_other(app_client, db_session, fake_github, *reversed(NAMES))
