"""Unit tests of app/services: each service built directly on httpx clients that the respx-mounted fakes
answer (`fake_e2b`, `fake_github` from fixtures/inprocess.py), so no request leaves the process except
git's own, which goes to the fake GitHub's loopback server.

Every service gets a RetryPolicy with tiny backoff whose `sleep` is recorded (`sleeps.waits`) instead
of slept, and GitHub's rate-limit gate waits on the same recorded sleeps and their clock, so a test can
check a wait GitHub or E2B asked for (60 s, say) without waiting it.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import respx

from app.services.e2b import CommandResult, E2BSandboxService, OutputCallback, SandboxHandle
from app.services.git import GitService
from app.services.github import GitHubService
from app.services.rate_gate import DEFAULT_MAX_WAIT_S, RateLimitGate
from app.services.retry import RetryPolicy
from fixtures import http
from fixtures.credentials import CANARY_E2B_API_KEY, CANARY_GITHUB_TOKEN
from fixtures.fake_time import RecordedSleeps
from mocks.e2b.router import E2B_API_URL, E2B_SANDBOX_URL
from mocks.e2b.state import FakeE2B
from mocks.github.router import GITHUB_API_URL
from mocks.github.state import FakeGitHub

ATTEMPTS = 3


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def retry_policy(sleeps: RecordedSleeps) -> RetryPolicy:
    return RetryPolicy(attempts=ATTEMPTS, base_delay_s=0.001, max_delay_s=0.004, max_retry_after_s=60.0, sleep=sleeps)


# -- E2B ----------------------------------------------------------------------------------------------------


# The clients are shared by the session (building one costs tens of milliseconds): respx intercepts
# them whenever a fake's router is active, and they keep no state between requests.
@pytest.fixture(scope="session")
async def e2b_api() -> AsyncIterator[httpx.AsyncClient]:
    async with http.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": CANARY_E2B_API_KEY}) as client:
        yield client


@pytest.fixture(scope="session")
async def envd_client() -> AsyncIterator[httpx.AsyncClient]:
    async with http.AsyncClient() as client:
        yield client


@pytest.fixture
def make_sandboxes(
    e2b_api: httpx.AsyncClient, envd_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> Callable[..., E2BSandboxService]:
    """Build an E2BSandboxService like the runtime does, with test-sized knobs; override any of them."""

    def make(**overrides: object) -> E2BSandboxService:
        options: dict = {
            "api": e2b_api,
            "envd": envd_client,
            "template": "base",
            "sandbox_timeout_s": 300,
            "sandbox_url": E2B_SANDBOX_URL,
            "domain": "e2b.app",
            "retry": retry_policy,
        }
        options.update(overrides)
        return E2BSandboxService(**options)

    return make


@pytest.fixture
def sandboxes(fake_e2b: FakeE2B, make_sandboxes: Callable[..., E2BSandboxService]) -> E2BSandboxService:
    return make_sandboxes()


@pytest.fixture
async def sandbox(sandboxes: E2BSandboxService) -> SandboxHandle:
    """A running sandbox of the fake E2B (killed by the fake's reset before the next test)."""
    return await sandboxes.create()


def _fail_first(route: respx.Route, *failures: Exception | httpx.Response) -> None:
    pending = list(failures)
    original = route.side_effect
    assert callable(original), "fail_first wraps a route that forwards to a fake"

    def side_effect(request: httpx.Request):
        if pending:
            failure = pending.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        return original(request)

    route.side_effect = side_effect


@pytest.fixture
def fail_first() -> Callable[..., None]:
    """`fail_first(route, *failures)`: the route raises (or answers) each failure once, then serves as before."""
    return _fail_first


# -- GitHub -------------------------------------------------------------------------------------------------


def github_client_for(token: str) -> httpx.AsyncClient:
    return http.AsyncClient(
        base_url=GITHUB_API_URL,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )


@pytest.fixture(scope="session")
async def github_client() -> AsyncIterator[httpx.AsyncClient]:
    async with github_client_for(CANARY_GITHUB_TOKEN) as client:
        yield client


@pytest.fixture
def github(
    fake_github: FakeGitHub, github_client: httpx.AsyncClient, retry_policy: RetryPolicy, sleeps: RecordedSleeps
) -> GitHubService:
    """The service with its token's rate-limit gate waiting on `sleeps`: recorded, on their clock, not slept."""
    gate = RateLimitGate(DEFAULT_MAX_WAIT_S, clock=sleeps.clock, sleep=sleeps)
    return GitHubService(github_client, retry=retry_policy, gate=gate)


@dataclass
class FakeRepo:
    fake: FakeGitHub
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def clone_url(self) -> str:
        repo = self.fake.get_repo(self.owner, self.name)
        assert repo is not None
        return self.fake.clone_url(repo, GITHUB_API_URL)

    def add_branch_commit(self, branch: str, message: str = "Agent work") -> str:
        """Put a commit (on top of the default branch) on `branch` directly in the bare repository."""
        repo = self.fake.get_repo(self.owner, self.name)
        assert repo is not None
        tree = repo.git.git("rev-parse", f"{repo.default_branch}^{{tree}}").strip()
        sha = repo.git.git("commit-tree", tree, "-p", repo.default_branch, "-m", message).strip()
        repo.git.git("update-ref", f"refs/heads/{branch}", sha)
        return sha


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeRepo:
    """A repository of its own in the fake GitHub (one commit, README.md, on main)."""
    owner, name = f"acme-{uuid.uuid4().hex[:8]}", "widgets"
    fake_github.create_repo(owner, name)
    return FakeRepo(fake_github, owner, name)


# -- git ----------------------------------------------------------------------------------------------------


@pytest.fixture
def make_git(sandboxes: E2BSandboxService, retry_policy: RetryPolicy) -> Callable[..., GitService]:
    def make(token: str = CANARY_GITHUB_TOKEN, **options: object) -> GitService:
        options = {"timeout_s": 20.0, "retry": retry_policy, **options}
        return GitService(sandboxes, token, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def git(make_git: Callable[..., GitService]) -> GitService:
    return make_git()


@dataclass
class Output:
    """An on_output callback that keeps every chunk."""

    chunks: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, stream: str, text: str) -> None:
        self.chunks.append((stream, text))

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.chunks)


