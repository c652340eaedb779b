"""A worker runs several jobs at once, never more than its concurrency, and stops them cleanly.

Concurrent jobs need sessions of their own, which the rolled-back test transaction cannot give
(one connection, savepoints in a stack), so these tests run a runtime with its own engine on a
database of this module; each test's squads are its own, and no job outlives its test. Most use a
stand-in pipeline that waits on events the test sets, so what is in flight is decided by the test,
not by timing; the last one runs the real pipeline against the fakes.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from app.models import Job, JobState, Sandbox, Task
from app.reaper import PIPELINE_ORIGIN, SandboxReaper
from fixtures.squads import Squad, make_squad
from fixtures.waiting import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

DEADLINE_S = 15.0


@pytest.fixture
def own_runtime_changes() -> dict[str, Any]:
    return {"worker_concurrency": 3}


async def assign_tasks(squad: Squad, count: int) -> list[str]:
    task_ids = []
    for _ in range(count):
        task = await squad.new_task()
        await squad.assign(task["id"])
        task_ids.append(task["id"])
    return task_ids


class GatedPipeline:
    """Stands in for the pipeline: a run says it started, then waits until the test lets it go."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._gates: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Condition()

    def _gate(self, task_id: str) -> asyncio.Event:
        return self._gates.setdefault(task_id, asyncio.Event())

    def let_go(self, *task_ids: str) -> None:
        for task_id in task_ids:
            self._gate(task_id).set()

    async def _record(self, change: Callable[[], None]) -> None:
        async with self._changed:
            change()
            self._changed.notify_all()

    async def run(self, task_id: str, **run_ids: Any) -> None:
        def start() -> None:
            self.started.append(task_id)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

        await self._record(start)
        try:
            await self._gate(task_id).wait()
        except asyncio.CancelledError:
            self.cancelled.append(task_id)
            self.in_flight -= 1
            raise
        self.in_flight -= 1
        await self._record(lambda: self.finished.append(task_id))

    async def give_up(self, task_id: str, reason: str, **run_ids: Any) -> None:
        raise AssertionError(f"no job should be given up here, but task {task_id} was: {reason}")

    async def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(DEADLINE_S), self._changed:
                await self._changed.wait_for(condition)
        except TimeoutError:
            raise AssertionError(
                f"waited {DEADLINE_S} s for {what}; started {len(self.started)}, finished {len(self.finished)},"
                f" in flight {self.in_flight}"
            ) from None


def gated_worker(runtime, pipeline: GatedPipeline, concurrency: int, reaper: SandboxReaper | None = None):
    from app.worker import Worker

    return Worker(
        runtime.sessionmaker,
        runtime.signal,
        pipeline,  # type: ignore[arg-type]
        lease_s=60,
        poll_interval_s=0.2,
        concurrency=concurrency,
        reaper=reaper,
    )


async def stop(running: asyncio.Task[None]) -> None:
    running.cancel()
    async with asyncio.timeout(DEADLINE_S):
        with pytest.raises(asyncio.CancelledError):
            await running


@contextlib.asynccontextmanager
async def working(worker) -> AsyncIterator[None]:
    """The worker runs its loop for the block's time and is stopped at the block's end, even a failed one."""
    running = asyncio.create_task(worker.run_forever())
    try:
        yield
    finally:
        await stop(running)


async def gated_jobs(client, runtime, fake_github, count: int) -> tuple[list[str], GatedPipeline, Any]:
    """`count` tasks of a new squad assigned, and a worker of concurrency 2 whose stand-in pipeline runs
    them only when the test lets them go."""
    squad = await make_squad(client, fake_github, with_repository=False)
    task_ids = await assign_tasks(squad, count)
    pipeline = GatedPipeline()
    return task_ids, pipeline, gated_worker(runtime, pipeline, concurrency=2)


async def test_a_worker_runs_two_jobs_at_the_same_time(own_client, own_runtime, fake_github):
    task_ids, pipeline, worker = await gated_jobs(own_client, own_runtime, fake_github, 2)

    async with working(worker):
        # Neither job may finish before both have started: a one-at-a-time worker never gets here.
        await pipeline.wait_until(lambda: len(pipeline.started) == 2, "both jobs to be in progress at once")
        assert sorted(pipeline.started) == sorted(task_ids) and pipeline.finished == []
        pipeline.let_go(*task_ids)
        await pipeline.wait_until(lambda: len(pipeline.finished) == 2, "both jobs to finish")

    async with own_runtime.sessionmaker() as session:
        states = (await session.scalars(select(Job.state).where(Job.task_id.in_(task_ids)))).all()
    assert states == [JobState.DONE, JobState.DONE]


