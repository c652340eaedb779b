"""Squad tokens: issued once when a squad is created, stored only as a hash."""

import hashlib
import secrets

from fastapi import Depends, HTTPException
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


async def squad_for_token(session: AsyncSession, token: str | None) -> Squad:
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
    return await squad_for_token(session, credentials.credentials if credentials else None)
