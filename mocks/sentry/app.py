"""The fake Sentry's HTTP front: the envelope endpoint as Sentry's ingest serves it, and /_fake/ admin.

ROUTES is the service's route table (its operation names are those of faults, the journal and the
respx routes). The handler reads the key (validation.py), decompresses and parses the envelope, asks
the state to accept it and answers `{"id": EVENT_ID}`; refusals come back in Relay's shape (errors.py).
Admin: `GET /_fake/envelopes` (every accepted envelope, parsed and raw) and `GET /_fake/events` (the
payloads of the event items), besides the common admin API.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from mocks.common.admin import admin_routes
from mocks.common.operations import RecordingMiddleware
from mocks.common.routes import Endpoint, catch_all, starlette_routes
from mocks.sentry.errors import error_response, missing_auth, sentry_error, status_error
from mocks.sentry.representations import accepted_json, received_json
from mocks.sentry.state import FakeSentry, SentryError
from mocks.sentry.validation import decoded_body, parse_envelope, public_key_of, public_key_of_dsn


async def store_envelope(fake: FakeSentry, request: Request) -> Response:
    try:
        key = public_key_of(request.headers, request.query_params)
        raw = decoded_body(await request.body(), request.headers.get("content-encoding"))
        envelope = parse_envelope(raw)
        key = key or public_key_of_dsn(envelope)
        if key is None:
            return missing_auth()
        fake.accept(request.path_params["project_id"], key, raw, envelope)
    except SentryError as error:
        return error_response(error)
    return JSONResponse(accepted_json(envelope))


ROUTES = [
    Endpoint("store_envelope", "POST", "/api/{project_id:int}/envelope/", store_envelope),
]


def fake_admin_routes(fake: FakeSentry) -> list[BaseRoute]:
    async def envelopes(request: Request) -> Response:
        return JSONResponse([received_json(received) for received in fake.received()])

    async def events(request: Request) -> Response:
        return JSONResponse(fake.events())

    return [
        Route("/_fake/envelopes", envelopes, methods=["GET"]),
        Route("/_fake/events", events, methods=["GET"]),
    ]


async def unknown_url(fake: FakeSentry, request: Request) -> Response:
    return sentry_error(404)


def build_app(fake: FakeSentry) -> ASGIApp:
    app = Starlette(
        routes=[
            *admin_routes(fake),
            *fake_admin_routes(fake),
            *starlette_routes(fake, ROUTES, status_error),
            catch_all(fake, unknown_url, status_error),
        ]
    )
    return RecordingMiddleware(app, fake)
