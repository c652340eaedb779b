"""A process's writers on a SQLite file (app/db.py): they take turns on its one connection, first come
first served, instead of meeting in SQLite's busy handler, where each sleeps and wakes to find the
write lock taken again; waits there show as tails of hundreds of milliseconds under load."""

import asyncio
import uuid

import pytest
from sqlalchemy.engine import make_url

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

WRITERS = 10
# What each writer's transaction takes, as a request's work between its first statement and commit.
TRANSACTION_S = 0.02
# A busy handler wait shorter than one transaction: a writer that had to wait there would fail.
BUSY_WAIT_S = 0.005


async def test_writers_of_one_process_take_turns_and_none_waits_in_the_busy_handler(module_database_url):
    from app.db import create_engine, create_sessionmaker, lock_wait
    from app.models import Squad

    if make_url(module_database_url).get_backend_name() != "sqlite":
        pytest.skip("SQLite only: PostgreSQL has no database-wide write lock")
    engine = create_engine(module_database_url)
    sessions = create_sessionmaker(engine)

    async def write(number: int) -> None:
        async with sessions() as session:
            await session.connection(execution_options=lock_wait(BUSY_WAIT_S))
            session.add(Squad(name=f"writer-{number}", repository="acme/widgets", token_hash=uuid.uuid4().hex))
            await asyncio.sleep(TRANSACTION_S)  # allowed-sleep: the work the other writers queue behind
            await session.commit()

    try:
        async with asyncio.timeout(WRITERS * TRANSACTION_S + 10):
            # With several connections, every writer but the first would wait for the lock in
            # SQLite's busy handler and give up after BUSY_WAIT_S: "database is locked".
            await asyncio.gather(*(write(number) for number in range(WRITERS)))
    finally:
        await engine.dispose()
