"""A squad's open event streams (SQUAD_MAX_STREAMS, 3 on the limited stack): the next one gets 429 with
Retry-After before any stream opens; another squad still opens all of its own; a stream that ends
gives its place back. Against a real server: in-process clients cannot hold a stream open."""

import asyncio
import contextlib

import httpx
import pytest

from fixtures import http
from fixtures.limited_stack import LIMITS
from fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

STREAM_TIMEOUT = httpx.Timeout(10, read=None)


async def open_stream(stack: contextlib.AsyncExitStack, client: httpx.AsyncClient, token: str) -> httpx.Response:
    """A stream of the squad's, held open until `stack` closes; its response as the server gave it."""
    return await stack.enter_async_context(
        client.stream("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    )


async def test_one_stream_past_the_limit_is_429_before_it_opens(limited_stack, limited_squads):
    squad = limited_squads()
    async with (
        contextlib.AsyncExitStack() as held,
        http.AsyncClient(base_url=limited_stack.base_url, timeout=STREAM_TIMEOUT) as client,
    ):
        opened = [await open_stream(held, client, squad.token) for _ in range(LIMITS.streams)]

        refused = await client.get("/api/v1/events", headers=squad.headers)

    assert [response.status_code for response in opened] == [200] * LIMITS.streams
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/json", "a stream opened before the refusal"
    assert int(refused.headers["retry-after"]) >= 1
    assert "SQUAD_MAX_STREAMS" in refused.json()["detail"]


async def test_another_squad_opens_all_its_streams_beside_a_squad_at_its_limit(limited_stack, limited_squads):
    flooder, bystander = limited_squads(), limited_squads()
    async with (
        contextlib.AsyncExitStack() as held,
        http.AsyncClient(base_url=limited_stack.base_url, timeout=STREAM_TIMEOUT) as client,
    ):
        for _ in range(LIMITS.streams):
            await open_stream(held, client, flooder.token)

        theirs = [await open_stream(held, client, bystander.token) for _ in range(LIMITS.streams)]

    assert [response.status_code for response in theirs] == [200] * LIMITS.streams


async def test_a_stream_that_ends_gives_its_place_back(limited_stack, limited_squads):
    squad = limited_squads()
    async with http.AsyncClient(base_url=limited_stack.base_url, timeout=STREAM_TIMEOUT) as client:
        async with contextlib.AsyncExitStack() as held:
            for _ in range(LIMITS.streams):
                await open_stream(held, client, squad.token)

    def another_stream_opens() -> None:
        with http.Client(base_url=limited_stack.base_url, timeout=STREAM_TIMEOUT) as sync_client:
            with sync_client.stream("GET", "/api/v1/events", headers=squad.headers) as again:
                assert again.status_code == 200, f"still refused: {again.status_code}"

    # Closed by the client: the server notices at its next heartbeat (0.2 s on the limited stack).
    await asyncio.to_thread(
        eventually, another_stream_opens, timeout=15, interval=0.3, description="a closed stream's place back"
    )
