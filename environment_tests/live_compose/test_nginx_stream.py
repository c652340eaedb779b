"""The event stream through nginx (docker-compose.deploy.yml, deploy/nginx/squad.conf): events leave
the proxy the moment the platform writes them, heartbeats reach an idle stream, the connection stays
HTTP/1.1 without `Connection: close`, and what nginx keeps inside the network stays there.

SQUAD_BASE_URL is nginx; the suites' fixtures (new_squad) make their squads through it."""

import asyncio
import json
import os
import time

import anyio
import httpx
import pytest
from httpx_sse import aconnect_sse

from fixtures import http
from fixtures.factories import task_data
from fixtures.sse import heartbeat_comments, raw_event_stream

pytestmark = [pytest.mark.e2e, pytest.mark.priority_p1]

# From the request that creates a task to its event on a stream already open through nginx. The
# platform writes the event when the request commits; buffered, nginx would hold it until kilobytes
# of heartbeats filled its buffer (minutes at one short comment a second).
DELIVERY_BOUND_S = 2.0


@pytest.fixture
def nginx_url(live_engine) -> str:
    return os.environ["SQUAD_BASE_URL"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_event_arrives_through_nginx_within_the_bound(nginx_url, new_squad):
    connected = asyncio.Event()
    arrived: dict[str, float] = {}

    async def read() -> None:
        async with http.AsyncClient(base_url=nginx_url, timeout=httpx.Timeout(10, read=None)) as client:
            async with aconnect_sse(client, "GET", "/api/v1/events", headers=_auth(new_squad.token)) as source:
                source.response.raise_for_status()
                connected.set()
                async for message in source.aiter_sse():
                    if message.data and json.loads(message.data)["type"] == "task.created":
                        arrived["at"] = time.monotonic()
                        return

    with anyio.fail_after(30):
        reader = asyncio.create_task(read())
        await connected.wait()
        sent = time.monotonic()
        await asyncio.to_thread(new_squad.client.create_task, **task_data())
        try:
            await asyncio.wait_for(reader, DELIVERY_BOUND_S * 5)
        except TimeoutError:
            pytest.fail(f"no task.created event through nginx within {DELIVERY_BOUND_S * 5:.0f} s: nginx holds it back")
    delay = arrived["at"] - sent
    assert delay < DELIVERY_BOUND_S, f"the event took {delay:.2f} s through nginx, more than {DELIVERY_BOUND_S} s"


async def test_heartbeats_reach_an_idle_stream_through_nginx_over_http_1_1(nginx_url, new_squad):
    """The deployment runs with SSE_HEARTBEAT_S=1 here (tools/compose_run.py)."""
    with anyio.fail_after(10):
        async with raw_event_stream(nginx_url, new_squad.token) as response:
            assert response.status_code == 200, response.status_code
            assert response.http_version == "HTTP/1.1", response.http_version
            assert response.headers.get("connection", "").lower() != "close", dict(response.headers)
            assert response.headers["content-type"].startswith("text/event-stream"), dict(response.headers)
            comments = await heartbeat_comments(response, 2)
    assert comments == 2


def test_nginx_serves_the_board_and_health_and_keeps_metrics_inside(nginx_url, live_engine):
    health = http.get(f"{nginx_url}/health", timeout=10)
    assert health.status_code == 200 and health.json()["database"] == "ok", health.text
    board = http.get(f"{nginx_url}/", timeout=10)
    assert board.status_code == 200 and "text/html" in board.headers["content-type"], board.status_code
    assert http.get(f"{nginx_url}/metrics", timeout=10).status_code == 404, "nginx must not serve /metrics"
    assert "nginx" in health.headers.get("server", ""), f"not answered through nginx: {dict(health.headers)}"
