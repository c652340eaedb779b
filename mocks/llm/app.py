"""The fake LLM's HTTP front: OpenAI's Chat Completions and Models API under /v1, and /_fake/ admin.

ROUTES is the service's route table: its operation names are those of faults, the journal and the respx
routes. A handler checks the key (`Authorization: Bearer KEY`), parses the request (validation.py), asks
the state and represents what it answers (representations.py); what the state or the checks refuse comes
back as an LLMError in OpenAI's error shape (errors.py). Every answer carries OpenAI's headers
(`x-request-id`, `openai-version`, `openai-processing-ms`, `openai-organization`), chat completions also
the key's `x-ratelimit-*`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Scope

from mocks.common.admin import admin_error, admin_routes, book_routes, read_json_object, settings_route
from mocks.common.operations import ADMIN_PREFIX, RecordingMiddleware
from mocks.common.response_headers import Headers, ResponseHeadersMiddleware
from mocks.common.routes import Endpoint, catch_all, starlette_routes
from mocks.llm.errors import error_response, invalid_api_key, invalid_url, openai_error, status_error
from mocks.llm.representations import DONE, chunks, completion_json, model_json, models_json
from mocks.llm.scripts import InvalidScript, Script
from mocks.llm.state import ORGANIZATION, Completion, FakeLLM, LLMError
from mocks.llm.validation import parse_chat_request

OPENAI_VERSION = "2020-10-01"
EVENT_STREAM = "text/event-stream; charset=utf-8"
Handler = Callable[[FakeLLM, Request], Awaitable[Response]]


def api_key(request: Request) -> str | None:
    """The key of `Authorization: Bearer KEY`; None when there is none."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def authenticated(handler: Callable[[FakeLLM, Request, str], Awaitable[Response]]) -> Handler:
    async def endpoint(fake: FakeLLM, request: Request) -> Response:
        key = api_key(request)
        if key is None:
            return status_error(401)
        if not fake.is_valid_api_key(key):
            return invalid_api_key(key)
        try:
            return await handler(fake, request, key)
        except LLMError as error:
            return error_response(error)

    return endpoint


async def generating(milliseconds: int) -> None:
    if milliseconds:
        await asyncio.sleep(milliseconds / 1000)  # the simulated generation time itself, not a wait


async def create_chat_completion(fake: FakeLLM, request: Request, key: str) -> Response:
    chat = parse_chat_request(await request.body())
    completion = fake.complete(chat, key)
    if chat.stream:
        return StreamingResponse(event_stream(completion), media_type=EVENT_STREAM, headers=completion.headers)
    generated = completion.answer.usage.completion_tokens if completion.answer.usage else 0
    await generating(completion.time_to_first_token_ms + completion.per_token_ms * generated)
    return JSONResponse(completion_json(completion), headers=completion.headers)


async def event_stream(completion: Completion) -> AsyncIterator[bytes]:
    first = True
    for chunk in chunks(completion):
        if first:
            await generating(completion.time_to_first_token_ms)
            first = False
        elif chunk.token:
            await generating(completion.per_token_ms)
        yield chunk.sse()
    yield DONE


async def list_models(fake: FakeLLM, request: Request, key: str) -> Response:
    return JSONResponse(models_json(fake.models()))


async def retrieve_model(fake: FakeLLM, request: Request, key: str) -> Response:
    model_id = request.path_params["model"]
    model = fake.model(model_id)
    if model is None:
        return openai_error(404, f"The model '{model_id}' does not exist", param="model", code="model_not_found")
    return JSONResponse(model_json(model))


async def health(fake: FakeLLM, request: Request) -> Response:
    return JSONResponse({"status": "ok"})


# The service's route table, in the order the app matches it (the respx router's named routes too).
# Paths include the API's /v1: a client's base URL is the server's URL + "/v1", as with OpenAI's.
ROUTES = [
    Endpoint("create_chat_completion", "POST", "/v1/chat/completions", authenticated(create_chat_completion)),
    Endpoint("list_models", "GET", "/v1/models", authenticated(list_models)),
    Endpoint("retrieve_model", "GET", "/v1/models/{model}", authenticated(retrieve_model)),
    Endpoint("health", "GET", "/health", health),
]


LATENCY_FIELDS = frozenset({"time_to_first_token_ms", "per_token_ms"})
RATE_LIMIT_FIELDS = frozenset({"requests_per_minute", "tokens_per_minute"})


