"""E2B's error bodies: {"code": <status>, "message": "..."} (the `Error` schema of the API's description,
and of envd's), what the proxy in front of envd answers for a sandbox that is gone, and envd's 404."""

from __future__ import annotations

from starlette.responses import JSONResponse, PlainTextResponse

from mocks.e2b.state import E2BError, SandboxNotFound

STATUS_MESSAGES = {
    400: "Bad request",
    401: "Invalid API key",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
ENVD_UNAUTHORIZED = "unauthorized access, please provide a valid access token or method signing if supported"


def e2b_error(status: int, message: str | None = None) -> JSONResponse:
    return JSONResponse({"code": status, "message": message or STATUS_MESSAGES.get(status, "Error")}, status)


def sandbox_not_found_message(sandbox_id: str) -> str:
    return f"Sandbox \"{sandbox_id}\" doesn't exist or you don't have access to it"


def error_response(error: E2BError) -> JSONResponse:
    """The API's answer to a request the state or the request checks refused."""
    if isinstance(error, SandboxNotFound):
        return e2b_error(error.status, sandbox_not_found_message(error.sandbox_id))
    return e2b_error(error.status, error.message)


def envd_sandbox_gone(sandbox_id: str) -> JSONResponse:
    # The SDK maps "... was not found" to SandboxNotRunningException.
    return JSONResponse(
        {"sandboxId": sandbox_id, "message": f"The sandbox {sandbox_id} was not found", "code": 502}, 502
    )


def envd_not_found() -> PlainTextResponse:
    return PlainTextResponse("404 page not found\n", 404)
