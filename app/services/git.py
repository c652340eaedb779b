"""GitService: real git inside the sandbox, through E2BSandboxService.

The token never appears in a command line or a URL: git asks a credential helper that reads it
from the command's environment, so it cannot show up in process lists, git's messages or output.
Output passed on to `on_output` and every error message are cleaned of the token all the same.

Commands that talk to GitHub (clone, push, fetch) are retried on transient network
failures with the service's RetryPolicy; local ones (branch, commit) are not.
"""

import re
import shlex
from typing import Protocol

from app.redaction import redact
from app.services.e2b import CommandResult, OutputCallback, SandboxHandle
from app.services.errors import (
    BranchExists,
    BranchNotFound,
    CommandTimeout,
    GitAuthFailed,
    GitError,
    GitNetworkError,
    GitTimeout,
    InvalidBranchName,
    InvalidCommitMessage,
    NothingToCommit,
    PushRejected,
    RepositoryNotFound,
)
from app.services.retry import RetryPolicy, with_retries

WORKSPACE = "/home/user"
REPO_NAME = "repo"
REPO_DIR = f"{WORKSPACE}/{REPO_NAME}"
TOKEN_ENV = "AGENT_SQUAD_GIT_TOKEN"
AUTHOR_EMAIL = "agents@agent-squad.invalid"
_CREDENTIAL_HELPER = f'!f() {{ echo username=x-access-token; echo "password=${TOKEN_ENV}"; }}; f'
_AUTH_CONFIG = f"-c credential.helper= -c credential.helper={shlex.quote(_CREDENTIAL_HELPER)}"
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
# What git and curl say when the network, not the request, is the problem.
_NETWORK_FAILURES = (
    "could not resolve host",
    "failed to connect",
    "couldn't connect to server",
    "connection refused",
    "connection reset",
    "connection timed out",
    "operation timed out",
    "empty reply from server",
    "the requested url returned error: 5",
    "the requested url returned error: 429",
    "rpc failed",
    "early eof",
    "unexpected disconnect",
    "the remote end hung up unexpectedly",
    "transfer closed",
)


class CommandRunner(Protocol):
    """What GitService needs of the sandbox service: E2BSandboxService.run."""

    async def run(
        self,
        sandbox: SandboxHandle,
        command: str,
        *,
        cwd: str | None = None,
        envs: dict[str, str] | None = None,
        timeout_s: float = 120.0,
        on_output: OutputCallback | None = None,
    ) -> CommandResult: ...


def is_valid_branch_name(name: str) -> bool:
    """git's rules for a branch name (git check-ref-format --branch), checked before git runs."""
    if not name or name == "@" or _BRANCH_FORBIDDEN.search(name):
        return False
    if name.startswith(("-", "/")) or name.endswith(("/", ".")):
        return False
    # Every component, the last one too: none starts with a dot or ends with ".lock".
    return not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))