def _milliseconds(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{key} must be a non-negative integer (milliseconds)")
    return value


def fake_admin_routes(fake: FakeLLM) -> list[BaseRoute]:
    """Besides the common admin API (mocks.common.admin):

    - GET    /_fake/scripts                 the scripts, oldest first                         -> 200 [script]
    - POST   /_fake/scripts {"match", "turns", "name"?, "time_to_first_token_ms"?, "per_token_ms"?}
                                            (see mocks.llm.scripts)                           -> 201 script
    - DELETE /_fake/scripts                 clear them                                        -> 204
    - DELETE /_fake/scripts/{id}            remove one                                        -> 204 (404)
    - GET    /_fake/conversations           each conversation: opening, messages, answers     -> 200 [conversation]
    - GET    /_fake/latency                 {"time_to_first_token_ms", "per_token_ms"}        -> 200
    - POST   /_fake/latency                 set either                                        -> 200 the latency
    - POST   /_fake/models {"id", "context_window", "owned_by"?}                              -> 201 model
    - POST   /_fake/rate_limits {"requests_per_minute"?, "tokens_per_minute"?}                -> 200 the limits
    """

    async def conversations(request: Request) -> Response:
        return JSONResponse([conversation.to_json() for conversation in fake.conversations()])

    def latency_json() -> dict[str, int]:
        return {"time_to_first_token_ms": fake.time_to_first_token_ms, "per_token_ms": fake.per_token_ms}

    async def get_latency(request: Request) -> Response:
        return JSONResponse(latency_json())

    def set_latency(data: dict[str, Any]) -> None:
        fake.set_latency(
            time_to_first_token_ms=_milliseconds(data, "time_to_first_token_ms"),
            per_token_ms=_milliseconds(data, "per_token_ms"),
        )

    def set_rate_limits(data: dict[str, Any]) -> None:
        fake.set_rate_limits(
            requests_per_minute=data.get("requests_per_minute"), tokens_per_minute=data.get("tokens_per_minute")
        )

    async def add_model(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        model_id, window, owned_by = data.get("id"), data.get("context_window"), data.get("owned_by", "openai")
        if not isinstance(model_id, str) or not isinstance(window, int) or not isinstance(owned_by, str):
            return admin_error("id (string), context_window (integer) and owned_by (string) are expected")
        try:
            model = fake.add_model(model_id, context_window=window, owned_by=owned_by)
        except ValueError as error:
            return admin_error(str(error))
        return JSONResponse({**model_json(model), "context_window": model.context_window}, 201)

    return [
        *book_routes("/_fake/scripts", fake.scripts, Script.from_json, (InvalidScript,), one="script"),
        Route("/_fake/conversations", conversations, methods=["GET"]),
        Route("/_fake/latency", get_latency, methods=["GET"]),
        settings_route("/_fake/latency", LATENCY_FIELDS, set_latency, latency_json),
        Route("/_fake/models", add_model, methods=["POST"]),
        settings_route("/_fake/rate_limits", RATE_LIMIT_FIELDS, set_rate_limits, lambda: fake.rate_limits.to_json()),
    ]


async def unknown_url(fake: FakeLLM, request: Request) -> Response:
    return invalid_url(request.method, request.url.path)


def openai_headers(scope: Scope) -> Callable[[], Headers] | None:
    """Every answer of the API carries OpenAI's request id, API version, organization and processing time."""
    if scope["path"].startswith(ADMIN_PREFIX):
        return None
    began = time.monotonic()
    request_id = "req_" + secrets.token_hex(16)

    def headers() -> Headers:
        elapsed = str(round((time.monotonic() - began) * 1000))
        return [
            (b"x-request-id", request_id.encode()),
            (b"openai-version", OPENAI_VERSION.encode()),
            (b"openai-organization", ORGANIZATION.encode()),
            (b"openai-processing-ms", elapsed.encode()),
        ]

    return headers


def build_app(fake: FakeLLM) -> ASGIApp:
    def fault_body(status: int) -> Response:
        return status_error(status, fake.rate_limits)

    app = Starlette(
        routes=[
            *admin_routes(fake),
            *fake_admin_routes(fake),
            *starlette_routes(fake, ROUTES, fault_body),
            catch_all(fake, unknown_url, fault_body),
        ]
    )
    return RecordingMiddleware(ResponseHeadersMiddleware(app, openai_headers), fake)
