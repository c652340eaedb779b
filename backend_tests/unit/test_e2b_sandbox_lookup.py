"""E2BSandboxService.running_with_metadata and running_sandboxes: the running sandboxes carrying all the
given metadata, every page of them, and a failure to list them that says it was the listing."""

import pytest

from app.services.errors import SandboxError

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


async def test_only_running_sandboxes_with_all_the_metadata_are_found(sandboxes, fake_e2b):
    wanted = fake_e2b.create_sandbox(metadata={"task_id": "t-1", "squad_id": "s-1"})
    other_task = fake_e2b.create_sandbox(metadata={"task_id": "t-2", "squad_id": "s-1"})
    killed = fake_e2b.create_sandbox(metadata={"task_id": "t-1", "squad_id": "s-1"})
    fake_e2b.kill_sandbox(killed.sandbox_id)

    found = await sandboxes.running_with_metadata({"task_id": "t-1", "squad_id": "s-1"})

    assert found == [wanted.sandbox_id], f"expected only {wanted.sandbox_id}, found {found} (not {other_task})"


async def test_a_paused_sandbox_is_not_listed_as_running(sandboxes, fake_e2b):
    running = fake_e2b.create_sandbox(metadata={"task_id": "t-4"})
    paused = fake_e2b.create_sandbox(metadata={"task_id": "t-4"})
    fake_e2b.pause(paused.sandbox_id)  # someone paused it to look inside: it is theirs to end

    found = await sandboxes.running_with_metadata({"task_id": "t-4"})

    assert found == [running.sandbox_id]


async def test_a_listing_e2b_never_answers_says_it_was_the_listing(sandboxes, fake_e2b):
    fake_e2b.add_fault("list_sandboxes", kind="reset")

    with pytest.raises(SandboxError) as raised:
        await sandboxes.running_with_metadata({"task_id": "t-1"})

    assert raised.value.message.startswith("listing sandboxes ")


async def test_a_refused_listing_says_it_was_the_listing(sandboxes, fake_e2b):
    fake_e2b.add_fault("list_sandboxes", 400, body={"code": 400, "message": "bad metadata filter"})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.running_with_metadata({"task_id": "t-1"})

    assert raised.value.message == "listing sandboxes failed: E2B refused the request (HTTP 400: bad metadata filter)"


async def test_a_listing_that_fails_for_a_moment_is_retried(sandboxes, fake_e2b, sleeps):
    wanted = fake_e2b.create_sandbox(metadata={"task_id": "t-3"})
    fake_e2b.add_fault("list_sandboxes", 503, times=1)

    found = await sandboxes.running_with_metadata({"task_id": "t-3"})

    assert found == [wanted.sandbox_id] and len(sleeps.waits) == 1


async def test_a_listing_answered_with_something_else_than_a_list_says_so(sandboxes, fake_e2b):
    fake_e2b.add_fault("list_sandboxes", 200, body={"sandboxes": "somewhere"})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.running_with_metadata({"task_id": "t-1"})

    assert raised.value.message == "listing sandboxes failed: E2B answered a body that is not a list of sandboxes"


async def test_every_page_of_the_listing_is_read_with_each_sandboxs_metadata(
    sandboxes, fake_e2b, e2b_routes, monkeypatch
):
    monkeypatch.setattr("app.services.e2b.LIST_PAGE_SIZE", 2)
    created = [fake_e2b.create_sandbox(metadata={"task_id": f"t-{n}", "origin": "pipeline"}) for n in range(5)]

    found = await sandboxes.running_sandboxes({"origin": "pipeline"})

    listed = sorted((s.metadata["task_id"], s.sandbox_id) for s in found)
    assert listed == [(f"t-{n}", s.sandbox_id) for n, s in enumerate(created)]
    assert e2b_routes["list_sandboxes"].call_count == 3


async def test_the_listing_stops_after_its_page_cap(sandboxes, fake_e2b, e2b_routes, monkeypatch):
    monkeypatch.setattr("app.services.e2b.LIST_PAGE_SIZE", 2)
    monkeypatch.setattr("app.services.e2b.MAX_LISTED_PAGES", 2)
    for n in range(5):
        fake_e2b.create_sandbox(metadata={"task_id": f"t-{n}"})

    found = await sandboxes.running_sandboxes({})

    assert len(found) == 4 and e2b_routes["list_sandboxes"].call_count == 2
