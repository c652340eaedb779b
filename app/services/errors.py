"""Typed failures of the outside services, each with a message a person can act on."""


class ServiceError(Exception):
    """A failure talking to E2B, git or GitHub.

    `transient` failures (timeouts, 5xx, 429) are worth retrying; the others are not.
    `retry_after` is the wait the service asked for, in seconds, when it said so.
    """

    service = "service"

    def __init__(self, message: str, *, transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after


class SandboxError(ServiceError):
    service = "E2B"


class CommandFailed(SandboxError):
    """A command in the sandbox exited non-zero."""

    def __init__(self, command_name: str, exit_code: int, output: str) -> None:
        super().__init__(f"{command_name} exited with code {exit_code}: {output.strip()[-500:]}")
        self.exit_code = exit_code
        self.output = output


class GitError(ServiceError):
    service = "git"


class GitHubError(ServiceError):
    service = "GitHub"
