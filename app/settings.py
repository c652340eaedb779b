"""Configuration of the platform, read from environment variables (documented in docs/configuration.md)."""

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.repositories import AllowedRepositories
from app.services.rate_gate import DEFAULT_MAX_WAIT_S

# Where the platform takes GitHub's webhook deliveries, under its public URL (app/api/github_webhooks.py).
WEBHOOK_PATH = "/api/v1/github/webhooks"


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
    # More tokens, comma-separated, each of another GitHub account (a machine user or an App installation)
    # with the same access as GITHUB_TOKEN: tasks are spread over all of them, each with its own rate
    # limits (app/services/github_accounts.py). Empty: GITHUB_TOKEN alone.
    github_extra_tokens: SecretStr = SecretStr("")
    # GitHub's webhooks (POST /api/v1/github/webhooks): the secret every delivery is signed with
    # (X-Hub-Signature-256). Empty: deliveries are refused (503), since forgeries could not be told apart.
    github_webhook_secret: SecretStr = SecretStr("")
    # The largest delivery taken (413 past it; GitHub sends up to 25 MB, but the events the platform acts
    # on are far smaller; only a push of thousands of commits comes near): in place of REQUEST_MAX_BODY_BYTES.
    github_webhook_max_body_bytes: int = Field(5 * 1024 * 1024, ge=1)
    # Where GitHub reaches this platform from outside (scheme, host and any path prefix, e.g.
    # https://squad.example.com): a squad's repository gets its webhook at this URL + /api/v1/github/webhooks
    # when the squad is created. Unset: no webhook is registered (the squad's answer says so).
    platform_public_url: str | None = None

    # The operator's token: creating a squad (POST /api/v1/squads) takes it as a bearer token. Empty:
    # nobody can create squads (the refusal names this setting).
    squad_admin_token: SecretStr = SecretStr("")
    # The repositories a squad may name, comma-separated: `owner/name`, or `owner/*` for all of an
    # owner's. Empty: none (the refusal names this setting). The platform's GITHUB_TOKEN must also be
    # able to push to a repository, which GitHub is asked when the squad is created.
    allowed_repositories: str = ""

    # The agent's model: an OpenAI-compatible Chat Completions API (the base URL ends in /v1).
    llm_api_url: str = "https://api.openai.com/v1"
    llm_api_key: SecretStr = SecretStr("")
    llm_model: str = "gpt-4o-mini"
    # The longest wait for the provider's answer to start, or for its next piece once it streams.
    llm_timeout_s: float = Field(60.0, gt=0)
    # USD per million tokens, replacing the price table's (app/agent/pricing.py) for every model:
    # for a model the table does not know, or a negotiated price. Both or neither.
    llm_price_input_per_mtok: float | None = Field(None, ge=0)
    llm_price_output_per_mtok: float | None = Field(None, ge=0)

    # The agent's loop of one pipeline run stops, failing the task, at the first of these caps: model
    # turns, seconds, tokens (prompt + completion, as the provider counts them) and their cost.
    agent_max_steps: int = Field(40, ge=1)
    agent_max_seconds: float = Field(900.0, gt=0)
    agent_max_tokens: int = Field(1_000_000, ge=1)
    agent_max_cost_usd: float = Field(2.0, gt=0)
    # Malformed tool calls (bad JSON, wrong or missing arguments, an unknown tool) in a row that are
    # answered with an error for the model to correct; the next one fails the task.
    agent_max_tool_errors: int = Field(3, ge=1)
    # How much of a command's output or a file the model is sent back (the middle is cut).
    agent_tool_output_chars: int = Field(8000, ge=200)

    # Transient failures of E2B, git, GitHub and the LLM: attempts, capped exponential backoff with
    # jitter, and the longest wait a service may ask for (Retry-After) before giving up.
    retry_attempts: int = 4
    retry_base_delay_s: float = 0.2
    retry_max_delay_s: float = 5.0
    retry_max_wait_s: float = 60.0
    # GitHub's rate limits are waited out instead (app/services/rate_gate.py): one call with a token that
    # GitHub told to wait holds up every call with that token until the wait is over. This is the longest
    # a call may be held up so, from its start; a longer wait fails the call (and a pipeline's task).
    github_rate_limit_max_wait_s: float = Field(DEFAULT_MAX_WAIT_S, ge=0)

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

    # Per squad, so one squad cannot starve the others (app/limits.py; per web process, but sandboxes,
    # which are counted in the database): its request rate, a token bucket refilled at this many
    # requests a second (0: no limit) holding at most SQUAD_RATE_LIMIT_BURST; its event streams open
    # at once; its live sandboxes (made by hand or by its pipelines). Past a limit: 429 + Retry-After.
    squad_rate_limit_per_s: float = Field(20.0, ge=0)
    squad_rate_limit_burst: int = Field(200, ge=1)
    squad_max_streams: int = Field(100, ge=1)
    squad_max_sandboxes: int = Field(10, ge=1)
    # Every request (app/http_limits.py): the largest body taken (413 past it, read or declared) and
    # how long the whole body may take to arrive (408 past it).
    request_max_body_bytes: int = Field(1024 * 1024, ge=1)
    request_body_timeout_s: float = Field(30.0, gt=0)
    # The server (`python -m app`, app/server.py): how long a connection may take to send a request's
    # headers (then it is closed, 408), an idle keep-alive connection is kept, and how many
    # connections (streams included) it serves at once before answering 503.
    request_header_timeout_s: float = Field(10.0, gt=0)
    server_keep_alive_s: float = Field(5.0, gt=0)
    server_max_connections: int = Field(4096, ge=1)
    # Web processes `python -m app` serves with (uvicorn's workers, on one port). Each one is a full
    # platform process: its own connection limit, per-squad rate and stream limits, and in-app worker
    # (WORKER_CONCURRENCY jobs) unless SQUAD_RUN_WORKER=false. Events reach every process's streams
    # through the database (app/fanout.py), so a stream may be served by any of them.
    server_workers: int = Field(1, ge=1)

    # Error tracking (app/error_tracking.py): off while SENTRY_DSN is empty. Events are scrubbed of
    # every secret before they leave.
    sentry_dsn: SecretStr = SecretStr("")
    sentry_environment: str = "production"
    sentry_release: str = ""
    # The log's lines: `text`, or `json` (one object a line, for a log collector; app/logs.py).
    log_format: Literal["text", "json"] = "text"

    sse_heartbeat_s: float = 15.0
    # How often a stream re-reads the event table when no in-process signal arrives
    # (events written by worker processes elsewhere).
    sse_poll_interval_s: float = 1.0

    @field_validator("allowed_repositories")
    @classmethod
    def _entries_are_repositories(cls, value: str) -> str:
        AllowedRepositories.parse(value)  # a typo must stop the start-up, not silently allow nothing
        return value

    @field_validator("platform_public_url")
    @classmethod
    def _public_url_is_a_web_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"PLATFORM_PUBLIC_URL must be an http(s) URL without query or fragment, not {value!r}")
        return value.rstrip("/")

    def webhook_url(self) -> str | None:
        """The URL GitHub delivers this platform's webhooks to, or None when PLATFORM_PUBLIC_URL is unset."""
        return f"{self.platform_public_url}{WEBHOOK_PATH}" if self.platform_public_url else None

    def allowed(self) -> AllowedRepositories:
        return AllowedRepositories.parse(self.allowed_repositories)

    @model_validator(mode="after")
    def _prices_come_in_pairs(self) -> "Settings":
        if (self.llm_price_input_per_mtok is None) != (self.llm_price_output_per_mtok is None):
            raise ValueError("set both LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK, or neither")
        return self

    def github_tokens(self) -> list[tuple[str, str]]:
        """(the setting that names it, the token) for each of the platform's GitHub tokens: GITHUB_TOKEN
        first, then those of GITHUB_EXTRA_TOKENS, each once. At least one, empty if none is set."""
        extras = [token.strip() for token in self.github_extra_tokens.get_secret_value().split(",")]
        named = [("GITHUB_TOKEN", self.github_token.get_secret_value())] + [
            (f"token {number} of GITHUB_EXTRA_TOKENS", token) for number, token in enumerate(extras, 1) if token
        ]
        tokens: list[tuple[str, str]] = []
        for name, token in named:
            if token and token not in [known for _, known in tokens]:
                tokens.append((name, token))
        return tokens or named[:1]

    def secrets(self) -> list[str]:
        """Every secret value the platform holds, for redaction."""
        held = (
            self.e2b_api_key,
            self.github_token,
            self.squad_admin_token,
            self.llm_api_key,
            self.github_webhook_secret,
        )
        tokens = [token for _, token in self.github_tokens()]
        return list(dict.fromkeys([value for secret in held if (value := secret.get_secret_value())] + tokens))


@lru_cache
def get_settings() -> Settings:
    return Settings()
