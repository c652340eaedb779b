"""GitService: real git inside the sandbox, through E2BSandboxService.

The token never appears in a command line or a URL: git asks a credential helper that reads it
from the command's environment, so it cannot show up in process lists, git's messages or output.
"""

import re
import shlex

from app.services.e2b import E2BSandboxService, OutputCallback, SandboxHandle
from app.services.errors import CommandFailed, GitError, SandboxError

WORKSPACE = "/home/user"
REPO_DIR = f"{WORKSPACE}/repo"
TOKEN_ENV = "AGENT_SQUAD_GIT_TOKEN"
_CREDENTIAL_HELPER = f'!f() {{ echo username=x-access-token; echo "password=${TOKEN_ENV}"; }}; f'
_AUTH_CONFIG = f"-c credential.helper= -c credential.helper={shlex.quote(_CREDENTIAL_HELPER)}"
_BRANCH_NAME = re.compile(r"^(?!.*\.\.)(?!/)(?!.*//)[A-Za-z0-9._/-]+(?<![./])$")


class GitService:
    def __init__(self, sandbox_service: E2BSandboxService, token: str, *, timeout_s: float = 120.0) -> None:
        self._sandboxes = sandbox_service
        self._token = token
        self._timeout_s = timeout_s

    async def _git(
        self,
        sandbox: SandboxHandle,
        what: str,
        command: str,
        *,
        cwd: str = REPO_DIR,
        authenticated: bool = False,
        on_output: OutputCallback | None = None,
    ):
        envs = {"GIT_TERMINAL_PROMPT": "0"}
        if authenticated:
            envs[TOKEN_ENV] = self._token
        try:
            result = await self._sandboxes.run(
                sandbox, command, cwd=cwd, envs=envs, timeout_s=self._timeout_s, on_output=on_output
            )
        except SandboxError as error:
            raise GitError(f"{what}: {error.message}", transient=error.transient) from error
        if result.exit_code != 0:
            raise _explain(what, CommandFailed(what, result.exit_code, result.output))
        return result

    async def clone(
        self, sandbox: SandboxHandle, clone_url: str, branch: str, on_output: OutputCallback | None = None
    ) -> None:
        await self._git(
            sandbox,
            "git clone",
            f"git {_AUTH_CONFIG} clone --branch {shlex.quote(branch)} {shlex.quote(clone_url)} repo",
            cwd=WORKSPACE,
            authenticated=True,
            on_output=on_output,
        )

    async def create_branch(self, sandbox: SandboxHandle, branch: str, on_output: OutputCallback | None = None) -> None:
        if not _BRANCH_NAME.match(branch):
            raise GitError(f"'{branch}' is not a valid branch name")
        await self._git(sandbox, "git checkout -b", f"git checkout -b {shlex.quote(branch)}", on_output=on_output)

    async def commit(
        self, sandbox: SandboxHandle, message: str, author: str, on_output: OutputCallback | None = None
    ) -> None:
        if not message.strip():
            raise GitError("the commit message is empty")
        identity = f"-c user.name={shlex.quote(author)} -c user.email={shlex.quote('agents@agent-squad.invalid')}"
        await self._git(
            sandbox,
            "git commit",
            f"git add -A && git {identity} commit -m {shlex.quote(message)}",
            on_output=on_output,
        )

    async def push(self, sandbox: SandboxHandle, branch: str, on_output: OutputCallback | None = None) -> None:
        await self._git(
            sandbox,
            "git push",
            f"git {_AUTH_CONFIG} push --porcelain origin {shlex.quote(branch)}",
            authenticated=True,
            on_output=on_output,
        )


def _explain(what: str, failure: CommandFailed) -> GitError:
    """Turn git's own words into a reason a person can act on."""
    output = failure.output
    if "Authentication failed" in output or "could not read Username" in output:
        reason = "authentication failed: the GitHub token was refused; check GITHUB_TOKEN"
    elif "nothing to commit" in output:
        reason = "nothing to commit: the agent changed no file"
    elif "already exists" in output and "branch" in output:
        reason = "the branch already exists"
    elif "Remote branch" in output and "not found" in output:
        reason = "the default branch was not found in the repository"
    elif "[rejected]" in output or "non-fast-forward" in output or "! " in output and "rejected" in output:
        reason = "the push was rejected by the remote (the branch moved on; fetch and rebase)"
    elif "Could not resolve host" in output or "Failed to connect" in output or "timed out" in output:
        return GitError(f"{what}: network failure: {output.strip()[-300:]}", transient=True)
    else:
        reason = f"exit code {failure.exit_code}: {output.strip()[-300:]}"
    return GitError(f"{what} failed: {reason}")
