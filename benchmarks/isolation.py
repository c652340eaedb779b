"""Per-test database isolation, side by side: savepoint rollback vs creating and dropping the schema.

Each "test" writes a squad, a task and an event through the platform's session, as a test would;
the strategies differ only in how they give the next test a clean database:
- the schema made by the migrations and removed by them (how this suite makes its schema, once per
  test worker; a suite isolating by schema would do it per test),
- the schema made and dropped from the models (`metadata.create_all`/`drop_all`: the cheapest way
  to make a schema, which skips the migrations),
- one outer transaction per test, the session joined as a savepoint, rolled back (what we do).
Prints the cost of one isolated test under each and the ratios. `make bench-isolation` runs it on
SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
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
from app.runtime import alembic_command


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


def migrations_strategy(database_url: str) -> Callable[[AsyncEngine], Awaitable[None]]:
    async def migrate_and_downgrade(engine: AsyncEngine) -> None:
        # Alembic runs its own event loop (app/migrations/env.py), so it runs in a thread of its own.
        await asyncio.to_thread(alembic_command, "upgrade", database_url, "head")
        await _one_test(async_sessionmaker(engine))
        await asyncio.to_thread(alembic_command, "downgrade", database_url, "base")

    return migrate_and_downgrade


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
    # Migrating is slow: a tenth of the runs gives a steady median.
    migrations = await measure(engine, migrations_strategy(database_url), max(runs // 10, 5))
    schema = await measure(engine, create_and_drop_schema, runs)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    savepoint = await measure(engine, savepoint_rollback, runs)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
    await engine.dispose()

    medians_ms = {
        name: statistics.median(timings) * 1000
        for name, timings in (
            ("migrate up+down per test", migrations),
            ("create_all+drop_all per test", schema),
            ("savepoint rollback per test", savepoint),
        )
    }
    savepoint_ms = medians_ms["savepoint rollback per test"]
    print(f"isolation on {engine.dialect.name}, median per test ({len(migrations)} migration runs, {runs} others):")
    for name, median_ms in medians_ms.items():
        ratio = median_ms / savepoint_ms
        comparison = f"  (savepoint rollback is {ratio:.1f}x cheaper)" if ratio > 1 else ""
        print(f"  {name:30} {median_ms:8.2f} ms{comparison}")


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
