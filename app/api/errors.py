"""How failures outside the platform reach a client: a 502 or 503 with a message, never a 500."""

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError

from app.api.deps import get_runtime
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


class Problem(BaseModel):
    """An error answer: what went wrong, in words; `service` names the outside service that failed."""

    detail: str
    service: str | None = None


# Every status the API answers is in its OpenAPI document, with this shape (422 keeps FastAPI's own).
PROBLEMS = {
    400: "the body is not readable JSON, or a header value is malformed",
    401: "no bearer token, or one of no squad",
    403: "the token may not do this, or the platform's operator does not allow it; `detail` says which",
    404: "no such resource in this squad (another squad's are reported exactly like missing ones)",
    408: "the request's body did not arrive in time (REQUEST_BODY_TIMEOUT_S); send it again",
    409: "the request conflicts with the current state of the task, sandbox or branch",
    413: "the request's body is larger than the platform takes (REQUEST_MAX_BODY_BYTES)",
    429: "the squad is over a limit (requests a second, open streams, sandboxes); try again after Retry-After",
    502: "an outside service (E2B, git, GitHub) refused the request; `service` names it",
    503: "the database or an outside service is unavailable; try again (after Retry-After when given)",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error statuses it may answer, each with the Problem shape."""
    return {status: {"model": Problem, "description": PROBLEMS[status]} for status in statuses}


class _AsciiJSONResponse(JSONResponse):
    """JSON with everything beyond ASCII escaped: an answer that quotes the client's own input back
    (a 422's `input`) stays encodable when that input is not valid Unicode (an unpaired surrogate)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer, rendered so that it cannot fail on what it quotes.
        return _AsciiJSONResponse({"detail": jsonable_encoder(error.errors())}, status_code=422)

    @app.exception_handler(ServiceError)
    async def service_failed(request: Request, error: ServiceError) -> JSONResponse:
        # A conflict with the state of the work is the client's to resolve (409); otherwise the
        # outside service failed: 503 says "try again" when that may help, 502 when it will not.
        message = redact(error.message, get_runtime(request).settings.secrets())
        if isinstance(error, InvalidBranchName | InvalidCommitMessage):
            # A value git refuses is invalid input: answered in the shape of every other 422.
            field = "branch" if isinstance(error, InvalidBranchName) else "message"
            problem = {"loc": ["body", field], "msg": message, "type": "value_error"}
            return JSONResponse({"detail": [problem]}, status_code=422)
        if isinstance(error, NothingToCommit | DuplicatePullRequest | BranchExists | PushRejected):
            status = 409
        else:
            status = 503 if error.transient else 502
        headers = {"Retry-After": str(int(error.retry_after) + 1)} if error.retry_after is not None else None
        return JSONResponse({"detail": message, "service": error.service}, status_code=status, headers=headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def database_unavailable(request: Request, error: DBAPIError) -> JSONResponse:
        log.warning("database error on %s %s: %s", request.method, request.url.path, type(error.orig).__name__)
        return JSONResponse({"detail": "the database is unavailable; try again"}, status_code=503)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        # A bug, not bad input or an outside failure. The answer keeps the Problem shape and leaves the
        # exception's text out (it may hold a secret or another squad's data); the server logs the
        # traceback, through the redacting filter.
        return JSONResponse({"detail": "internal error; the platform's log has the details"}, status_code=500)
