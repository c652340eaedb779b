"""Squads and the browser session cookie.

A squad is created by the platform's operator (SQUAD_ADMIN_TOKEN) for a repository that the operator
allows (ALLOWED_REPOSITORIES) and that each of the platform's GitHub tokens can push to (GitHub is asked):
a squad cannot point the platform's credentials at a repository nobody meant it to touch.

The repository then gets the platform's webhook (reviews, merges, comments: app/reviews.py), made or
updated through GitHub's hooks API. A squad is created all the same when that cannot be done (no
PLATFORM_PUBLIC_URL or GITHUB_WEBHOOK_SECRET, or a token without admin rights on the repository): its
answer and the log say why, and DEPLOYMENT.md says how an operator registers the hook by hand.
"""

import asyncio
import logging

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials

from app.api.deps import RuntimeDep, SessionDep
from app.api.errors import documented
from app.auth import SESSION_COOKIE, CurrentSquad, OperatorOnly, bearer_scheme, hash_token, new_token
from app.models import Squad
from app.reviews import HOOK_EVENTS
from app.runtime import Runtime
from app.schemas import SquadCreate, SquadCreated, SquadOut, WebhookRegistration
from app.services.errors import GitHubForbidden, GitHubNotFound, ServiceError
from app.services.github import Repository
from app.services.github_accounts import GitHubAccount

log = logging.getLogger(__name__)

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
    # Any of the platform's tokens may work for a squad's task (app/services/github_accounts.py): each is asked.
    accounts = list(runtime.github_accounts)
    found = await asyncio.gather(*(_seen_by(account, repository) for account in accounts))
    for account, seen in zip(accounts, found, strict=True):
        token = "the platform's GitHub token" + (f" ({account.credential})" if len(accounts) > 1 else "")
        _refuse_unless_pushable(repository, seen, token)


async def _seen_by(account: GitHubAccount, repository: str) -> Repository | None:
    """The repository as the account's token sees it; None when it cannot see it (or it does not exist)."""
    try:
        return await account.github.get_repository(repository)
    except GitHubNotFound:
        return None


def _refuse_unless_pushable(repository: str, found: Repository | None, token: str) -> None:
    if found is None:
        raise _refuse_repository(f"repository {repository} does not exist on GitHub, or {token} cannot see it")
    if found.can_push is None:
        raise _refuse_repository(
            f"GitHub did not say whether {token} can push to {repository} (its answer has no permissions); the "
            "squad could not open pull requests there"
        )
    if not found.can_push:
        raise _refuse_repository(
            f"{token} can only read {repository}; a squad needs a repository it can push to (GitHub's permissions.push)"
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
    # Before the squad's transaction: no database lock is held while GitHub answers.
    webhook = await register_webhook(runtime, body.repository)
    token = new_token()
    squad = Squad(name=body.name, repository=body.repository, token_hash=hash_token(token))
    session.add(squad)
    await session.commit()
    if webhook.status == "not_registered":
        log.warning("squad %s (%s): webhook not registered: %s", squad.id, squad.repository, webhook.detail)
    return SquadCreated(**SquadOut.model_validate(squad).model_dump(), token=token, webhook=webhook)


async def register_webhook(runtime: Runtime, repository: str) -> WebhookRegistration:
    """The repository's webhook to this platform, made or brought up to date; or why it is not there."""
    settings = runtime.settings
    url = settings.webhook_url()
    by_hand = "register it by hand as DEPLOYMENT.md says, or reviews and merges will not reach the platform"
    if url is None:
        detail = f"PLATFORM_PUBLIC_URL is not set, so GitHub has no address to deliver to; set it, or {by_hand}"
        return WebhookRegistration(status="not_registered", url=None, hook_id=None, detail=detail)
    secret = settings.github_webhook_secret.get_secret_value()
    if not secret:
        detail = (
            f"GITHUB_WEBHOOK_SECRET is not set, and the platform takes no unsigned deliveries; set it, then {by_hand}"
        )
        return WebhookRegistration(status="not_registered", url=url, hook_id=None, detail=detail)
    try:
        hook, made = await runtime.github_accounts.primary.github.ensure_hook(repository, url, secret, HOOK_EVENTS)
    except (GitHubForbidden, GitHubNotFound):
        detail = (
            f"GitHub refused to let the platform's token manage the webhooks of {repository} (that takes admin "
            f"rights on the repository); {by_hand}"
        )
        return WebhookRegistration(status="not_registered", url=url, hook_id=None, detail=detail)
    except ServiceError as error:
        detail = f"registering the webhook failed ({error.message}); {by_hand}"
        return WebhookRegistration(status="not_registered", url=url, hook_id=None, detail=detail)
    status = "created" if made else "updated"
    detail = f"GitHub delivers {', '.join(HOOK_EVENTS)} events of {repository} to {url} (hook {hook.id})"
    return WebhookRegistration(status=status, url=url, hook_id=hook.id, detail=detail)


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
