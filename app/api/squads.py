"""Squads and the browser session cookie.

A squad is created by the platform's operator (SQUAD_ADMIN_TOKEN) for a repository that the operator
allows (ALLOWED_REPOSITORIES) and that the platform's GitHub token can push to (GitHub is asked):
a squad cannot point the platform's credentials at a repository nobody meant it to touch.
"""

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials

from app.api.deps import RuntimeDep, SessionDep
from app.api.errors import documented
from app.auth import SESSION_COOKIE, CurrentSquad, OperatorOnly, bearer_scheme, hash_token, new_token
from app.models import Squad
from app.runtime import Runtime
from app.schemas import SquadCreate, SquadCreated, SquadOut
from app.services.errors import GitHubNotFound

router = APIRouter(tags=["squads"], responses=documented(503))


def _refuse_repository(message: str) -> RequestValidationError:
    """The squad's `repository` cannot be used: a 422 in the shape of every other invalid field."""
    return RequestValidationError([{"loc": ("body", "repository"), "msg": message, "type": "value_error"}])


async def usable_repository(body: SquadCreate, runtime: Runtime) -> None:
    """Refuse a repository the operator did not allow or the platform's token cannot push to."""
    repository = body.repository
    allowed = runtime.settings.allowed()
    if not allowed.entries:
        raise HTTPException(
            403,
            f"no repository is allowed on this platform yet, so neither is {repository}: its operator lists "
            "the repositories squads may use in ALLOWED_REPOSITORIES (owner/name or owner/*)",
        )
    if not allowed.allows(repository):
        raise HTTPException(
            403,
            f"repository {repository} is not allowed on this platform: ALLOWED_REPOSITORIES lists neither "
            "it nor its owner (owner/*)",
        )
    try:
        found = await runtime.github.get_repository(repository)
    except GitHubNotFound:
        raise _refuse_repository(
            f"repository {repository} does not exist on GitHub, or the platform's GitHub token cannot see it"
        ) from None
    if found.can_push is None:
        raise _refuse_repository(
            f"GitHub did not say whether the platform's GitHub token can push to {repository} (its answer has "
            "no permissions); the squad could not open pull requests there"
        )
    if not found.can_push:
        raise _refuse_repository(
            f"the platform's GitHub token can only read {repository}; a squad needs a repository it can push "
            "to (GitHub's permissions.push)"
        )


@router.post(
    "/squads",
    status_code=status.HTTP_201_CREATED,
    response_model=SquadCreated,
    responses=documented(400, 401, 403, 502),
)
async def create_squad(
    body: SquadCreate, _operator: OperatorOnly, session: SessionDep, runtime: RuntimeDep
) -> SquadCreated:
    """As the operator (`Authorization: Bearer <SQUAD_ADMIN_TOKEN>`): the squad and its token, shown once."""
    await usable_repository(body, runtime)
    token = new_token()
    squad = Squad(name=body.name, repository=body.repository, token_hash=hash_token(token))
    session.add(squad)
    await session.commit()
    return SquadCreated(**SquadOut.model_validate(squad).model_dump(), token=token)


@router.get("/squads/me", response_model=SquadOut, responses=documented(401))
async def read_own_squad(squad: CurrentSquad) -> Squad:
    return squad


@router.post("/session", status_code=status.HTTP_204_NO_CONTENT, responses=documented(401))
async def open_browser_session(
    response: Response, squad: CurrentSquad, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
) -> None:
    """Trade the bearer token for an HttpOnly cookie that the board's EventSource can send."""
    assert credentials is not None  # current_squad has already refused a request without one
    response.set_cookie(
        SESSION_COOKIE, credentials.credentials, httponly=True, samesite="strict", path="/api/v1/events"
    )
