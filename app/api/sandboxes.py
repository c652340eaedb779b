"""Sandboxes by hand: create one for a task, read it, destroy it (the pipeline does the same)."""

from fastapi import APIRouter, Depends, HTTPException, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import end_transaction, get_runtime, get_session
from app.api.errors import documented
from app.api.tasks import own_task
from app.auth import current_squad
from app.events import record_event
from app.models import Sandbox, Squad, Task, utcnow
from app.runtime import Runtime
from app.schemas import SandboxCreate, SandboxOut
from app.services.e2b import SandboxHandle

router = APIRouter(tags=["sandboxes"], responses=documented(401, 404, 503))


async def own_sandbox(session: AsyncSession, squad: Squad, sandbox_id: str) -> tuple[Sandbox, Task]:
    sandbox = await session.get(Sandbox, sandbox_id)
    task = await session.get(Task, sandbox.task_id) if sandbox else None
    if sandbox is None or task is None or task.squad_id != squad.id:
        raise HTTPException(404, f"sandbox {sandbox_id} not found")
    return sandbox, task


def live_handle(sandbox: Sandbox) -> SandboxHandle:
    if sandbox.destroyed_at is not None:
        raise HTTPException(409, f"sandbox {sandbox.id} was destroyed; create a new one")
    return SandboxHandle(sandbox.e2b_sandbox_id, sandbox.envd_access_token)


@router.post(
    "/sandboxes", status_code=status.HTTP_201_CREATED, response_model=SandboxOut, responses=documented(400, 502)
)
async def create_sandbox(
    body: SandboxCreate,
    squad: Squad = Depends(current_squad),
    session: AsyncSession = Depends(get_session),
    runtime: Runtime = Depends(get_runtime),
) -> Sandbox:
    task = await own_task(session, squad, body.task_id)
    await end_transaction(session)
    handle = await runtime.sandboxes.create(metadata={"task_id": task.id, "squad_id": squad.id})
    sandbox = Sandbox(
        task_id=task.id, e2b_sandbox_id=handle.sandbox_id, envd_access_token=handle.envd_access_token, status="ready"
    )
    session.add(sandbox)
    await record_event(
        session,
        squad.id,
        "sandbox.status",
        {"status": "ready", "sandbox_id": handle.sandbox_id},
        task_id=task.id,
        agent_id=task.agent_id,
    )
    await session.commit()
    return sandbox


@router.get("/sandboxes/{sandbox_id}", response_model=SandboxOut)
async def read_sandbox(
    sandbox_id: str, squad: Squad = Depends(current_squad), session: AsyncSession = Depends(get_session)
) -> Sandbox:
    sandbox, _ = await own_sandbox(session, squad, sandbox_id)
    return sandbox


@router.delete("/sandboxes/{sandbox_id}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(502))
async def destroy_sandbox(
    sandbox_id: str,
    squad: Squad = Depends(current_squad),
    session: AsyncSession = Depends(get_session),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Destroying twice is not an error: the sandbox is gone either way."""
    sandbox, _ = await own_sandbox(session, squad, sandbox_id)
    if sandbox.destroyed_at is None:
        await end_transaction(session)
        await runtime.sandboxes.destroy(sandbox.e2b_sandbox_id)
        sandbox.status = "destroyed"
        sandbox.destroyed_at = utcnow()
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