async def test_a_worker_never_runs_more_jobs_than_its_concurrency(own_client, own_runtime, fake_github):
    task_ids, pipeline, worker = await gated_jobs(own_client, own_runtime, fake_github, 4)
    # How many jobs the worker held each time it went looking for another one. It looks right after
    # starting a job when it has a slot left, before that job runs: a worker over its cap has looked
    # by the time the test sees the second job start.
    held_when_looking: list[int] = []
    look = worker._anything_claimable

    async def counting_look():
        held_when_looking.append(worker.running)
        return await look()

    worker._anything_claimable = counting_look  # type: ignore[method-assign]

    async with working(worker):
        await pipeline.wait_until(lambda: len(pipeline.started) == 2, "two jobs to be in progress")
        first = pipeline.started[0]
        pipeline.let_go(first)
        await pipeline.wait_until(lambda: len(pipeline.started) == 3, "a third job to take the freed slot")
        assert first in pipeline.finished
        pipeline.let_go(*task_ids)
        await pipeline.wait_until(lambda: len(pipeline.finished) == 4, "all four jobs to finish")

    assert pipeline.max_in_flight == 2, f"expected at most 2 jobs at once, saw {pipeline.max_in_flight}"
    assert max(held_when_looking) < 2, f"the worker looked for jobs while holding 2: {held_when_looking}"


async def test_stopping_a_worker_cancels_its_jobs_and_queues_them_again(own_client, own_runtime, fake_github):
    task_ids, pipeline, worker = await gated_jobs(own_client, own_runtime, fake_github, 2)

    async with working(worker):
        await pipeline.wait_until(lambda: len(pipeline.started) == 2, "both jobs to be in progress")

    assert sorted(pipeline.cancelled) == sorted(task_ids) and worker.running == 0
    async with own_runtime.sessionmaker() as session:
        jobs = (await session.scalars(select(Job).where(Job.task_id.in_(task_ids)))).all()
    assert [(job.state, job.lease_owner, job.lease_expires_at, job.attempts) for job in jobs] == [
        (JobState.QUEUED, None, None, 0)
    ] * 2, "stopped jobs go back to the queue at once, without counting as a failed attempt"

    # The next worker takes them over without waiting for a lease to run out.
    successor = GatedPipeline()
    successor.let_go(*task_ids)
    next_worker = gated_worker(own_runtime, successor, concurrency=2)
    assert await next_worker.run_once() and await next_worker.run_once()
    assert sorted(successor.finished) == sorted(task_ids)


async def test_a_running_worker_reaps_sandboxes_of_pipelines_that_are_over_and_stops_reaping_with_it(
    own_client, own_runtime, fake_e2b, fake_github
):
    squad = await make_squad(own_client, fake_github, with_repository=False)
    task = await squad.new_task()
    metadata = {"task_id": task["id"], "squad_id": squad.squad["id"], **PIPELINE_ORIGIN}
    orphan = fake_e2b.create_sandbox(metadata=metadata)
    reaper = SandboxReaper(own_runtime.sessionmaker, own_runtime.sandboxes, interval_s=60)
    worker = gated_worker(own_runtime, GatedPipeline(), concurrency=1, reaper=reaper)

    def reaped() -> None:
        assert orphan.sandbox_id not in {s.sandbox_id for s in fake_e2b.running_sandboxes()}

    async with working(worker):
        await eventually_async(reaped, deadline_s=DEADLINE_S, description="the worker's reaper to destroy the orphan")

    assert [t for t in asyncio.all_tasks() if t.get_name() == "reaper"] == [], "the reaper outlived its worker"


