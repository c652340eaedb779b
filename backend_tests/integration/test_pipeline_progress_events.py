"""What a pipeline run tells the board and the metrics, in order: the sandbox's status, each step with its
place among the seven, and the time each step took; a crash inside a step is reported with the step."""

import pytest
from sqlalchemy import select

from app.models import Event, Job, Sandbox, Task
from app.pipeline import STEPS
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


async def run_a_task(app_client, runtime, fake_github):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    await api.assign(task["id"])
    assert await runtime.worker().run_once()
    return api, task


def step_samples(runtime, suffix: str) -> dict[str, float]:
    """The step-duration histogram's `_count` or `_sum` sample of each step."""
    samples = runtime.metrics.step_seconds.collect()[0].samples
    return {s.labels["step"]: s.value for s in samples if s.name.endswith(suffix)}


async def test_each_step_is_announced_in_order_with_its_place_among_the_seven(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    _, task = await run_a_task(app_client, runtime, fake_github)

    query = select(Event.data).where(Event.task_id == task["id"], Event.type == "pipeline.step").order_by(Event.id)
    announced = list(await db_session.scalars(query))
    assert announced == [{"step": step, "index": n, "total": 7} for n, step in enumerate(STEPS, start=1)]


async def test_the_sandbox_status_goes_creating_ready_running_pushing_done(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    _, task = await run_a_task(app_client, runtime, fake_github)

    query = select(Event.data).where(Event.task_id == task["id"], Event.type == "sandbox.status").order_by(Event.id)
    statuses = [(data["status"], data["sandbox_id"]) for data in await db_session.scalars(query)]
    (sandbox,) = fake_e2b.killed_sandboxes()
    assert statuses == [("creating", None)] + [
        (status, sandbox.sandbox_id) for status in ("ready", "running", "pushing", "done")
    ], statuses


async def test_the_sandbox_is_created_with_its_task_squad_run_and_the_pipeline_origin_as_metadata(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api, task = await run_a_task(app_client, runtime, fake_github)

    (sandbox,) = fake_e2b.killed_sandboxes()
    run_id = await db_session.scalar(select(Job.run_id).where(Job.task_id == task["id"]))
    row = await db_session.scalar(select(Sandbox).where(Sandbox.task_id == task["id"]))
    assert run_id and row.run_id == run_id, "the run's sandbox row names the job's run"
    assert sandbox.metadata == {
        "task_id": task["id"],
        "squad_id": api.squad["id"],
        "run_id": run_id,
        "origin": "pipeline",
    }


async def test_each_step_records_how_long_it_took(app_client, runtime, db_session, fake_e2b, fake_github):
    counts_before, sums_before = step_samples(runtime, "_count"), step_samples(runtime, "_sum")

    await run_a_task(app_client, runtime, fake_github)

    counts, sums = step_samples(runtime, "_count"), step_samples(runtime, "_sum")
    for step in STEPS:
        assert counts[step] - counts_before.get(step, 0) == 1, f"{step}: {counts}"
        took = sums[step] - sums_before.get(step, 0)
        assert 0 <= took < 60, f"{step} took {took} s by the metrics"


async def test_a_crash_inside_a_step_fails_the_task_naming_the_step_and_the_error(
    app_client, runtime, db_session, fake_e2b, fake_github, monkeypatch
):
    async def crash(*args, **kwargs):
        raise RuntimeError("the agent tripped")

    monkeypatch.setattr(runtime.pipeline.services.git, "create_branch", crash)

    _, task = await run_a_task(app_client, runtime, fake_github)

    stored = await db_session.get(Task, task["id"])
    assert (stored.status, stored.error) == ("failed", "branch step: internal error: RuntimeError: the agent tripped")
