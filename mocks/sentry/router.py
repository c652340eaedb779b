"""The fake Sentry in-process: a respx router for an ingest URL forwarding to the app.

The official `sentry-sdk` sends with urllib3 in a thread of its own, not through httpx, so respx cannot
see it: point the SDK at a server (`serve_in_thread(build_app(fake))`, DSN `fake.dsn(server.url)`).
This router is for httpx clients that post envelopes themselves.
"""

from __future__ import annotations

import respx

from mocks.common.respx_bridge import asgi_router
from mocks.sentry.app import ROUTES, build_app
from mocks.sentry.state import FakeSentry

SENTRY_INGEST_URL = "https://o0.ingest.sentry.io"


def sentry_router(
    fake: FakeSentry, ingest_url: str = SENTRY_INGEST_URL, *, passthrough_urls: tuple[str, ...] = ()
) -> respx.MockRouter:
    """A respx router answering `ingest_url` from `fake`; its routes are named after the operations of
    the app's route table (mocks.sentry.app.ROUTES), plus "not_found" for every other URL of the host."""
    return asgi_router(build_app(fake), [ingest_url], ROUTES, passthrough_urls=passthrough_urls)
