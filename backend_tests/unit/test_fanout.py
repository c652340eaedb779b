"""A runtime's event hub is whole when made: on PostgreSQL it has its NOTIFY listener and its reader
engine from the start, rather than having them attached afterwards; nothing connects until a stream
subscribes."""

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.events import EventSignal
from app.fanout import event_hub
from app.pg_notify import PgEventListener

pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]

# Nothing listens there: the hub must not connect before its first subscription.
UNREACHABLE_POSTGRES = "postgresql+asyncpg://squad:squad@127.0.0.1:9/squad"


async def test_a_hub_for_postgresql_is_made_with_its_listener_and_reader_engine():
    hub = event_hub(async_sessionmaker(), EventSignal(), poll_interval_s=60, database_url=UNREACHABLE_POSTGRES)
    try:
        assert isinstance(hub.listener, PgEventListener), f"the hub's listener is {hub.listener!r}"
        assert not hub.listener.listening
        assert hub.reader_engine is not None and hub.reader_engine.dialect.name == "postgresql"
        assert hub.sessionmaker.kw["bind"] is hub.reader_engine, "the hub reads through its own engine"
    finally:
        await hub.close()


async def test_a_hub_without_a_database_url_reads_through_the_sessions_it_is_given():
    sessions = async_sessionmaker()
    hub = event_hub(sessions, EventSignal(), poll_interval_s=60)
    try:
        assert (hub.sessionmaker, hub.listener, hub.reader_engine) == (sessions, None, None)
    finally:
        await hub.close()
