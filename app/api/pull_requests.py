"""Open a task's pull request by hand; the task moves to review with its URL."""

from fastapi import APIRouter, HTTPException, status

from app.api.deps import RuntimeDep, SessionDep, end_transaction
from app.api.errors import documented
from app.api.tasks import own_task
from app.auth import CurrentSquad
from app.events import record_event
from app.models import TaskStatus
from app.schemas import PullRequestCreate, PullRequestOut

router = APIRouter(prefix="/github", tags=["github"], responses=documented(400, 401, 404, 409, 502, 503))


@router.post("/pull-requests", status_code=status.HTTP_201_CREATED, response_model=PullRequestOut)
async def create_pull_request(
    body: PullRequestCreate, squad: CurrentSquad, session: SessionDep, runtime: RuntimeDep
) -> PullRequestOut:
    task = await own_task(session, squad, body.task_id)
    await end_transaction(session)
    # The task's account, as its pipeline's: its replies to reviews come from the account that opened it.
    github = runtime.github_accounts.for_task(task.id).github
    repository = await github.get_repository(squad.repository)
    existing = await github.find_open_pull_request(repository, body.branch)
    if existing is not None:
        raise HTTPException(409, f"a pull request is already open for {body.branch}: {existing.url}")
    pull = await github.create_pull_request(
        repository, body.branch, body.title or task.title, body.body if body.body is not None else task.description
    )
    task.status = TaskStatus.REVIEW
    task.branch = body.branch
    task.pr_url = pull.url
    task.pr_number = pull.number
    task.error = None
    await record_event(
        session, squad.id, "pull_request.opened", {"url": pull.url, "number": pull.number}, task_id=task.id
    )
    await record_event(
        session,
        squad.id,
        "task.status",
        {"status": task.status, "pr_url": pull.url, "error": None},
        task_id=task.id,
        agent_id=task.agent_id,
    )
    await session.commit()
    return PullRequestOut(number=pull.number, url=pull.url, head=pull.head, task_id=task.id)
