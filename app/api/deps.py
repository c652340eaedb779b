"""Request-scoped dependencies: a database session and the app's shared services."""

from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import EventSignal
from app.runtime import Runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


def get_signal(request: Request) -> EventSignal:
    return request.app.state.signal


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime
