"""Git by hand inside a task's sandbox: clone the squad's repository, branch, commit, push."""

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import current_runtime, end_transaction, get_session
from app.api.errors import documented
from app.api.sandboxes import live_handle, own_sandbox
from app.auth import current_squad
from app.models import Sandbox, Squad
from app.redaction import redact
from app.runtime import Runtime
from app.schemas import BranchRequest, CloneRequest, CommitRequest, GitResult

router = APIRouter(prefix="/git", tags=["git"], responses=documented(400, 401, 404, 409, 502, 503))


class _Output:
    """Collects what git prints, for the response, with every secret the platform holds removed, the
    sandbox's envd access token among them."""

    def __init__(self, runtime: Runtime, sandbox: Sandbox) -> None:
        self.chunks: list[str] = []
        self._secrets = [
            *runtime.settings.secrets(),
            *([sandbox.envd_access_token] if sandbox.envd_access_token else []),
        ]

    async def __call__(self, stream: str, text: str) -> None:
        self.chunks.append(text)

    def text(self) -> str:
        return redact("".join(self.chunks), self._secrets)[-4000:]


@router.post("/clone", response_model=GitResult)
async def clone(
    body: CloneRequest,
    squad: Squad = Depends(current_squad),
    session: AsyncSession = Depends(get_session),
    runtime: Runtime = Depends(current_runtime),
) -> GitResult:
    sandbox, _ = await own_sandbox(session, squad, body.sandbox_id)
    handle = live_handle(sandbox)
    await end_transaction(session)
    repository = await runtime.github.get_repository(squad.repository)
    output = _Output(runtime, sandbox)
    await runtime.git.clone(handle, repository.clone_url, repository.default_branch, output)
    return GitResult(
        sandbox_id=sandbox.id,
        repository=repository.full_name,
        branch=repository.default_branch,
        output=output.text(),
    )


@router.post("/branch", response_model=GitResult)
async def branch(
    body: BranchRequest,
    squad: Squad = Depends(current_squad),
    session: AsyncSession = Depends(get_session),
    runtime: Runtime = Depends(current_runtime),
) -> GitResult:
    sandbox, _ = await own_sandbox(session, squad, body.sandbox_id)
    await end_transaction(session)
    output = _Output(runtime, sandbox)
    await runtime.git.create_branch(live_handle(sandbox), body.branch, output)
    return GitResult(sandbox_id=sandbox.id, repository=squad.repository, branch=body.branch, output=output.text())


@router.post("/commit", response_model=GitResult)
async def commit(
    body: CommitRequest,
    squad: Squad = Depends(current_squad),
    session: AsyncSession = Depends(get_session),
    runtime: Runtime = Depends(current_runtime),
) -> GitResult:
    sandbox, task = await own_sandbox(session, squad, body.sandbox_id)
    await end_transaction(session)
    output = _Output(runtime, sandbox)
    await runtime.git.commit(live_handle(sandbox), body.message, "agent-squad", output)
    return GitResult(sandbox_id=sandbox.id, repository=squad.repository, branch=task.branch or "", output=output.text())


@router.post("/push", response_model=GitResult)
async def push(
    body: BranchRequest,
    squad: Squad = Depends(current_squad),
    session: AsyncSession = Depends(get_session),
    runtime: Runtime = Depends(current_runtime),
) -> GitResult:
    sandbox, task = await own_sandbox(session, squad, body.sandbox_id)
    await end_transaction(session)
    output = _Output(runtime, sandbox)
    await runtime.git.push(live_handle(sandbox), body.branch, output)
    task.branch = body.branch
    await session.commit()
    return GitResult(
        sandbox_id=sandbox.id,
        repository=squad.repository,
        branch=body.branch,
        output=output.text(),
    )
