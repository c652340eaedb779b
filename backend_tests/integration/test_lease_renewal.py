"""A live worker keeps its job's lease through a busy database: a renewal that cannot have the lock (SQLite's
write lock, a PostgreSQL row lock) gives up well within the lease and is tried again, so the job is never
left to be taken over while its worker still runs it.

The lock is held from a connection of the test's own, beside the worker's, which the rolled-back test
transaction cannot give: these tests run a runtime with its own engine on a database of this module.
"""

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from app.models import Job, JobState, utcnow
from app.settings import Settings
from fixtures.squads import make_squad
from fixtures.waiting import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

LEASE_S = 1.2
DEADLINE_S = 10.0


class HeldPipeline:
    """Stands in for the pipeline: a run goes on until the test lets it end."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = False

    async def run(self, task_id: str, **run_ids: Any) -> None:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def give_up(self, task_id: str, reason: str, **run_ids: Any) -> None:
        raise AssertionError(f"no job should be given up here, but task {task_id} was: {reason}")


class FailingSessions:
    """The runtime's sessions, except that the next `failures` to be opened fail as a lost database would."""

    def __init__(self, sessionmaker) -> None:
        self._sessionmaker = sessionmaker
        self.failures = 0
        self.failed = 0

    def __call__(self):
        if self.failures:
            self.failures -= 1
            self.failed += 1
            raise OperationalError("UPDATE jobs ...", {}, ConnectionResetError("the database went away"))
        return self._sessionmaker()


def worker_of(runtime, pipeline: HeldPipeline, sessions=None):
    from app.worker import Worker

    return Worker(
        sessions or runtime.sessionmaker,
        runtime.signal,
        pipeline,  # type: ignore[arg-type]
        lease_s=LEASE_S,
        poll_interval_s=0.05,
        lease_sessionmaker=sessions or runtime.lease_sessionmaker,
    )


async def stored_job(runtime, job_id: str) -> Job:
    async with runtime.read_sessionmaker() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


async def test_a_renewal_kept_waiting_by_the_database_fails_fast_and_is_tried_again_so_the_lease_holds(
    own_client, own_runtime, fake_github, caplog
):
    """1. A worker runs a job; another connection holds the lock the renewal needs.
    2. The renewal gives up within a fraction of the lease and says so, instead of queueing behind it.
    3. The lock is let go: the next try renews the lease, and no other worker can take the job."""
    caplog.set_level(logging.WARNING, logger="app.worker")
    squad = await make_squad(own_client, fake_github, with_repository=False)
    task = await squad.new_task()
    await squad.assign(task["id"])
    pipeline = HeldPipeline()
    worker = worker_of(own_runtime, pipeline)
    running = asyncio.create_task(worker.run_once())
    try:
        async with asyncio.timeout(DEADLINE_S):
            await pipeline.started.wait()
        async with own_runtime.sessionmaker() as session:
            job = (await session.scalars(select(Job).where(Job.task_id == task["id"]))).one()
        claimed = (job.lease_owner, job.run_id)

        async with own_runtime.engine.connect() as other_writer:
            # On SQLite the database's write lock, on PostgreSQL the job's row: what a renewal writes.
            await other_writer.execute(select(Job).where(Job.id == job.id).with_for_update())
            expires_while_held = (await stored_job(own_runtime, job.id)).lease_expires_at

            def a_renewal_gave_up() -> None:
                failures = [r for r in caplog.records if "could not renew the lease" in r.getMessage()]
                assert failures, "no renewal has given up on the held lock yet"

            await eventually_async(
                a_renewal_gave_up, deadline_s=LEASE_S * 2, description="a renewal to give up on the held lock"
            )
            await other_writer.rollback()

        async def renewed() -> None:
            stored = await stored_job(own_runtime, job.id)
            assert stored.lease_expires_at > expires_while_held, "the lease has not been renewed since"

        await eventually_async(renewed, deadline_s=LEASE_S * 2, description="a renewal once the lock was let go")
        assert await worker_of(own_runtime, HeldPipeline()).claim() is None, "another worker took the job over"
        stored = await stored_job(own_runtime, job.id)
        assert (stored.state, stored.lease_owner, stored.run_id, stored.attempts) == ("running", *claimed, 1)
    finally:
        pipeline.release.set()
        async with asyncio.timeout(DEADLINE_S):
            await running
    assert (await stored_job(own_runtime, job.id)).state == JobState.DONE


