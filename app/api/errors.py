"""How failures outside the platform reach a client: a 502 or 503 with a message, never a 500."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError

from app.redaction import redact
from app.services.errors import (
    BranchExists,
    DuplicatePullRequest,
    InvalidBranchName,
    InvalidCommitMessage,
    NothingToCommit,
    PushRejected,
    ServiceError,
)

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_failed(request: Request, error: ServiceError) -> JSONResponse:
        # A conflict with the state of the work is the client's to resolve (409); otherwise the
        # outside service failed: 503 says "try again" when that may help, 502 when it will not.
        if isinstance(error, InvalidBranchName | InvalidCommitMessage):
            status = 422
        elif isinstance(error, NothingToCommit | DuplicatePullRequest | BranchExists | PushRejected):
            status = 409
        else:
            status = 503 if error.transient else 502
        headers = {"Retry-After": str(int(error.retry_after) + 1)} if error.retry_after is not None else None
        message = redact(error.message, request.app.state.settings.secrets())
        return JSONResponse({"detail": message, "service": error.service}, status_code=status, headers=headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def database_unavailable(request: Request, error: DBAPIError) -> JSONResponse:
        log.warning("database error on %s %s: %s", request.method, request.url.path, type(error.orig).__name__)
        return JSONResponse({"detail": "the database is unavailable; try again"}, status_code=503)
