"""Squad tokens: issued once when a squad is created, stored only as a hash."""

import hashlib
import secrets

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_session
from app.models import Squad

SESSION_COOKIE = "squad_session"

bearer_scheme = HTTPBearer(auto_error=False)


def new_token() -> str:
    return "sq_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _squad_for_token(session: AsyncSession, token: str | None) -> Squad:
    if not token:
        raise HTTPException(
            401,
            "missing bearer token: send 'Authorization: Bearer <squad token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    squad = await session.scalar(select(Squad).where(Squad.token_hash == hash_token(token)))
    if squad is None:
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
    return squad


async def current_squad(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    session: AsyncSession = Depends(get_session),
) -> Squad:
    return await _squad_for_token(session, credentials.credentials if credentials else None)


async def current_squad_for_stream(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
) -> Squad:
    """The bearer header, or the session cookie: a browser's EventSource cannot send headers.

    Uses a session of its own, closed before streaming starts: a request-scoped session would stay
    open for the whole (endless) stream and, on SQLite, hold the write lock all that time.
    """
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    async with request.app.state.sessionmaker() as session:
        return await _squad_for_token(session, token)
