"""Per-test database isolation, side by side: savepoint rollback vs creating and dropping the schema.

Each "test" writes a squad, a task and an event through the platform's session, as a test would;
the two strategies differ only in how they give the next test a clean database. Prints the cost
of one isolated test under each and the ratio. `make bench-backend` runs it on SQLite, and on
PostgreSQL when TEST_DATABASE_URL is set.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.db import create_engine
from app.models import Base, Event, Squad, Task, new_id


async def _one_test(sessionmaker: async_sessionmaker) -> None:
    async with sessionmaker() as session:
        squad = Squad(name="bench", repository="acme/widgets", token_hash=new_id() + new_id())
        session.add(squad)
        await session.flush()
        task = Task(squad_id=squad.id, title="bench")
        session.add(task)
        await session.flush()
        session.add(Event(squad_id=squad.id, task_id=task.id, type="task.created", data={}))
        await session.commit()


async def savepoint_rollback(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        outer = await connection.begin()
        sessionmaker = async_sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        await _one_test(sessionmaker)
        await outer.rollback()


async def create_and_drop_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await _one_test(async_sessionmaker(engine))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)


async def measure(engine: AsyncEngine, strategy: Callable[[AsyncEngine], Awaitable[None]], runs: int) -> list[float]:
    await strategy(engine)  # warm-up: connections, statement caches
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await strategy(engine)
        timings.append(time.perf_counter() - started)
    return timings


async def main(database_url: str, runs: int) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
    schema = await measure(engine, create_and_drop_schema, runs)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    savepoint = await measure(engine, savepoint_rollback, runs)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
    await engine.dispose()

    backend = engine.dialect.name
    schema_ms, savepoint_ms = statistics.median(schema) * 1000, statistics.median(savepoint) * 1000
    print(f"isolation on {backend}, {runs} tests each, median per test:")
    print(f"  create+drop schema per test: {schema_ms:8.2f} ms")
    print(f"  savepoint rollback per test: {savepoint_ms:8.2f} ms")
    print(f"  savepoint rollback is {schema_ms / savepoint_ms:.1f}x cheaper")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: TEST_DATABASE_URL, else a SQLite file")
    args = parser.parse_args()
    url = args.database_url or os.environ.get("TEST_DATABASE_URL")
    if url:
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='bench-isolation-')}/bench.db"
    asyncio.run(main(url, args.runs))
