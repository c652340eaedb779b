"""Configuration of the platform, read from environment variables (documented in docs/configuration.md)."""

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./.squad/squad.db"
    # Run Alembic on start-up; compose runs it as a separate step and turns this off.
    squad_auto_migrate: bool = True
    squad_log_sql: bool = False

    e2b_api_url: str = "https://api.e2b.app"
    # When set, every envd call goes to this one base URL and names the sandbox in a header,
    # as the official SDK does; otherwise envd is reached at https://49983-<sandbox>.<domain>.
    e2b_sandbox_url: str | None = None
    e2b_domain: str = "e2b.app"
    e2b_api_key: SecretStr = SecretStr("")
    e2b_template: str = "base"
    sandbox_timeout_s: int = 600

    github_api_url: str = "https://api.github.com"
    github_token: SecretStr = SecretStr("")

    # Transient failures of E2B, git and GitHub: attempts, capped exponential backoff with jitter,
    # and the longest wait a service may ask for (Retry-After, rate-limit reset) before giving up.
    retry_attempts: int = 4
    retry_base_delay_s: float = 0.2
    retry_max_delay_s: float = 5.0
    retry_max_wait_s: float = 60.0

    squad_run_worker: bool = True
    # A job is tried this many times (a worker dying mid-pipeline counts) before its task fails.
    max_job_attempts: int = 3
    worker_poll_interval_s: float = 0.5
    # Jobs one worker (the in-app one, or each `python -m app worker`) runs at the same time.
    worker_concurrency: int = Field(8, ge=1)
    # How long a claimed job stays its worker's without a renewal. The worker renews it three times
    # per lease (a renewal waits at most a sixth of it for the database, then tries again), so only a
    # dead worker stops renewing; its job is taken over once the lease runs out: within 10 s of the
    # death, plus WORKER_POLL_INTERVAL_S for another worker to look.
    job_lease_s: float = Field(10.0, gt=0)
    # How often each worker destroys the sandboxes of pipelines that are over (app/reaper.py); 0: never.
    sandbox_reap_interval_s: float = Field(60.0, ge=0)
    command_timeout_s: float = 120.0
    http_timeout_s: float = 30.0

    sse_heartbeat_s: float = 15.0
    # How often a stream re-reads the event table when no in-process signal arrives
    # (events written by worker processes elsewhere).
    sse_poll_interval_s: float = 1.0

    def secrets(self) -> list[str]:
        """Every secret value the platform holds, for redaction."""
        return [s for s in (self.e2b_api_key.get_secret_value(), self.github_token.get_secret_value()) if s]


@lru_cache
def get_settings() -> Settings:
    return Settings()
