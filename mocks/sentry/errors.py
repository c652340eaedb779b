"""Sentry's ingest answers refusals as Relay does: a status and `{"detail": ..., "causes": [...]}`."""

from __future__ import annotations

from starlette.responses import JSONResponse

from mocks.sentry.state import SentryError

STATUS_DETAILS = {
    400: "invalid event envelope",
    401: "missing authorization information",
    403: "event submission rejected with_reason: ProjectId",
    404: "not found",
    413: "envelope exceeded size limits",
    429: "Too many requests",
    500: "internal server error",
    502: "upstream request failed",
    503: "service unavailable",
}
# A 429 tells the SDK how long to back off, per data category (Relay's header).
RETRY_AFTER_429 = {"retry-after": "60", "x-sentry-rate-limits": "60::organization"}


def sentry_error(status: int, detail: str | None = None, causes: list[str] | None = None) -> JSONResponse:
    body: dict[str, object] = {"detail": detail or STATUS_DETAILS.get(status, f"HTTP {status}")}
    if causes:
        body["causes"] = causes
    return JSONResponse(body, status, headers=RETRY_AFTER_429 if status == 429 else None)


def error_response(error: SentryError) -> JSONResponse:
    return sentry_error(error.status, error.detail, error.causes)


def status_error(status: int) -> JSONResponse:
    """The answer of a bare status fault."""
    return sentry_error(status)


def missing_auth() -> JSONResponse:
    return sentry_error(401)
