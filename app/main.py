"""The Agent Squad platform: API, live event stream, board, and the in-app pipeline worker."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from app import error_tracking
from app.api import (
    API_PREFIX,
    agents,
    git,
    github_webhooks,
    health,
    metrics,
    pull_requests,
    sandboxes,
    squads,
    stream,
    tasks,
)
from app.api.errors import documented, install_error_handlers
from app.api.parameters import refuse_unstorable_parameters
from app.http_limits import RequestBodyLimits
from app.metrics import MetricsMiddleware
from app.runtime import Runtime
from app.settings import WEBHOOK_PATH, Settings, get_settings

WEB_DIR = Path(__file__).parent / "web"


def attach_runtime(app: FastAPI, runtime: Runtime) -> None:
    """Give the app its runtime (done by the lifespan, or by a test): the only state the app holds;
    the API reaches settings, sessions and services through it (app/api/deps.py `get_runtime`)."""
    app.state.runtime = runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    error_tracking.start(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Runtime(settings) as runtime:
            attach_runtime(app, runtime)
            worker_task = asyncio.create_task(runtime.worker().run_forever()) if settings.squad_run_worker else None
            try:
                yield
            finally:
                if worker_task is not None:
                    worker_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker_task

    app = FastAPI(
        title="Agent Squad",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable_parameters)],
    )
    for module in (squads, agents, tasks, sandboxes, git, pull_requests, github_webhooks, stream):
        # Every API route may meet the request limits (app/http_limits.py) and a squad's limits (app/limits.py).
        app.include_router(module.router, prefix=API_PREFIX, responses=documented(408, 413, 429))
    app.include_router(health.router)
    app.include_router(metrics.router)
    install_error_handlers(app)
    # Metrics outside the body limits, so their refusals are counted too.
    app.add_middleware(
        RequestBodyLimits,
        max_body_bytes=settings.request_max_body_bytes,
        body_timeout_s=settings.request_body_timeout_s,
        path_limits={WEBHOOK_PATH: (settings.github_webhook_max_body_bytes, "GITHUB_WEBHOOK_MAX_BODY_BYTES")},
    )
    app.add_middleware(MetricsMiddleware)

    @app.get("/", include_in_schema=False)
    async def board() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    app.mount("/web", StaticFiles(directory=WEB_DIR, check_dir=False), name="web")
    return app


app = create_app()
