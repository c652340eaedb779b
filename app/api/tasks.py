"""Tasks: create, list, read, update, and assign to an agent (which starts the pipeline)."""

import base64
from datetime import datetime

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlalchemy import Row, and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.board_json import JSONRows
from app.api.deps import SessionDep, get_runtime
from app.api.errors import documented
from app.auth import CurrentSquad
from app.events import record_event
from app.inline_reads import read_rows
from app.models import ACTIVE_JOB_STATES, Agent, Job, Squad, Task, TaskStatus
from app.schemas import TaskAssign, TaskCreate, TaskOut, TaskUpdate

router = APIRouter(tags=["tasks"], responses=documented(401, 503))

# Tasks a page of the list holds unless `limit` says otherwise, and the most it may say.
PAGE_DEFAULT = 100
PAGE_MAX = 500
# The moves a person may make by hand; the pipeline makes the others.
MANUAL_TRANSITIONS = {(TaskStatus.REVIEW, TaskStatus.DONE), (TaskStatus.FAILED, TaskStatus.TODO)}


# The board's reads select the columns of TaskOut and answer them as JSON at once (JSONRows), without
# building a Task and a TaskOut for each row: they are most of the platform's traffic.
TASK_COLUMNS = tuple(Task.__table__.c[name] for name in TaskOut.model_fields)


async def own_task(session: AsyncSession, squad: Squad, task_id: str) -> Task:
    task = await session.get(Task, task_id)
    # Another squad's task is reported exactly like a missing one, so ids leak nothing.
    if task is None or task.squad_id != squad.id:
        raise HTTPException(404, f"task {task_id} not found")
    return task


@router.post("/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskOut, responses=documented(400))
async def create_task(body: TaskCreate, squad: CurrentSquad, session: SessionDep) -> Task:
    task = Task(squad_id=squad.id, title=body.title, description=body.description)
    session.add(task)
    await session.flush()
    await record_event(session, squad.id, "task.created", {"title": task.title}, task_id=task.id)
    await session.commit()
    return task


@router.get(
    "/tasks",
    response_model=list[TaskOut],
    responses={
        200: {
            "description": 'a page of the squad\'s tasks, oldest first; a `Link: <url>; rel="next"` header '
            "names the next page while there is one",
            "headers": {"Link": {"description": "the next page", "schema": {"type": "string"}}},
        },
        **documented(400),
    },
)
async def list_tasks(
    request: Request,
    squad: CurrentSquad,
    session: SessionDep,
    status_filter: TaskStatus | None = Query(None, alias="status"),
    agent_id: str | None = Query(None, max_length=32),
    limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX, description="tasks a page holds"),
    cursor: str | None = Query(
        None, max_length=200, description="where the page starts: the `cursor` of the previous page's next link"
    ),
) -> Response:
    """The squad's tasks in creation order (ties by id), a page at a time: a task created meanwhile
    joins the end, so following the next links lists every task once."""
    query = select(*TASK_COLUMNS).where(Task.squad_id == squad.id)
    if status_filter is not None:
        query = query.where(Task.status == status_filter)
    if agent_id is not None:
        query = query.where(Task.agent_id == agent_id)
    if cursor is not None:
        created_at, task_id = read_cursor(cursor)
        query = query.where(or_(Task.created_at > created_at, and_(Task.created_at == created_at, Task.id > task_id)))
    query = query.order_by(Task.created_at, Task.id).limit(limit + 1)
    page = list(await read_rows(get_runtime(request).inline_reads, session, query))
    headers = {}
    if len(page) > limit:
        page = page[:limit]
        following = request.url.include_query_params(limit=limit, cursor=make_cursor(page[-1]))
        headers["Link"] = f'<{following}>; rel="next"'
    return JSONRows(page, headers=headers)


