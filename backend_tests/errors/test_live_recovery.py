"""Recovery seen from outside, on the live stack: a dropped event stream and dropped database connections."""

import asyncio

import pytest
from sqlalchemy.engine import make_url

from fixtures.factories import task_data
from fixtures.postgres import terminate_connections
from fixtures.sse import SseRecorder
from fixtures.waiting import eventually

pytestmark = [pytest.mark.errors, pytest.mark.priority_p0]


def _finished(event) -> bool:
    return event["type"] == "sandbox.status" and event["data"]["status"] in ("done", "failed")


def test_a_stream_dropped_mid_pipeline_resumes_with_nothing_lost_or_repeated(live_stack, new_squad):
    task = new_squad.client.create_task(**task_data())
    params = {"task_id": task["id"]}

    with SseRecorder(live_stack.base_url, new_squad.token, params=params) as first:
        new_squad.client.assign(task["id"], new_squad.agent["id"])
        first.wait_for(lambda e: e["type"] == "pipeline.step" and e["data"]["step"] == "clone", what="the clone step")
        before_drop = list(first.events)
    # The client is gone; the pipeline goes on without it.
    eventually(lambda: _assert_status(new_squad.client.get_task(task["id"]), "review"), timeout=60)

    with SseRecorder(
        live_stack.base_url, new_squad.token, params=params | {"last_event_id": str(before_drop[-1]["id"])}
    ) as second:
        second.wait_for(_finished, what="the end of the pipeline")
        after_reconnect = list(second.events)
    with SseRecorder(live_stack.base_url, new_squad.token, params=params) as complete:
        complete.wait_for(_finished, what="the whole history")
        everything = list(complete.events)

    assert [e["id"] for e in before_drop + after_reconnect] == [e["id"] for e in everything]


def _assert_status(task, status: str):
    assert task["status"] == status, f"task is {task['status']}"
    return task


def test_dropped_database_connections_are_replaced_without_an_error(live_stack, new_squad):
    url = make_url(live_stack.database_url or "")
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no server connections to drop")
    new_squad.client.create_task(**task_data())

    terminated = asyncio.run(terminate_connections(url))
    after = new_squad.client.create_task(**task_data())

    assert terminated > 0, "the platform held no connection to terminate"
    assert new_squad.client.get_task(after["id"])["title"] == after["title"]
