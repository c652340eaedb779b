"""Typed failures of the outside services, each with a message a person can act on.

Every message is built by the service that raises it, with its secrets (API key, token, envd access
token) already replaced by `***`, so an error can be shown, logged or stored as it is.
"""


class ServiceError(Exception):
    """A failure talking to E2B, git, GitHub or the LLM provider.

    `transient` failures (timeouts, connection errors, 5xx, 429, rate limits) are worth retrying; the
    others are not. `retry_after` is the wait the service asked for, in seconds, when it said so.
    `attempts` is how many times the call was tried, set when the retry loop gave up on it (an outer
    retry loop then leaves it alone rather than multiplying the attempts).
    """

    service = "service"

    def __init__(self, message: str, *, transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.attempts: int | None = None

    def give_up(self, attempts: int, reason: str) -> None:
        """Record that retrying stopped after `attempts`, saying why in the message."""
        self.attempts = attempts
        self.message = f"{self.message} ({reason})"
        self.args = (self.message,)

    @property
    def retries_exhausted(self) -> bool:
        return self.attempts is not None


# -- E2B --------------------------------------------------------------------------------------------------


class SandboxError(ServiceError):
    service = "E2B"


class SandboxAuthError(SandboxError):
    """E2B refused the API key, or envd the sandbox's access token."""


class SandboxQuotaExceeded(SandboxError):
    """E2B answered 429: too many sandboxes at once, or too many requests."""


class SandboxTimeout(SandboxError):
    """Creating a sandbox got no answer in time."""


class SandboxNotRunning(SandboxError):
    """The sandbox is gone: destroyed, or past its timeout."""


class SandboxFileError(SandboxError):
    """envd refused a file path: no such file, a directory, a parent that is a file."""


class CommandTimeout(SandboxError):
    """A command ran past its per-command timeout and was stopped."""


class CommandFailed(SandboxError):
    """A command in the sandbox exited non-zero."""

    def __init__(self, command_name: str, exit_code: int, output: str) -> None:
        super().__init__(f"{command_name} exited with code {exit_code}: {output.strip()[-500:]}")
        self.exit_code = exit_code
        self.output = output


# -- git --------------------------------------------------------------------------------------------------


class GitError(ServiceError):
    service = "git"


class GitAuthFailed(GitError):
    """GitHub refused the token git presented (or the token may not write to the repository)."""


class GitNetworkError(GitError):
    """git could not talk to GitHub: connection refused or reset, DNS, HTTP 5xx/429 (transient)."""


class GitTimeout(GitNetworkError):
    """A git command ran past its timeout (for network commands: a stalled connection)."""


class RepositoryNotFound(GitError):
    """The clone URL names no repository the token can see."""


class BranchNotFound(GitError):
    """The branch (the default branch to clone, a base or a remote branch) does not exist."""


class BranchExists(GitError):
    """A local branch of that name already exists."""


class InvalidBranchName(GitError):
    """The name is not one git accepts for a branch."""


class InvalidCommitMessage(GitError):
    """The commit message is empty or cannot be passed to git."""


class NothingToCommit(GitError):
    """The working tree has no change: there is nothing to commit."""


class PushRejected(GitError):
    """The remote refused the update: non-fast-forward, or a protected branch or hook said no."""


# -- GitHub -----------------------------------------------------------------------------------------------


class GitHubError(ServiceError):
    service = "GitHub"


class GitHubAuthError(GitHubError):
    """401: GitHub refused the token."""


class GitHubForbidden(GitHubError):
    """403 that is not a rate limit: the token lacks a permission."""


class GitHubNotFound(GitHubError):
    """404: the repository does not exist, or the token cannot see it."""


class RateLimited(GitHubError):
    """A primary (x-ratelimit-remaining: 0) or secondary (retry-after) rate limit.

    `escalates`: GitHub named no wait, so the next one in a row waits twice as long, as GitHub asks.
    """

    escalates = False


class DuplicatePullRequest(GitHubError):
    """422: a pull request from that branch is already open."""


class PullRequestValidationError(GitHubError):
    """422 other than a duplicate: e.g. no commits between the branches, an unknown head or base."""


# -- the LLM provider -------------------------------------------------------------------------------------


class LLMError(ServiceError):
    """A failure of the OpenAI-compatible Chat Completions API.

    `outcome` names the failure for the metrics: the kind of a transient one, "refused" for the rest.
    """

    service = "LLM"
    kind = "server_error"

    @property
    def outcome(self) -> str:
        return self.kind if self.transient else "refused"


class LLMAuthError(LLMError):
    """401/403: the provider refused the API key, or the key may not use the model."""


class LLMModelNotFound(LLMError):
    """404 model_not_found: no such model, or not for this key."""


class LLMContextTooLong(LLMError):
    """400 context_length_exceeded: the conversation no longer fits the model's context window."""


class LLMRateLimited(LLMError):
    """429: a rate limit (transient), or the account's quota used up (permanent)."""

    kind = "rate_limited"


class LLMTimeout(LLMError):
    """The provider did not answer, or stopped sending, within the timeout."""

    kind = "timeout"


class LLMUnreachable(LLMError):
    """The provider could not be reached: connection refused or reset before any answer."""

    kind = "connection_error"


class LLMStreamCut(LLMError):
    """The answer's stream ended, or broke, before it was complete."""

    kind = "stream_cut"
