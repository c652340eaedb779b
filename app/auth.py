"""Squad tokens: issued once when a squad is created, stored only as a hash; and the operator's
token (SQUAD_ADMIN_TOKEN), which creating a squad takes."""

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_runtime, get_session
from app.known_squads import KnownSquads
from app.models import Squad

SESSION_COOKIE = "squad_session"

bearer_scheme = HTTPBearer(auto_error=False)


def new_token() -> str:
    return "sq_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def squad_for_token(session: AsyncSession, token: str | None, known: KnownSquads | None = None) -> Squad:
    if not token:
        raise HTTPException(
            401,
            "missing bearer token: send 'Authorization: Bearer <squad token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token_hash = hash_token(token)
    squad = known.get(token_hash) if known is not None else None
    if squad is not None:
        return squad
    squad = await session.scalar(select(Squad).where(Squad.token_hash == token_hash))
    if squad is None:
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
    if known is not None:
        known.remember(squad)
    return squad


def within_rate(request: Request, squad: Squad) -> None:
    """429 for a squad past its request rate (SQUAD_RATE_LIMIT_PER_S), before its request does any work."""
    rate = get_runtime(request).request_rate
    if rate is not None:
        rate.check(squad.id)


async def current_squad(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    session: AsyncSession = Depends(get_session),
) -> Squad:
    squad = await squad_for_token(
        session, credentials.credentials if credentials else None, get_runtime(request).squads
    )
    within_rate(request, squad)
    return squad


def _same_secret(given: str, expected: str) -> bool:
    """Constant time, and blind to the length too: both sides are hashed to 32 bytes first."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest())


async def operator(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> None:
    """Lets only the holder of the platform's SQUAD_ADMIN_TOKEN through (a squad's token is not it)."""
    expected = get_runtime(request).settings.squad_admin_token.get_secret_value()
    if not expected:
        raise HTTPException(
            403,
            "creating squads is turned off: this platform has no operator token; its operator sets "
            "SQUAD_ADMIN_TOKEN to turn it on",
        )
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            401,
            "creating a squad takes the platform's operator token: send 'Authorization: Bearer <SQUAD_ADMIN_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not _same_secret(credentials.credentials, expected):
        raise HTTPException(403, "this token is not the platform's operator token (SQUAD_ADMIN_TOKEN)")


# What a handler declares to serve only a squad, or only the operator: `squad: CurrentSquad`.
CurrentSquad = Annotated[Squad, Depends(current_squad)]
OperatorOnly = Annotated[None, Depends(operator)]
