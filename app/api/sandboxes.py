"""Sandboxes by hand: create one for a task, read it, destroy it (the pipeline does the same)."""

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import RuntimeDep, SessionDep, end_transaction
from app.api.errors import documented
from app.api.tasks import own_task
from app.auth import CurrentSquad
from app.events import record_event
from app.limits import Slot, too_many
from app.models import Sandbox, Squad, Task, utcnow
from app.runtime import Runtime
from app.schemas import SandboxCreate, SandboxOut
from app.services.e2b import SandboxHandle

router = APIRouter(tags=["sandboxes"], responses=documented(401, 404, 503))

# When a squad at its sandbox limit only because of creations in flight may try again.
IN_FLIGHT_RETRY_AFTER_S = 5.0


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
async def create_sandbox(body: SandboxCreate, squad: CurrentSquad, session: SessionDep, runtime: RuntimeDep) -> Sandbox:
    task = await own_task(session, squad, body.task_id)
    await end_transaction(session)
    creating = await reserve_sandbox(session, squad, runtime)
    try:
        handle = await runtime.sandboxes.create(metadata={"task_id": task.id, "squad_id": squad.id})
        sandbox = Sandbox(
            task_id=task.id,
            e2b_sandbox_id=handle.sandbox_id,
            envd_access_token=handle.envd_access_token,
            status="ready",
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
    finally:
        creating.release()
    return sandbox


async def reserve_sandbox(session: AsyncSession, squad: Squad, runtime: Runtime) -> Slot:
    """A place for one more sandbox of the squad's, held until its row is stored (so creations in flight
    count too); 429 when it has none left. The squad's concurrent requests decide one at a time: counted
    apart, each would see the same free place (on PostgreSQL, whose transactions do not queue)."""
    async with runtime.sandbox_creations.deciding(squad.id):
        await within_sandbox_limit(session, squad, runtime)
        place = runtime.sandbox_creations.take(squad.id)
        await end_transaction(session)
    return place


async def within_sandbox_limit(session: AsyncSession, squad: Squad, runtime: Runtime) -> None:
    """429 when the squad already holds SQUAD_MAX_SANDBOXES live sandboxes: those made by hand and by
    its pipelines (both stored), and its creations in flight in this process. A sandbox past E2B's
    timeout (SANDBOX_TIMEOUT_S) is gone at E2B, destroyed or not here, so it no longer counts."""
    most = runtime.settings.squad_max_sandboxes
    timeout_s = runtime.settings.sandbox_timeout_s
    now = utcnow()
    live, oldest = (
        await session.execute(
            select(func.count(Sandbox.id), func.min(Sandbox.created_at))
            .join(Task, Task.id == Sandbox.task_id)
            .where(
                Task.squad_id == squad.id,
                Sandbox.destroyed_at.is_(None),
                Sandbox.created_at > now - timedelta(seconds=timeout_s),
            )
        )
    ).one()
    if live + runtime.sandbox_creations.held(squad.id) < most:
        return
    # The oldest expires at E2B by then; a creation in flight ends far sooner, so try again soon.
    wait = (oldest + timedelta(seconds=timeout_s) - now).total_seconds() if oldest else IN_FLIGHT_RETRY_AFTER_S
    raise too_many(
        f"this squad already has {most} sandboxes, the most it may have at once (SQUAD_MAX_SANDBOXES); "
        "destroy one (DELETE /api/v1/sandboxes/{id}), or try again when one has timed out",
        wait,
    )


@router.get("/sandboxes/{sandbox_id}", response_model=SandboxOut)
async def read_sandbox(sandbox_id: str, squad: CurrentSquad, session: SessionDep) -> Sandbox:
    sandbox, _ = await own_sandbox(session, squad, sandbox_id)
    return sandbox


@router.delete("/sandboxes/{sandbox_id}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(502))
async def destroy_sandbox(sandbox_id: str, squad: CurrentSquad, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Destroying twice is not an error: the sandbox is gone either way."""
    sandbox, _ = await own_sandbox(session, squad, sandbox_id)
    if sandbox.destroyed_at is None:
        await end_transaction(session)
        await runtime.sandboxes.destroy(sandbox.e2b_sandbox_id)
        sandbox.status = "destroyed"
        sandbox.destroyed_at = utcnow()
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
