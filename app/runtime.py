"""The composition root: database, outbound HTTP clients, services, pipeline and worker."""

import asyncio
import functools
import logging
import os
import ssl
import threading
from pathlib import Path

import certifi
import httpx
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from app.agent.loop import AgentLimits
from app.agent.pricing import Price, price_of
from app.db import create_engine, create_sessionmaker, is_sqlite
from app.events import EventSignal, wakes
from app.fanout import event_hub
from app.inline_reads import InlineReader
from app.known_squads import KnownSquads
from app.limits import RequestRate, SquadCounts
from app.metrics import Metrics
from app.pipeline import Pipeline, PipelineServices
from app.reaper import SandboxReaper
from app.redaction import RedactingFilter
from app.services.e2b import E2BSandboxService
from app.services.git import GitService
from app.services.github import GitHubService
from app.services.github_accounts import GitHubAccount, GitHubAccounts
from app.services.llm import LLMService
from app.services.rate_gate import RateLimitGate
from app.services.retry import RetryPolicy
from app.settings import Settings
from app.worker import Worker

MIGRATIONS_INI = Path(__file__).parent / "migrations" / "alembic.ini"


# Alembic keeps the running migration's context in module globals (`alembic.context`, `alembic.op`):
# two migrations at once in one process (two runtimes starting together, a test session migrating
# two databases from two threads) clobber each other's, and one of them hangs or fails. One at a time.
_ALEMBIC_LOCK = threading.Lock()


def alembic_command(action: str, database_url: str, revision: str) -> None:
    """Run alembic's `upgrade` or `downgrade` to `revision` on `database_url`, one migration at a time."""
    config = Config(str(MIGRATIONS_INI))
    config.attributes["database_url"] = database_url
    with _ALEMBIC_LOCK:
        getattr(command, action)(config, revision)


