"""The fake GitHub in-process: a respx router for the API URL forwarding to the app.

git runs as a subprocess, which respx cannot see: serve the same FakeGitHub with `serve_in_thread`
too, set `fake.git_base_url` to that server's URL (clone_url then points there) and pass it in
`passthrough_urls` if the test also calls that server with httpx while the router is active.
"""

from __future__ import annotations

import respx

from mocks.common.respx_bridge import asgi_router
from mocks.github.app import ROUTES, build_app
from mocks.github.state import FakeGitHub

GITHUB_API_URL = "https://api.github.com"


def github_router(
    fake: FakeGitHub, api_url: str = GITHUB_API_URL, *, passthrough_urls: tuple[str, ...] = ()
) -> respx.MockRouter:
    """A respx router answering `api_url` from `fake`; its routes are named after the operations of the
    app's route table (mocks.github.app.ROUTES), plus "not_found"."""
    return asgi_router(build_app(fake), [api_url], ROUTES, passthrough_urls=passthrough_urls)