def make_cursor(last: Task | Row) -> str:
    """Where the page after `last` starts: its creation time and id, opaque to clients."""
    return base64.urlsafe_b64encode(f"{last.created_at.isoformat()}|{last.id}".encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, _, task_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        moment = datetime.fromisoformat(created_at)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        moment = None
    if moment is None or moment.tzinfo is None or not (task_id.isascii() and task_id.isalnum()):
        raise HTTPException(400, "cursor is not one this API gave: take it from the previous page's next link")
    return moment, task_id


@router.get("/tasks/{task_id}", response_model=TaskOut, responses=documented(404))
async def read_task(request: Request, task_id: str, squad: CurrentSquad, session: SessionDep) -> Response:
    rows = await read_rows(get_runtime(request).inline_reads, session, select(*TASK_COLUMNS).where(Task.id == task_id))
    row = rows[0] if rows else None
    # Another squad's task is reported exactly like a missing one, as own_task does.
    if row is None or row.squad_id != squad.id:
        raise HTTPException(404, f"task {task_id} not found")
    return JSONRows(row)


@router.patch("/tasks/{task_id}", response_model=TaskOut, responses=documented(400, 404, 409))
async def update_task(task_id: str, body: TaskUpdate, squad: CurrentSquad, session: SessionDep) -> Task:
    task = await own_task(session, squad, task_id)
    if body.title is not None:
        task.title = body.title
    if body.description is not None:
        task.description = body.description
    if body.status is not None and body.status != task.status:
        if (TaskStatus(task.status), TaskStatus(body.status)) not in MANUAL_TRANSITIONS:
            raise HTTPException(
                409,
                f"task {task.id} is {task.status}; it can only move from review to done or from failed to todo",
            )
        task.status = body.status
        if body.status == TaskStatus.TODO:
            task.error = None
            task.agent_id = None
        await record_event(
            session,
            squad.id,
            "task.status",
            {"status": task.status, "pr_url": task.pr_url, "error": task.error},
            task_id=task.id,
            agent_id=task.agent_id,
        )
    await session.commit()
    return task


@router.post(
    "/tasks/{task_id}/assign",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskOut,
    responses=documented(400, 404, 409),
)
async def assign_task(task_id: str, body: TaskAssign, squad: CurrentSquad, session: SessionDep) -> Task:
    task = await own_task(session, squad, task_id)
    agent = await session.get(Agent, body.agent_id)
    if agent is None or agent.squad_id != squad.id:
        raise HTTPException(404, f"agent {body.agent_id} not found")

    # Read-then-write would let simultaneous requests (on PostgreSQL, or across processes) each see
    # 'todo' and each start a run: the check and the change are one statement, so exactly one
    # request changes the row and the others find it changed.
    assigned = await session.execute(
        update(Task)
        .where(
            Task.id == task.id,
            Task.squad_id == squad.id,
            Task.status == TaskStatus.TODO,
            ~exists().where(Job.task_id == Task.id, Job.state.in_(ACTIVE_JOB_STATES)),
        )
        .values(status=TaskStatus.IN_PROGRESS, agent_id=agent.id)
        .execution_options(synchronize_session=False)
    )
    if assigned.rowcount != 1:  # type: ignore[attr-defined]
        raise await _not_assignable(session, task)
    await session.refresh(task)
    # The job is stored in the same transaction as the assignment, so neither exists without the other.
    session.add(Job(task_id=task.id))
    await record_event(session, squad.id, "task.assigned", {"agent_id": agent.id}, task_id=task.id, agent_id=agent.id)
    try:
        await session.commit()
    except IntegrityError:
        # The index of one active job per task (app/models.py) caught what the update could not see.
        await session.rollback()
        raise HTTPException(409, f"task {task.id} is already being worked on; it cannot be assigned twice") from None
    return task


async def _not_assignable(session: AsyncSession, task: Task) -> HTTPException:
    """The 409 of an assignment that changed nothing, saying why: the task is not in 'todo', or its
    previous run has not let go of it yet (a failed task moved back to 'todo' while that run cleans up)."""
    await session.refresh(task)
    if task.status != TaskStatus.TODO:
        return HTTPException(409, f"task {task.id} is {task.status}; only a task in 'todo' can be assigned")
    return HTTPException(
        409,
        f"task {task.id}'s previous run is still finishing (destroying its sandbox); assign it again once it has ended",
    )
