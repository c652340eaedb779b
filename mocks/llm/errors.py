"""OpenAI's error answers: `{"error": {"message", "type", "param", "code"}}` with the status, and the
wording OpenAI uses for each status when the refusal itself says nothing more."""

from __future__ import annotations

from starlette.responses import JSONResponse

from mocks.llm.rate_limits import RateLimits
from mocks.llm.state import RETRY_AFTER_429, LLMError

HELP = "You can retry your request, or contact us through our help center at help.openai.com if the error persists."
# status -> (type, message) of OpenAI's answer when nothing more specific is known
STATUS_ERRORS = {
    400: ("invalid_request_error", "Bad request."),
    401: (
        "invalid_request_error",
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
        "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're "
        "accessing the API from your browser and are prompted for a username and password. You can obtain an API "
        "key from https://platform.openai.com/account/api-keys.",
    ),
    403: ("invalid_request_error", "You are not allowed to sample from this model."),
    404: ("invalid_request_error", "Not found."),
    409: ("invalid_request_error", "The request conflicted with another request."),
    429: ("requests", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", f"The server had an error while processing your request. Sorry about that! {HELP}"),
    502: ("server_error", f"Bad gateway. {HELP}"),
    503: ("server_error", f"That model is currently overloaded with other requests. {HELP}"),
    504: ("server_error", f"The server did not respond in time. {HELP}"),
}


def openai_error(
    status: int,
    message: str | None = None,
    *,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    default_type, default_message = STATUS_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", f"HTTP {status}")
    )
    body = {"message": message or default_message, "type": type or default_type, "param": param, "code": code}
    return JSONResponse({"error": body}, status, headers=headers)


def status_error(status: int, limits: RateLimits | None = None) -> JSONResponse:
    """OpenAI's answer for a bare status (what a status fault without a body answers). A 429 says, as
    OpenAI's do, when to retry and which limit ran out (the requests per minute of `limits`)."""
    if status != 429:
        return openai_error(status)
    headers = dict(RETRY_AFTER_429)
    if limits is not None:
        headers.update(limits.exhausted_headers(RETRY_AFTER_429["retry-after"] + "s"))
    return openai_error(status, headers=headers)


def error_response(error: LLMError) -> JSONResponse:
    """The answer to a request the state or the request checks refused."""
    return openai_error(
        error.status, error.message, type=error.type, param=error.param, code=error.code, headers=error.headers
    )


def invalid_api_key(key: str) -> JSONResponse:
    return openai_error(
        401,
        f"Incorrect API key provided: {masked(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def masked(key: str) -> str:
    """The key as OpenAI shows it back: its start and last four characters. A short key is masked whole
    (OpenAI shows it as it came), so no test key ever comes back readable."""
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def invalid_url(method: str, path: str) -> JSONResponse:
    return openai_error(404, f"Invalid URL ({method} {path})")