@pytest.fixture
def output() -> Output:
    return Output()


@dataclass
class ScriptedSandboxes:
    """Stands in for E2BSandboxService.run: answers each command with the next scripted result (the
    last one again when the script runs out), streaming its output to on_output; records the calls."""

    answers: list[CommandResult | Exception]
    calls: list[dict] = field(default_factory=list)

    async def run(
        self,
        sandbox: SandboxHandle,
        command: str,
        *,
        cwd: str | None = None,
        envs: dict[str, str] | None = None,
        timeout_s: float = 120.0,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        self.calls.append({"command": command, "cwd": cwd, "envs": dict(envs or {}), "timeout_s": timeout_s})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        for stream, text in (("stdout", answer.stdout), ("stderr", answer.stderr)):
            if text and on_output:
                await on_output(stream, text)
        return answer


@pytest.fixture
def scripted_git(retry_policy: RetryPolicy) -> Callable[..., tuple[GitService, ScriptedSandboxes]]:
    """`scripted_git(*answers)`: a GitService whose sandbox answers each command from the script."""

    def make(
        *answers: CommandResult | Exception, token: str = CANARY_GITHUB_TOKEN
    ) -> tuple[GitService, ScriptedSandboxes]:
        runner = ScriptedSandboxes(list(answers))
        return GitService(runner, token, timeout_s=5.0, retry=retry_policy), runner

    return make


@pytest.fixture
def sh(sandboxes: E2BSandboxService) -> Callable[..., Awaitable[str]]:
    """`await sh(sandbox, command, cwd=...)`: run a helper command (to look at the repository); its stdout."""

    async def run(sandbox: SandboxHandle, command: str, cwd: str = "/home/user/repo") -> str:
        outcome = await sandboxes.run(sandbox, command, cwd=cwd)
        assert outcome.exit_code == 0, f"{command!r} exited {outcome.exit_code}: {outcome.output}"
        return outcome.stdout.strip()

    return run
