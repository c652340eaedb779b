"""Squads and the browser session cookie."""

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_session
from app.api.errors import documented
from app.auth import SESSION_COOKIE, bearer_scheme, current_squad, hash_token, new_token
from app.models import Squad
from app.schemas import SquadCreate, SquadCreated, SquadOut

router = APIRouter(tags=["squads"], responses=documented(503))


@router.post("/squads", status_code=status.HTTP_201_CREATED, response_model=SquadCreated, responses=documented(400))
async def create_squad(body: SquadCreate, session: AsyncSession = Depends(get_session)) -> SquadCreated:
    token = new_token()
    squad = Squad(name=body.name, repository=body.repository, token_hash=hash_token(token))
    session.add(squad)
    await session.commit()
    return SquadCreated(**SquadOut.model_validate(squad).model_dump(), token=token)


@router.get("/squads/me", response_model=SquadOut, responses=documented(401))
async def read_own_squad(squad: Squad = Depends(current_squad)) -> Squad:
    return squad


@router.post("/session", status_code=status.HTTP_204_NO_CONTENT, responses=documented(401))
async def open_browser_session(
    response: Response,
    squad: Squad = Depends(current_squad),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
) -> None:
    """Trade the bearer token for an HttpOnly cookie that the board's EventSource can send."""
    assert credentials is not None  # current_squad has already refused a request without one
    response.set_cookie(
        SESSION_COOKIE, credentials.credentials, httponly=True, samesite="strict", path="/api/v1/events"
    )
