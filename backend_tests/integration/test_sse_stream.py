"""The event stream against a live uvicorn server (in-process clients buffer endless streams)."""

import asyncio
import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import aconnect_sse

from fixtures import http
from fixtures.factories import agent_data, task_data
from fixtures.sse import heartbeat_comments, raw_event_stream
from fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

Event = dict[str, Any]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def read_events(
    base_url: str,
    token: str,
    until: Callable[[list[Event]], bool],
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    deadline_s: float = 15.0,
    connected: asyncio.Event | None = None,
) -> list[Event]:
    """Events of one stream, from connecting until `until(events)` holds; fails after `deadline_s`."""
    events: list[Event] = []
    with anyio.fail_after(deadline_s):
        timeout = httpx.Timeout(10, read=None)
        async with http.AsyncClient(base_url=base_url, timeout=timeout) as client:
            async with aconnect_sse(
                client, "GET", "/api/v1/events", params=params, headers=_auth(token) | (headers or {})
            ) as source:
                source.response.raise_for_status()
                if connected is not None:
                    connected.set()
                if until(events):
                    return events
                async for message in source.aiter_sse():
                    if not message.data:  # a heartbeat comment
                        continue
                    event = json.loads(message.data)
                    assert message.id == str(event["id"])
                    events.append(event)
                    if until(events):
                        return events
    raise AssertionError("the stream ended")


def has_type(kind: str, **data: Any) -> Callable[[list[Event]], bool]:
    return lambda events: any(e["type"] == kind and data.items() <= e["data"].items() for e in events)


async def test_a_stored_event_reaches_an_open_stream(live_stack, new_squad):
    connected = asyncio.Event()
    reader = asyncio.create_task(
        read_events(live_stack.base_url, new_squad.token, has_type("task.created"), connected=connected)
    )
    await connected.wait()

    task = await asyncio.to_thread(new_squad.client.create_task, **task_data())

    events = await reader
    assert [(e["type"], e["task_id"]) for e in events] == [("task.created", task["id"])]
    assert events[0]["squad_id"] == new_squad.squad["id"]


async def test_last_event_id_replays_exactly_the_missed_events(live_stack, new_squad):
    for _ in range(5):
        await asyncio.to_thread(new_squad.client.create_task, **task_data())
    history = await read_events(live_stack.base_url, new_squad.token, lambda events: len(events) == 5)
    ids = [e["id"] for e in history]

    resumed = await read_events(
        live_stack.base_url, new_squad.token, lambda events: len(events) >= 3, headers={"Last-Event-ID": str(ids[1])}
    )
    later = await asyncio.to_thread(new_squad.client.create_task, **task_data())
    by_query = await read_events(
        live_stack.base_url,
        new_squad.token,
        has_type("task.created", title=later["title"]),
        params={"last_event_id": str(ids[-1])},
    )

    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [e["id"] for e in resumed] == ids[2:]
    assert [e["data"]["title"] for e in by_query] == [later["title"]]


async def test_the_agent_filter_shows_only_that_agents_events(live_stack, new_squad):
    other_agent = await asyncio.to_thread(new_squad.client.create_agent, **agent_data())
    mine = await asyncio.to_thread(new_squad.client.create_task, **task_data())
    theirs = await asyncio.to_thread(new_squad.client.create_task, **task_data())
    await asyncio.to_thread(new_squad.client.assign, theirs["id"], other_agent["id"])
    await asyncio.to_thread(new_squad.client.assign, mine["id"], new_squad.agent["id"])

    events = await read_events(
        live_stack.base_url,
        new_squad.token,
        has_type("task.assigned", agent_id=new_squad.agent["id"]),
        params={"agent_id": new_squad.agent["id"]},
    )

    assert {e["agent_id"] for e in events} == {new_squad.agent["id"]}
    assert theirs["id"] not in {e["task_id"] for e in events}


async def test_another_squads_events_never_arrive(live_stack, new_squad, squads):
    other_squad = await asyncio.to_thread(squads)
    await asyncio.to_thread(other_squad.client.create_task, **task_data())
    mine = await asyncio.to_thread(new_squad.client.create_task, **task_data())

    events = await read_events(live_stack.base_url, new_squad.token, has_type("task.created", title=mine["title"]))

    assert {e["squad_id"] for e in events} == {new_squad.squad["id"]}


async def test_heartbeat_comments_keep_an_idle_stream_alive(live_stack, new_squad):
    """The test stack sends a heartbeat every tenth of a second (SSE_HEARTBEAT_S=0.1)."""
    with anyio.fail_after(10):
        async with raw_event_stream(live_stack.base_url, new_squad.token) as response:
            comments = await heartbeat_comments(response, 2)
    assert comments == 2


async def test_fifty_concurrent_streams_all_receive_the_event(live_stack, new_squad):
    gates = [asyncio.Event() for _ in range(50)]
    readers = [
        asyncio.create_task(
            read_events(live_stack.base_url, new_squad.token, has_type("task.created"), connected=gate, deadline_s=30)
        )
        for gate in gates
    ]
    with anyio.fail_after(20):
        await asyncio.gather(*(gate.wait() for gate in gates))

    task = await asyncio.to_thread(new_squad.client.create_task, **task_data())

    results = await asyncio.gather(*readers)
    assert all([e["task_id"] for e in events] == [task["id"]] for events in results)


async def test_a_client_that_disconnects_leaves_no_stream_behind(live_stack, new_squad):
    def active_streams() -> float:
        text = http.get(f"{live_stack.base_url}/metrics").text
        line = next(line for line in text.splitlines() if line.startswith("squad_sse_active_streams "))
        return float(line.split()[1])

    before = active_streams()
    gates = [asyncio.Event() for _ in range(5)]
    readers = [
        asyncio.create_task(read_events(live_stack.base_url, new_squad.token, lambda _: False, connected=gate))
        for gate in gates
    ]
    await asyncio.gather(*(gate.wait() for gate in gates))
    during = await asyncio.to_thread(
        eventually, lambda: _at_least(active_streams(), before + 5), description="5 more open streams"
    )

    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    after = await asyncio.to_thread(
        eventually, lambda: _at_most(active_streams(), before), description="the streams to be closed"
    )
    assert during >= before + 5 and after <= before


def _at_least(value: float, minimum: float) -> float:
    assert value >= minimum, f"{value} < {minimum}"
    return value


def _at_most(value: float, maximum: float) -> float:
    assert value <= maximum, f"{value} > {maximum}"
    return value


@pytest.mark.parametrize("value", ["abc", "-1", "9" * 40])
async def test_a_bad_last_event_id_is_400(live_stack, new_squad, value):
    async with http.AsyncClient(base_url=live_stack.base_url) as client:
        response = await client.get("/api/v1/events", headers=_auth(new_squad.token) | {"Last-Event-ID": value})

    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["detail"]


async def test_a_stream_without_a_token_is_401(live_stack):
    async with http.AsyncClient(base_url=live_stack.base_url) as client:
        response = await client.get("/api/v1/events")

    assert response.status_code == 401