def migrate(database_url: str, revision: str = "head") -> None:
    alembic_command("upgrade", database_url, revision)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs tens of milliseconds, and
    every Runtime (one per in-process test) would otherwise load it again for each of its clients.
    SSL_CERT_FILE and SSL_CERT_DIR (a company's CA) are honoured, as httpx itself does."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


def install_log_redaction(secrets: list[str]) -> None:
    redacting = RedactingFilter(secrets)
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "app"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(redacting)


def _price_override(settings: Settings) -> Price | None:
    if settings.llm_price_input_per_mtok is None or settings.llm_price_output_per_mtok is None:
        return None
    return Price(settings.llm_price_input_per_mtok, settings.llm_price_output_per_mtok)


class Runtime:
    """Everything the app and the workers share; the only place outbound clients are built."""

    def __init__(self, settings: Settings, bind: AsyncConnection | None = None) -> None:
        """`bind` runs every session inside that connection's transaction, as savepoints
        (SQLAlchemy's recipe for tests that roll back); normally the runtime owns its engine."""
        self.settings = settings
        self.engine = create_engine(settings.database_url, echo=settings.squad_log_sql) if bind is None else None
        # Woken by every commit of these sessions that stored events, a test's savepoints included.
        self.signal = EventSignal()
        self.sessionmaker = (
            create_sessionmaker(self.engine, info=wakes(self.signal))
            if self.engine is not None
            else async_sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint", info=wakes(self.signal)
            )
        )
        # Sessions for the workers' lease renewals: on a SQLite file, on a connection of their own. The
        # process's other writers queue for its one connection (app/db.py, WRITERS_PER_PROCESS), a
        # wait a renewal could not bound; on a connection of its own it meets them in SQLite's busy
        # handler, whose wait it bounds (app/worker `lock_wait`), and gives up in time to try again.
        on_sqlite = self.engine is not None and is_sqlite(settings.database_url)
        self.lease_engine = create_engine(settings.database_url) if on_sqlite else None
        self.lease_sessionmaker = (
            create_sessionmaker(self.lease_engine) if self.lease_engine is not None else self.sessionmaker
        )
        # The event fan-out of the SSE streams (app/fanout.py); on PostgreSQL also woken by other processes.
        self.fanout = event_hub(
            self.sessionmaker,
            self.signal,
            poll_interval_s=settings.sse_poll_interval_s,
            database_url=settings.database_url if self.engine is not None else None,
        )
        # Sessions for requests that only read (GET): on SQLite the fan-out's deferred, query-only
        # sessions, which neither wait for the write lock nor hold it up; on PostgreSQL (no such lock)
        # and in a test's transaction, the ordinary ones.
        self.read_sessionmaker = self.fanout.sessionmaker if on_sqlite else self.sessionmaker
        # The board's reads (app/inline_reads.py): on a SQLite file, on the event loop itself.
        self.inline_reads = InlineReader.for_database(settings.database_url) if on_sqlite else None
        self.metrics = Metrics()
        # The squads this process has authenticated (app/auth.py): a board read needs no query for its token.
        self.squads = KnownSquads()
        # Per-squad limits of this process (app/limits.py).
        self.request_rate = (
            RequestRate(settings.squad_rate_limit_per_s, settings.squad_rate_limit_burst)
            if settings.squad_rate_limit_per_s > 0
            else None
        )
        self.open_streams = SquadCounts()
        self.sandbox_creations = SquadCounts()
        retry = RetryPolicy(
            attempts=settings.retry_attempts,
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=settings.retry_max_delay_s,
            max_retry_after_s=settings.retry_max_wait_s,
        )
        timeout = httpx.Timeout(settings.http_timeout_s)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        tls = tls_context()
        self.e2b_api = httpx.AsyncClient(
            base_url=settings.e2b_api_url,
            verify=tls,
            headers={"X-API-Key": settings.e2b_api_key.get_secret_value()},
            timeout=timeout,
            limits=limits,
        )
        self.envd = httpx.AsyncClient(verify=tls, timeout=timeout, limits=limits)
        # A stream's pieces may come far apart while the model thinks: the timeout is per read, not per answer.
        self.llm_api = httpx.AsyncClient(
            base_url=settings.llm_api_url,
            verify=tls,
            headers={"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"},
            timeout=httpx.Timeout(settings.llm_timeout_s, connect=settings.http_timeout_s),
            limits=limits,
        )
        self.sandboxes = E2BSandboxService(
            self.e2b_api,
            self.envd,
            template=settings.e2b_template,
            sandbox_timeout_s=settings.sandbox_timeout_s,
            sandbox_url=settings.e2b_sandbox_url,
            domain=settings.e2b_domain,
            retry=retry,
        )
        # One client per GitHub token (each sends its own Authorization), and one account of services each.
        self.github_apis: list[httpx.AsyncClient] = []
        self.github_accounts = GitHubAccounts(
            [
                self._github_account(credential, token, retry, timeout, limits, tls)
                for credential, token in settings.github_tokens()
            ]
        )
        self.llm = LLMService(
            self.llm_api,
            model=settings.llm_model,
            retry=retry,
            on_attempt=lambda outcome: self.metrics.llm_calls.labels(outcome).inc(),
        )
        self.pipeline = Pipeline(
            PipelineServices(
                sessions=self.sessionmaker,
                sandboxes=self.sandboxes,
                github_accounts=self.github_accounts,
                secrets=tuple(settings.secrets()),
                metrics=self.metrics,
                llm=self.llm,
                llm_price=price_of(settings.llm_model, _price_override(settings)),
                agent_limits=AgentLimits(
                    max_steps=settings.agent_max_steps,
                    max_seconds=settings.agent_max_seconds,
                    max_tokens=settings.agent_max_tokens,
                    max_cost_usd=settings.agent_max_cost_usd,
                    max_tool_errors=settings.agent_max_tool_errors,
                    tool_output_chars=settings.agent_tool_output_chars,
                    command_timeout_s=settings.command_timeout_s,
                ),
            )
        )

    def _github_account(
        self,
        credential: str,
        token: str,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
        limits: httpx.Limits,
        tls: ssl.SSLContext,
    ) -> GitHubAccount:
        client = httpx.AsyncClient(
            base_url=self.settings.github_api_url,
            verify=tls,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "agent-squad",
            },
            timeout=timeout,
            limits=limits,
        )
        self.github_apis.append(client)
        gate = RateLimitGate(self.settings.github_rate_limit_max_wait_s)
        return GitHubAccount(
            credential,
            GitHubService(client, retry=retry, gate=gate, credential=credential),
            GitService(
                self.sandboxes, token, timeout_s=self.settings.command_timeout_s, retry=retry, credential=credential
            ),
        )

    def worker(self) -> Worker:
        return Worker(
            self.sessionmaker,
            self.signal,
            self.pipeline,
            lease_s=self.settings.job_lease_s,
            poll_interval_s=self.settings.worker_poll_interval_s,
            max_attempts=self.settings.max_job_attempts,
            concurrency=self.settings.worker_concurrency,
            peek_sessionmaker=self.fanout.sessionmaker,
            lease_sessionmaker=self.lease_sessionmaker,
            reaper=self.reaper(),
        )

    def reaper(self) -> SandboxReaper | None:
        interval_s = self.settings.sandbox_reap_interval_s
        return SandboxReaper(self.sessionmaker, self.sandboxes, interval_s) if interval_s > 0 else None

    async def __aenter__(self) -> "Runtime":
        install_log_redaction(self.settings.secrets())
        if self.settings.squad_auto_migrate:
            # Alembic's env runs its own event loop, so it cannot run on this one.
            await asyncio.to_thread(migrate, self.settings.database_url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.fanout.close()
        if self.inline_reads is not None:
            self.inline_reads.close()
        for client in (self.e2b_api, self.envd, *self.github_apis, self.llm_api):
            await client.aclose()
        for engine in (self.engine, self.lease_engine):
            if engine is not None:
                await engine.dispose()
