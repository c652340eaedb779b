"""Tasks: create, read, and assign to an agent (which starts the pipeline)."""

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_session, get_signal
from app.auth import current_squad
from app.events import EventSignal, record_event
from app.models import Agent, Job, Squad, Task, TaskStatus
from app.schemas import TaskAssign, TaskCreate, TaskOut

router = APIRouter(tags=["tasks"])


async def _own_task(session: AsyncSession, squad: Squad, task_id: str) -> Task:
    task = await session.get(Task, task_id)
    # Another squad's task is reported exactly like a missing one, so ids leak nothing.
    if task is None or task.squad_id != squad.id:
        raise HTTPException(404, f"task {task_id} not found")
    return task


@router.post("/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskOut)
async def create_task(
    body: TaskCreate,
    squad: Squad = Depends(current_squad),
    session: AsyncSession = Depends(get_session),
    signal: EventSignal = Depends(get_signal),
) -> Task:
    task = Task(squad_id=squad.id, title=body.title, description=body.description)
    session.add(task)
    await session.flush()
    record_event(session, squad.id, "task.created", {"title": task.title}, task_id=task.id)
    await session.commit()
    signal.notify()
    return task


@router.get("/tasks", response_model=list[TaskOut])
async def list_tasks(squad: Squad = Depends(current_squad), session: AsyncSession = Depends(get_session)) -> list[Task]:
    result = await session.scalars(select(Task).where(Task.squad_id == squad.id).order_by(Task.created_at))
    return list(result)


@router.get("/tasks/{task_id}", response_model=TaskOut)
async def read_task(
    task_id: str, squad: Squad = Depends(current_squad), session: AsyncSession = Depends(get_session)
) -> Task:
    return await _own_task(session, squad, task_id)


@router.post("/tasks/{task_id}/assign", status_code=status.HTTP_202_ACCEPTED, response_model=TaskOut)
async def assign_task(
    task_id: str,
    body: TaskAssign,
    squad: Squad = Depends(current_squad),
    session: AsyncSession = Depends(get_session),
    signal: EventSignal = Depends(get_signal),
) -> Task:
    task = await _own_task(session, squad, task_id)
    agent = await session.get(Agent, body.agent_id)
    if agent is None or agent.squad_id != squad.id:
        raise HTTPException(404, f"agent {body.agent_id} not found")
    if task.status != TaskStatus.TODO:
        raise HTTPException(409, f"task {task.id} is {task.status}; only a task in 'todo' can be assigned")

    task.agent_id = agent.id
    task.status = TaskStatus.IN_PROGRESS
    # The job is stored in the same transaction as the assignment, so neither exists without the other.
    session.add(Job(task_id=task.id))
    record_event(session, squad.id, "task.assigned", {"agent_id": agent.id}, task_id=task.id, agent_id=agent.id)
    await session.commit()
    signal.notify()
    return task