async def test_concurrent_pipelines_open_one_pull_request_per_task(
    own_client, own_runtime, fake_e2b, fake_github, github_routes, fake_llm
):
    squad = await make_squad(own_client, fake_github)
    # Sandboxes take a while to start, as E2B's do: the jobs overlap if the worker lets them.
    fake_e2b.add_fault("create_sandbox", kind="latency", latency_ms=150)
    task_ids = await assign_tasks(squad, 3)
    worker = own_runtime.worker()
    assert worker.concurrency == 3

    async def job_states() -> list[str]:
        async with own_runtime.sessionmaker() as session:
            return list((await session.scalars(select(Job.state).where(Job.task_id.in_(task_ids)))).all())

    running = asyncio.create_task(worker.run_forever())
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while seen != [JobState.DONE] * 3:
                wake = own_runtime.signal.current()  # every pipeline step notifies it
                seen = await job_states()
                # A job is settled just after its last event: look again shortly if nothing else wakes us.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await wake.wait()
    except TimeoutError:
        raise AssertionError(f"waited 60 s for three jobs to be done; saw {seen}") from None
    finally:
        await stop(running)

    async with own_runtime.sessionmaker() as session:
        tasks = (await session.scalars(select(Task).where(Task.id.in_(task_ids)))).all()
    assert [(task.status, task.error) for task in tasks] == [("review", None)] * 3
    owner, name = squad.owner, squad.repo_name
    pulls = fake_github.pull_requests(owner, name)
    assert len(pulls) == 3 and len({pull.head_ref for pull in pulls}) == 3, pulls
    assert github_routes["create_pull_request"].call_count == 3
    assert fake_e2b.running_sandboxes() == []
    async with own_runtime.sessionmaker() as session:
        sandboxes = (await session.scalars(select(Sandbox).where(Sandbox.task_id.in_(task_ids)))).all()
    assert len(sandboxes) == 3 and all(row.destroyed_at is not None for row in sandboxes)
    # All three sandboxes were alive at one moment: the pipelines ran side by side.
    latest_start = max(row.created_at for row in sandboxes)
    earliest_end = min(row.destroyed_at for row in sandboxes if row.destroyed_at is not None)
    assert latest_start < earliest_end, "the three pipelines ran one after another"


async def test_a_job_cancelled_again_while_its_hand_back_waits_for_the_database_still_stores_it(
    own_client, own_runtime, fake_github, monkeypatch
):
    """A stop cancels the job; the process's shutdown, once the stop's grace has run out, cancels what is left
    once more. The job's last database write must run to its end through both: cut, SQLAlchemy terminates
    the connection, and aiosqlite can then lose it with SQLite's write lock held (every writer of the
    platform waits out the busy timeout and fails) and never let the process exit."""
    from app import worker as worker_module

    monkeypatch.setattr(worker_module, "STOP_GRACE_S", 0.1)
    squad = await make_squad(own_client, fake_github, with_repository=False)
    (task_id,) = await assign_tasks(squad, 1)
    pipeline = GatedPipeline()
    worker = gated_worker(own_runtime, pipeline, concurrency=1)
    running = asyncio.create_task(worker.run_forever())
    await pipeline.wait_until(lambda: pipeline.started == [task_id], "the job to be in progress")
    (job_task,) = [task for task in asyncio.all_tasks() if task.get_name().startswith("job-")]

    # Another writer holds the job (on SQLite, the write lock), so the hand-back waits past the grace.
    async with own_runtime.engine.connect() as other_writer:
        await other_writer.execute(select(Job).where(Job.task_id == task_id).with_for_update())
        await stop(running)
        assert pipeline.cancelled == [task_id] and not job_task.done(), "the hand-back should be waiting"
        job_task.cancel()  # as the event loop's shutdown does
        await other_writer.rollback()
    await asyncio.wait([job_task], timeout=DEADLINE_S)

    async with own_runtime.read_sessionmaker() as session:  # on SQLite, reads without the write lock
        job = (await session.scalars(select(Job).where(Job.task_id == task_id))).one()
    assert job_task.cancelled() and (job.state, job.lease_owner, job.attempts) == (JobState.QUEUED, None, 0), (
        f"the job should be handed back to the queue through both cancellations; it is {job.state} ({job_task})"
    )
    # Nothing holds the database: a write goes through at once.
    async with asyncio.timeout(5), own_runtime.sessionmaker() as session:
        await session.execute(update(Job).where(Job.task_id == task_id).values(attempts=0))
        await session.commit()
