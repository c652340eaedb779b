"""Committed events wake the runtime's EventSignal, whoever committed them, and nothing else does.

The wake comes from the session's own commit (app/events.py), so neither a request handler nor a
pipeline step can forget it, and it comes once the events are visible to readers: not when a
savepoint is released, not after a rollback, not for a commit that stored no event.
"""

import asyncio
import threading

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.events import record_event
from app.models import Squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


class Wakes:
    """Listens to a signal: how often it was notified, and from which threads and event loops."""

    def __init__(self) -> None:
        self.count = 0
        self.threads: set[int] = set()
        self.loops: set[asyncio.AbstractEventLoop] = set()

    def __call__(self) -> None:
        self.count += 1
        self.threads.add(threading.get_ident())
        self.loops.add(asyncio.get_running_loop())


@pytest.fixture
def wakes(runtime) -> Wakes:
    listener = Wakes()
    runtime.signal.add_listener(listener)
    return listener


async def test_a_commit_that_stored_events_wakes_the_signal_in_the_event_loops_thread(runtime, api_squad, wakes):
    async with runtime.sessionmaker() as session:
        await record_event(session, api_squad.squad["id"], "test.event")
        await record_event(session, api_squad.squad["id"], "test.event")
        assert wakes.count == 0, "woken before the commit"
        await session.commit()

    assert wakes.count == 1, f"expected one wake for one commit, got {wakes.count}"
    # asyncio.Event is not thread-safe: the wake must come from this loop's own thread.
    assert wakes.threads == {threading.get_ident()}
    assert wakes.loops == {asyncio.get_running_loop()}


async def test_a_commit_without_events_wakes_nothing(runtime, api_squad, wakes):
    async with runtime.sessionmaker() as session:
        squad = await session.get(Squad, api_squad.squad["id"])
        assert squad is not None
        squad.name = f"{squad.name} renamed"
        await session.commit()

    assert wakes.count == 0


async def test_events_rolled_back_wake_nothing_even_when_the_session_commits_later(runtime, api_squad, wakes):
    async with runtime.sessionmaker() as session:
        squad = await session.get(Squad, api_squad.squad["id"])
        assert squad is not None
        await record_event(session, squad.id, "test.event")
        await session.rollback()
        await session.commit()

    assert wakes.count == 0


async def test_a_released_savepoint_wakes_the_signal_only_when_the_transaction_commits(runtime, api_squad, wakes):
    async with runtime.sessionmaker() as session:
        async with session.begin_nested():
            await record_event(session, api_squad.squad["id"], "test.event")
        assert wakes.count == 0, "woken by the savepoint's release, before anyone else can read the event"
        await session.commit()

    assert wakes.count == 1


async def test_sessions_of_a_sessionmaker_without_a_signal_commit_events_quietly(db_connection, api_squad, wakes):
    other_sessions = async_sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint")
    async with other_sessions() as session:
        await record_event(session, api_squad.squad["id"], "test.event")
        await session.commit()

    assert wakes.count == 0


async def test_the_api_wakes_the_signal_with_each_commit_of_events(api_squad, wakes):
    task = await api_squad.new_task()
    assert wakes.count == 1, "creating a task stores task.created"

    await api_squad.assign(task["id"])
    assert wakes.count == 2, "assigning it stores task.assigned"
