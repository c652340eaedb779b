"""The sandbox reaper (app/reaper.py): a sandbox a pipeline created whose run is over is destroyed, on the
worker's timer; the sandbox of a running job's current run and sandboxes made through the API are left."""

import asyncio
import uuid

import pytest
from sqlalchemy import update

from app.models import Job, JobState
from app.reaper import PIPELINE_ORIGIN, SandboxReaper
from fixtures.squads import make_squad
from fixtures.waiting import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

INTERVAL_S = 0.05


def running_ids(fake_e2b) -> set[str]:
    return {sandbox.sandbox_id for sandbox in fake_e2b.running_sandboxes()}


def pipeline_sandbox(fake_e2b, task_id: str, squad_id: str, run_id: str | None = None):
    """A sandbox as a pipeline run makes it; by default a run no job is running (one that is over)."""
    metadata = {"task_id": task_id, "squad_id": squad_id, "run_id": run_id or uuid.uuid4().hex, **PIPELINE_ORIGIN}
    return fake_e2b.create_sandbox(metadata=metadata)


def sandbox_of_before_run_ids(fake_e2b, task_id: str, squad_id: str):
    """A pipeline sandbox made before runs had ids (by the platform's previous version)."""
    return fake_e2b.create_sandbox(metadata={"task_id": task_id, "squad_id": squad_id, **PIPELINE_ORIGIN})


async def wait_until_destroyed(fake_e2b, sandbox_id: str) -> None:
    def destroyed() -> None:
        assert sandbox_id not in running_ids(fake_e2b), f"sandbox {sandbox_id} still runs"

    await eventually_async(destroyed, deadline_s=5, description=f"the reaper to destroy sandbox {sandbox_id}")


async def test_only_pipeline_sandboxes_whose_run_is_over_are_destroyed(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    idle, busy, finished = await api.new_task(), await api.new_task(), await api.new_task()
    claimed = {}
    for task in (finished, busy):
        await api.assign(task["id"])
        claimed[task["id"]] = await runtime.worker().claim()  # the task's job is running now
    # finished's job is over (as when a creation lands after its pipeline ended): its sandbox goes too.
    await db_session.execute(update(Job).where(Job.task_id == finished["id"]).values(state=JobState.DONE))
    await db_session.commit()
    squad_id = api.squad["id"]
    orphans = {
        pipeline_sandbox(fake_e2b, idle["id"], squad_id).sandbox_id,
        pipeline_sandbox(fake_e2b, finished["id"], squad_id, claimed[finished["id"]].run_id).sandbox_id,
        # An earlier run of the running job (a dead worker's): over once the job was taken over.
        pipeline_sandbox(fake_e2b, busy["id"], squad_id).sandbox_id,
    }
    in_use = pipeline_sandbox(fake_e2b, busy["id"], squad_id, claimed[busy["id"]].run_id)
    by_hand = [fake_e2b.create_sandbox(metadata={"task_id": task["id"], "squad_id": squad_id}) for task in (idle, busy)]

    reaped = await SandboxReaper(runtime.sessionmaker, runtime.sandboxes, INTERVAL_S).reap_once()

    assert set(reaped) == orphans
    assert running_ids(fake_e2b) == {in_use.sandbox_id, *(sandbox.sandbox_id for sandbox in by_hand)}


async def test_a_pipeline_sandbox_made_before_runs_had_ids_goes_once_its_task_has_no_running_job(
    app_client, runtime, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    idle, busy = await api.new_task(), await api.new_task()
    await api.assign(busy["id"])
    assert (await runtime.worker().claim()) is not None
    orphan = sandbox_of_before_run_ids(fake_e2b, idle["id"], api.squad["id"])
    in_use = sandbox_of_before_run_ids(fake_e2b, busy["id"], api.squad["id"])

    reaped = await SandboxReaper(runtime.sessionmaker, runtime.sandboxes, INTERVAL_S).reap_once()

    assert reaped == [orphan.sandbox_id]
    assert running_ids(fake_e2b) == {in_use.sandbox_id}


async def test_pipeline_sandboxes_of_tasks_this_platform_does_not_know_are_left_to_their_platform(
    app_client, runtime, fake_e2b, fake_github
):
    """Another platform on the same E2B account (staging beside production) runs its own pipelines."""
    api = await make_squad(app_client, fake_github)
    ours = pipeline_sandbox(fake_e2b, (await api.new_task())["id"], api.squad["id"])
    theirs = pipeline_sandbox(fake_e2b, "task-of-another-platform", "squad-of-another-platform")

    reaped = await SandboxReaper(runtime.sessionmaker, runtime.sandboxes, INTERVAL_S).reap_once()

    assert reaped == [ours.sandbox_id]
    assert running_ids(fake_e2b) == {theirs.sandbox_id}


async def test_the_reaper_looks_again_on_its_interval_and_outlives_a_failed_listing(
    app_client, runtime, fake_e2b, e2b_routes, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    fake_e2b.add_fault("list_sandboxes", 400, body={"code": 400, "message": "bad metadata filter"}, times=1)
    first = pipeline_sandbox(fake_e2b, task["id"], api.squad["id"])
    reaper = asyncio.create_task(SandboxReaper(runtime.sessionmaker, runtime.sandboxes, INTERVAL_S).run_forever())
    try:
        await wait_until_destroyed(fake_e2b, first.sandbox_id)
        second = pipeline_sandbox(fake_e2b, task["id"], api.squad["id"])
        await wait_until_destroyed(fake_e2b, second.sandbox_id)
    finally:
        reaper.cancel()
    assert e2b_routes["list_sandboxes"].call_count >= 3, "a refused listing, then one pass per sandbox"


async def test_a_sandbox_e2b_will_not_destroy_is_left_for_the_next_pass_and_the_others_are_reaped(
    app_client, runtime, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    orphans = {pipeline_sandbox(fake_e2b, task["id"], api.squad["id"]).sandbox_id for _ in range(2)}
    fake_e2b.add_fault("kill_sandbox", 400, body={"code": 400, "message": "sandbox is pausing"}, times=1)
    reaper = SandboxReaper(runtime.sessionmaker, runtime.sandboxes, INTERVAL_S)

    first_pass = await reaper.reap_once()
    second_pass = await reaper.reap_once()

    assert len(first_pass) == 1 and set(first_pass + second_pass) == orphans
    assert running_ids(fake_e2b) == set()


def test_the_runtime_reaps_on_the_configured_interval_and_not_at_all_at_zero(runtime):
    reaper = runtime.reaper()
    assert reaper is not None and reaper.interval_s == runtime.settings.sandbox_reap_interval_s == 60.0
    runtime.settings = runtime.settings.model_copy(update={"sandbox_reap_interval_s": 0})
    assert runtime.reaper() is None