async def test_renewals_that_fail_are_tried_again_and_the_job_stays_its_workers(own_client, own_runtime, fake_github):
    squad = await make_squad(own_client, fake_github, with_repository=False)
    task = await squad.new_task()
    await squad.assign(task["id"])
    pipeline = HeldPipeline()
    sessions = FailingSessions(own_runtime.sessionmaker)
    running = asyncio.create_task(worker_of(own_runtime, pipeline, sessions).run_once())
    try:
        async with asyncio.timeout(DEADLINE_S):
            await pipeline.started.wait()
        async with own_runtime.read_sessionmaker() as session:
            job = (await session.scalars(select(Job).where(Job.task_id == task["id"]))).one()
        lapses_at = job.lease_expires_at

        sessions.failures = 2

        def both_failed() -> None:
            assert sessions.failed == 2, f"{sessions.failed} renewal(s) failed so far"

        await eventually_async(both_failed, deadline_s=LEASE_S, description="two renewals to fail")

        def past(moment) -> None:
            assert utcnow() > moment, f"it is not yet {moment}"

        # Had renewing stopped at the failures, the job would be free for the taking from here on.
        await eventually_async(lambda: past(lapses_at), deadline_s=LEASE_S * 2, description="the first lease's end")
        assert await worker_of(own_runtime, HeldPipeline()).claim() is None, "another worker took the job over"
        stored = await stored_job(own_runtime, job.id)
        assert stored.lease_expires_at > lapses_at and stored.lease_owner == job.lease_owner
    finally:
        pipeline.release.set()
        async with asyncio.timeout(DEADLINE_S):
            await running
    assert (await stored_job(own_runtime, job.id)).state == JobState.DONE


def test_by_default_a_dead_workers_job_is_claimable_again_within_15_seconds():
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    worst_case_s = defaults["job_lease_s"] + defaults["worker_poll_interval_s"]
    assert worst_case_s < 15, f"a killed worker's job waits up to {worst_case_s} s for another worker"


async def test_a_worker_that_finds_its_job_taken_over_stops_its_run_and_leaves_the_job_to_the_new_holder(
    own_client, own_runtime, fake_github
):
    """1. A worker runs a job and stalls past its lease; another worker takes the job over.
    2. The first worker's next renewal finds the job in the other's hands: it stops its run (whose
    clean-up destroys only its own sandbox) and writes nothing to the job, whose outcome is the new
    holder's; two runs of one task never go on side by side."""
    squad = await make_squad(own_client, fake_github, with_repository=False)
    task = await squad.new_task()
    await squad.assign(task["id"])
    pipeline = HeldPipeline()
    running = asyncio.create_task(worker_of(own_runtime, pipeline).run_once())
    try:
        async with asyncio.timeout(DEADLINE_S):
            await pipeline.started.wait()
        taken_over = {"lease_owner": "another-worker#1", "run_id": "run-of-another-worker"}
        async with own_runtime.sessionmaker() as session:
            job = (await session.scalars(select(Job).where(Job.task_id == task["id"]))).one()
            await session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(**taken_over, lease_expires_at=utcnow() + timedelta(seconds=60))
            )
            await session.commit()

        async with asyncio.timeout(LEASE_S * 3):
            assert await running is True, "the run stops without an error of its own"
    finally:
        pipeline.release.set()
    assert pipeline.cancelled, "the pipeline was not stopped"
    stored = await stored_job(own_runtime, job.id)
    assert (stored.state, stored.lease_owner, stored.run_id) == ("running", *taken_over.values())
