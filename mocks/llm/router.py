"""The fake LLM in-process: a respx router for the API URL forwarding to the app.

The official `openai` SDK does not send through httpx (it has its own transport), so respx cannot see
it: drive the fake with the SDK over a server (`serve_in_thread(build_app(fake))`, base URL
`server.url + "/v1"`). The platform's own httpx client is what this router is for.
"""

from __future__ import annotations

import httpx
import respx

from mocks.common.respx_bridge import asgi_router
from mocks.llm.app import ROUTES, build_app
from mocks.llm.state import FakeLLM

LLM_API_URL = "https://api.openai.com/v1"
API_PATH = "/v1"


def llm_router(
    fake: FakeLLM, api_url: str = LLM_API_URL, *, passthrough_urls: tuple[str, ...] = ()
) -> respx.MockRouter:
    """A respx router answering `api_url` (a base URL ending in /v1, as LLM_API_URL is) from `fake`.

    Use as `with llm_router(fake) as router:`; its routes are named after the operations of the app's
    route table (mocks.llm.app.ROUTES), plus "not_found" for every other URL of the host.
    """
    url = httpx.URL(api_url.rstrip("/"))
    if url.path != API_PATH:
        raise ValueError(f"the fake LLM serves its API under {API_PATH}: {api_url!r} must end in it")
    return asgi_router(build_app(fake), [str(url.copy_with(path="/"))], ROUTES, passthrough_urls=passthrough_urls)