class GitService:
    def __init__(
        self,
        sandbox_service: CommandRunner,
        token: str,
        *,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        credential: str = "GITHUB_TOKEN",
    ) -> None:
        """`credential` names the setting the token comes from, in messages (which never show the token)."""
        self._sandboxes = sandbox_service
        self._token = token
        self._credential = credential
        self._timeout_s = timeout_s
        self._retry = retry or RetryPolicy()

    # -- the operations -----------------------------------------------------------------------------------
    async def clone(
        self, sandbox: SandboxHandle, clone_url: str, branch: str, on_output: OutputCallback | None = None
    ) -> None:
        """Clone `branch` of `clone_url` into REPO_DIR, replacing whatever a failed attempt left there.

        Raises GitAuthFailed, RepositoryNotFound, BranchNotFound, or GitNetworkError / GitTimeout once
        the retries are spent.
        """
        _require_branch_name(branch)
        command = (
            f"rm -rf {REPO_NAME} && git {_AUTH_CONFIG} clone --branch {shlex.quote(branch)} -- "
            f"{shlex.quote(clone_url)} {REPO_NAME}"
        )
        await self._remote_git(sandbox, "git clone", command, branch, on_output, cwd=WORKSPACE)

    async def create_branch(
        self,
        sandbox: SandboxHandle,
        branch: str,
        on_output: OutputCallback | None = None,
        *,
        base: str | None = None,
    ) -> None:
        """Create `branch` and switch to it, from the current commit or from origin's `base` branch.

        Raises InvalidBranchName, BranchExists, or BranchNotFound (no such `base` on origin).
        """
        _require_branch_name(branch)
        start = ""
        if base is not None:
            _require_branch_name(base)
            start = " " + shlex.quote(f"refs/remotes/origin/{base}")
        await self._git(
            sandbox,
            "git checkout -b",
            f"git checkout -b {shlex.quote(branch)}{start}",
            on_output=on_output,
            branch=branch,
            source=base,
        )

    async def commit(
        self, sandbox: SandboxHandle, message: str, author: str, on_output: OutputCallback | None = None
    ) -> str:
        """Stage every change and commit it as `author`; returns the new commit's sha.

        Raises NothingToCommit when nothing changed, InvalidCommitMessage for a message git refuses.
        """
        if not message.strip():
            raise InvalidCommitMessage("the commit message is empty; git refuses to commit without a message")
        if "\x00" in message:
            raise InvalidCommitMessage("the commit message contains a NUL character, which git cannot store")
        if not author.strip() or "\x00" in author:
            raise GitError("the commit author's name is empty; git needs a name to commit")
        identity = f"-c user.name={shlex.quote(author)} -c user.email={shlex.quote(AUTHOR_EMAIL)}"
        await self._git(
            sandbox,
            "git commit",
            f"git add -A && git {identity} commit -m {shlex.quote(message)}",
            on_output=on_output,
        )
        result = await self._git(sandbox, "git rev-parse", "git rev-parse HEAD")
        return result.stdout.strip()

    async def push(self, sandbox: SandboxHandle, branch: str, on_output: OutputCallback | None = None) -> None:
        """Push the local `branch` to origin's branch of the same name.

        Raises PushRejected (the remote branch moved on, or is protected), GitAuthFailed, or
        GitNetworkError / GitTimeout once the retries are spent.
        """
        _require_branch_name(branch)
        ref = shlex.quote(f"refs/heads/{branch}:refs/heads/{branch}")
        await self._remote_git(
            sandbox, "git push", f"git {_AUTH_CONFIG} push --porcelain origin {ref}", branch, on_output
        )

    async def cloned_branch_exists(self, sandbox: SandboxHandle, branch: str) -> bool:
        """Whether origin had `branch` when the repository was cloned.

        `git clone` fetches every branch, so its remote-tracking ref answers at once; asking GitHub
        again (`git ls-remote`) would cost a network round trip on every task.
        """
        _require_branch_name(branch)
        result = await self._git(
            sandbox,
            "git rev-parse",
            f"git rev-parse --verify --quiet {shlex.quote(f'refs/remotes/origin/{branch}')}",
            ok_exit_codes=(0, 1),  # 1: no such ref
        )
        return result.exit_code == 0

    async def checkout_remote_branch(
        self, sandbox: SandboxHandle, branch: str, on_output: OutputCallback | None = None
    ) -> None:
        """Fetch origin's existing `branch` and make it the local work branch (replacing a local one).

        Raises BranchNotFound when origin has no such branch.
        """
        _require_branch_name(branch)
        remote_ref = f"refs/remotes/origin/{branch}"
        refspec = shlex.quote(f"+refs/heads/{branch}:{remote_ref}")
        await self._remote_git(sandbox, "git fetch", f"git {_AUTH_CONFIG} fetch origin {refspec}", branch, on_output)
        await self._git(
            sandbox,
            "git checkout",
            f"git checkout -B {shlex.quote(branch)} {shlex.quote(remote_ref)}",
            on_output=on_output,
            branch=branch,
        )

    # -- running git --------------------------------------------------------------------------------------
    async def _remote_git(
        self,
        sandbox: SandboxHandle,
        what: str,
        command: str,
        branch: str,
        on_output: OutputCallback | None,
        *,
        cwd: str = REPO_DIR,
    ) -> None:
        """A git command that talks to GitHub: it gets the token, and is retried while it fails transiently."""
        await with_retries(
            lambda: self._git(sandbox, what, command, cwd=cwd, authenticated=True, on_output=on_output, branch=branch),
            self._retry,
        )

    async def _git(
        self,
        sandbox: SandboxHandle,
        what: str,
        command: str,
        *,
        cwd: str = REPO_DIR,
        authenticated: bool = False,
        on_output: OutputCallback | None = None,
        ok_exit_codes: tuple[int, ...] = (0,),
        branch: str | None = None,
        source: str | None = None,
    ) -> CommandResult:
        envs = {"GIT_TERMINAL_PROMPT": "0"}
        if authenticated:
            envs[TOKEN_ENV] = self._token
        try:
            result = await self._sandboxes.run(
                sandbox,
                command,
                cwd=cwd,
                envs=envs,
                timeout_s=self._timeout_s,
                on_output=self._cleaned(on_output),
            )
        except CommandTimeout as error:
            raise GitTimeout(
                f"{what} timed out after {self._timeout_s:g} s"
                + (": GitHub did not answer in time" if authenticated else ""),
                transient=True,
            ) from error
        if result.exit_code not in ok_exit_codes:
            raise self._explain(what, result, branch, source)
        return result

    def _cleaned(self, on_output: OutputCallback | None) -> OutputCallback | None:
        if on_output is None:
            return None

        async def cleaned(stream: str, text: str) -> None:
            await on_output(stream, self._clean(text))

        return cleaned

    def _clean(self, text: str) -> str:
        return redact(text, [self._token])

    def _explain(self, what: str, result: CommandResult, branch: str | None, source: str | None) -> GitError:
        """Turn git's own words into a typed error with a reason a person can act on."""
        output = self._clean(result.output)
        lowered = output.lower()
        said = _last_lines(output)
        failed = f"{what} failed"
        if "authentication failed" in lowered or "could not read username" in lowered:
            return GitAuthFailed(
                f"{failed}: GitHub refused the token; check that {self._credential} is valid and can access the "
                f"repository. git said: {said}"
            )
        if "the requested url returned error: 403" in lowered or ("permission to" in lowered and "denied" in lowered):
            return GitAuthFailed(
                f"{failed}: GitHub denied access (HTTP 403); give {self._credential} write access to the repository. "
                f"git said: {said}"
            )
        if "repository not found" in lowered or re.search(r"repository '.*' not found", lowered):
            return RepositoryNotFound(
                f"{failed}: the repository does not exist, or {self._credential} cannot see it; check the squad's "
                f"repository. git said: {said}"
            )
        if "nothing to commit" in lowered or "no changes added to commit" in lowered:
            return NothingToCommit(f"{failed}: nothing to commit, the agent changed no file")
        if "empty commit message" in lowered:
            return InvalidCommitMessage(f"{failed}: git refused the commit message as empty. git said: {said}")
        if "is not a valid branch name" in lowered:
            return InvalidBranchName(f"{failed}: {branch!r} is not a valid branch name. git said: {said}")
        if re.search(r"a branch named '.*' already exists", lowered):
            return BranchExists(
                f"{failed}: the branch {branch!r} already exists in the sandbox; choose another name or check "
                f"it out. git said: {said}"
            )
        if (
            ("remote branch" in lowered and "not found" in lowered)
            or "couldn't find remote ref" in lowered
            or "is not a commit and a branch" in lowered
        ):
            return BranchNotFound(
                f"{failed}: the branch {source or branch!r} does not exist in the repository on GitHub; check "
                f"its name (for a clone, the repository's default branch). git said: {said}"
            )
        if "[remote rejected]" in lowered:
            return PushRejected(
                f"{failed}: GitHub refused to update the branch {branch!r} (a protected branch or a hook); "
                f"push to another branch. git said: {said}"
            )
        if "[rejected]" in lowered:
            return PushRejected(
                f"{failed}: the branch {branch!r} on GitHub has commits the sandbox does not have "
                f"(someone else pushed to it); fetch and rebase, or push to a new branch. git said: {said}"
            )
        if any(marker in lowered for marker in _NETWORK_FAILURES):
            return GitNetworkError(f"{failed}: network failure talking to GitHub. git said: {said}", transient=True)
        return GitError(f"{failed} with exit code {result.exit_code}. git said: {said}")


def _require_branch_name(name: str) -> None:
    if not is_valid_branch_name(name):
        raise InvalidBranchName(f"{name!r} is not a valid branch name (see git check-ref-format)")


def _last_lines(output: str, limit: int = 400) -> str:
    """The end of git's output on one line: hints and progress dropped, the reason kept."""
    lines = [line.strip() for line in output.strip().splitlines()]
    kept = [line for line in lines if line and not line.startswith("hint:")]
    return " | ".join(kept)[-limit:] or "(no output)"
