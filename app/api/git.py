"""Git by hand inside a task's sandbox: clone the squad's repository, branch, commit, push."""

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import RuntimeDep, SessionDep, end_transaction
from app.api.errors import documented
from app.api.sandboxes import live_handle, own_sandbox
from app.auth import CurrentSquad
from app.models import Sandbox, Squad, Task
from app.redaction import redact
from app.runtime import Runtime
from app.schemas import BranchRequest, CloneRequest, CommitRequest, GitResult
from app.services.e2b import SandboxHandle

router = APIRouter(prefix="/git", tags=["git"], responses=documented(400, 401, 404, 409, 502, 503))


class _Output:
    """Collects what git prints in a sandbox, for the response, with every secret the platform holds
    removed, the sandbox's envd access token among them."""

    def __init__(self, runtime: Runtime, sandbox: Sandbox) -> None:
        self.chunks: list[str] = []
        self._sandbox = sandbox
        self._secrets = [
            *runtime.settings.secrets(),
            *([sandbox.envd_access_token] if sandbox.envd_access_token else []),
        ]

    async def __call__(self, stream: str, text: str) -> None:
        self.chunks.append(text)

    def text(self) -> str:
        return redact("".join(self.chunks), self._secrets)[-4000:]

    def result(self, repository: str, branch: str) -> GitResult:
        return GitResult(sandbox_id=self._sandbox.id, repository=repository, branch=branch, output=self.text())


async def _git_work(
    session: AsyncSession, squad: Squad, runtime: Runtime, sandbox_id: str
) -> tuple[SandboxHandle, Task, _Output]:
    """The squad's live sandbox `sandbox_id` (its handle), its task, and a collector of what git prints.
    The request's transaction ends here: git takes its time."""
    sandbox, task = await own_sandbox(session, squad, sandbox_id)
    handle = live_handle(sandbox)
    await end_transaction(session)
    return handle, task, _Output(runtime, sandbox)


@router.post("/clone", response_model=GitResult)
async def clone(body: CloneRequest, squad: CurrentSquad, session: SessionDep, runtime: RuntimeDep) -> GitResult:
    handle, task, output = await _git_work(session, squad, runtime, body.sandbox_id)
    account = runtime.github_accounts.for_task(task.id)
    repository = await account.github.get_repository(squad.repository)
    await account.git.clone(handle, repository.clone_url, repository.default_branch, output)
    return output.result(repository.full_name, repository.default_branch)


@router.post("/branch", response_model=GitResult)
async def branch(body: BranchRequest, squad: CurrentSquad, session: SessionDep, runtime: RuntimeDep) -> GitResult:
    handle, task, output = await _git_work(session, squad, runtime, body.sandbox_id)
    await runtime.github_accounts.for_task(task.id).git.create_branch(handle, body.branch, output)
    return output.result(squad.repository, body.branch)


@router.post("/commit", response_model=GitResult)
async def commit(body: CommitRequest, squad: CurrentSquad, session: SessionDep, runtime: RuntimeDep) -> GitResult:
    handle, task, output = await _git_work(session, squad, runtime, body.sandbox_id)
    await runtime.github_accounts.for_task(task.id).git.commit(handle, body.message, "agent-squad", output)
    return output.result(squad.repository, task.branch or "")


@router.post("/push", response_model=GitResult)
async def push(body: BranchRequest, squad: CurrentSquad, session: SessionDep, runtime: RuntimeDep) -> GitResult:
    handle, task, output = await _git_work(session, squad, runtime, body.sandbox_id)
    await runtime.github_accounts.for_task(task.id).git.push(handle, body.branch, output)
    task.branch = body.branch
    await session.commit()
    return output.result(squad.repository, body.branch)
