"""Request-scoped dependencies: a database session and the app's shared services."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.runtime import Runtime

# Methods that never write: their sessions are the runtime's read-only ones (see Runtime).
READ_METHODS = frozenset({"GET", "HEAD"})


def get_runtime(request: Request) -> Runtime:
    """The app's one piece of state (app/main.py `attach_runtime`): everything else comes from it."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def current_runtime(request: Request) -> Runtime:
    """`get_runtime` as a dependency. FastAPI runs a plain `def` dependency in a worker thread: the
    hop there and back costs far more than the lookup, on every request that takes the dependency."""
    return get_runtime(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    runtime = get_runtime(request)
    sessionmaker = runtime.read_sessionmaker if request.method in READ_METHODS else runtime.sessionmaker
    async with sessionmaker() as session:
        yield session


# What a handler declares to receive them, as `runtime: RuntimeDep` and `session: SessionDep`.
RuntimeDep = Annotated[Runtime, Depends(current_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def end_transaction(session: AsyncSession) -> None:
    """End the request's transaction before calling E2B, git or GitHub, which may take seconds.

    On SQLite every transaction holds the database's write lock from its start (BEGIN IMMEDIATE,
    app/db.py): kept across an outside call, it would stop every other request and the workers. What
    the request loaded stays usable (expire_on_commit=False); its writes start a new transaction.
    """
    await session.commit()
