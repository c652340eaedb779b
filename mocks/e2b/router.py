"""The fake E2B in-process: a respx router for the API URL (and the envd URL) forwarding to the app."""

from __future__ import annotations

import respx

from mocks.common.respx_bridge import asgi_router
from mocks.e2b.app import ROUTES, build_app
from mocks.e2b.state import FakeE2B

E2B_API_URL = "https://api.e2b.app"
E2B_SANDBOX_URL = "https://sandbox.e2b.app"


def e2b_router(
    fake: FakeE2B,
    api_url: str = E2B_API_URL,
    sandbox_url: str | None = E2B_SANDBOX_URL,
    *,
    passthrough_urls: tuple[str, ...] = (),
) -> respx.MockRouter:
    """A respx router answering `api_url` (and envd at `sandbox_url`) from `fake`.

    Use as `with e2b_router(fake) as router:`; its routes are named after the operations of the app's
    route table (mocks.e2b.app.ROUTES), plus "not_found".
    """
    base_urls = [api_url] if sandbox_url in (None, api_url) else [api_url, sandbox_url]
    return asgi_router(build_app(fake), base_urls, ROUTES, passthrough_urls=passthrough_urls)
