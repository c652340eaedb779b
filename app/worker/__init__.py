"""Pipeline workers: take queued jobs under a lease and run them, several at once.

Runs inside the app by default; `python -m app worker` runs one as a separate process
(app/processes.py). A worker runs up to `concurrency` jobs at the same time (`WORKER_CONCURRENCY`):
a pipeline spends nearly all its time waiting on E2B, git and GitHub, so one event loop carries
many of them.

- Claiming is one short write transaction per job, safe with any number of workers in any number
  of processes: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` hands each queued job to one
  claimer; on SQLite every platform transaction begins with BEGIN IMMEDIATE (app/db.py), so
  claims are serialised by the database's write lock. A worker claims only when it has a free
  slot, so queued jobs stay available to other workers meanwhile.
- Each claim gets a lease token of its own (worker name and claim number), renewed while the
  pipeline runs; renewing and finishing check the token, so a job whose lease ran out and was
  taken over (by another process, or another slot of this one) is only ever finished by its
  current holder. Each claim also starts a run of its own id (`Job.run_id`; the job keeps its
  earlier runs' in `earlier_run_ids`): the run's sandboxes carry it, so a run destroys only what
  it made, and a takeover destroys what the runs before it left. A job taken over re-runs a
  pipeline that resumes: it reuses the pushed branch and finds the pull request already opened,
  so no pull request is opened twice.
- A job is the task's first work or a review round (`Job.kind`). A job's end is also when the
  review requests that waited for it (they came while it ran, app/reviews.py) start the next review
  round, in the same transaction that ends the job.
- Stopping (cancelling `run_forever`, SIGTERM/SIGINT for `python -m app worker`) claims nothing
  more, cancels the running pipelines (each still destroys its sandbox) and hands their jobs back
  to the queue at once, for the next worker, instead of leaving them until their leases run out.
"""

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import error_tracking
from app.db import finish_then_cancel, lock_wait, runs_to_completion
from app.events import EventSignal
from app.models import Job, JobState, new_id, utcnow
from app.pipeline import Pipeline
from app.reaper import SandboxReaper
from app.reviews import lock_task, start_waiting_round

log = logging.getLogger(__name__)

# How long a stopping worker waits for its cancelled pipelines to clean up (destroy their
# sandboxes, hand their jobs back); after that their leases run out and others take them over.
STOP_GRACE_S = 10.0
# A running job's lease is renewed this many times per lease, so that a renewal or two may fail (the
# database busy, or briefly away) before the lease runs out.
RENEWALS_PER_LEASE = 3
# A renewal waits for the database's lock at most this share of the lease, then fails and is tried
# again after another share: queued behind the other writers for the database's own 30 s (SQLite's
# busy timeout), one renewal could outlast the lease it renews.
RENEWAL_LOCK_WAIT_SHARE = 1 / 6
RENEWAL_RETRY_SHARE = 1 / 30


def _claimable(now: datetime) -> ColumnElement[bool]:
    """A queued job, or one whose worker stopped renewing its lease (died)."""
    return or_(Job.state == JobState.QUEUED, (Job.state == JobState.RUNNING) & (Job.lease_expires_at < now))


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        signal: EventSignal,
        pipeline: Pipeline,
        *,
        lease_s: float,
        poll_interval_s: float,
        max_attempts: int = 3,
        concurrency: int = 1,
        peek_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        lease_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        reaper: SandboxReaper | None = None,
    ) -> None:
        """`peek_sessionmaker` reads whether anything is claimable without taking SQLite's write
        lock (the event fan-out's read-only sessions); `lease_sessionmaker` renews leases (on SQLite
        on a connection of their own, app/runtime.py); both by default the worker's own sessions.
        `reaper`, when given, runs alongside the jobs (app/reaper.py)."""
        if concurrency < 1:
            raise ValueError(f"a worker runs at least one job at a time, not {concurrency}")
        self._sessionmaker = sessionmaker
        self._peek_sessionmaker = peek_sessionmaker or sessionmaker
        self._lease_sessionmaker = lease_sessionmaker or sessionmaker
        self._signal = signal
        self._pipeline = pipeline
        self._lease = timedelta(seconds=lease_s)
        self._poll_interval_s = poll_interval_s
        self._max_attempts = max_attempts
        self._reaper = reaper
        self.concurrency = concurrency
        self.name = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._claims = itertools.count(1)
        self._running: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        """Jobs this worker is running now."""
        return len(self._running)

    @runs_to_completion
    async def _anything_claimable(self) -> bool:
        async with self._peek_sessionmaker() as session:
            found = await session.scalar(select(Job.id).where(_claimable(utcnow())).limit(1))
        return found is not None

    @runs_to_completion
    async def claim(self) -> Job | None:
        now = utcnow()
        async with self._sessionmaker() as session:
            query = (
                select(Job).where(_claimable(now)).order_by(Job.created_at).limit(1).with_for_update(skip_locked=True)
            )
            job = await session.scalar(query)
            if job is None:
                return None
            job.state = JobState.RUNNING
            job.attempts += 1
            job.lease_owner = f"{self.name}#{next(self._claims)}"
            job.lease_expires_at = now + self._lease
            if job.run_id is not None:
                job.earlier_run_ids = [*(job.earlier_run_ids or []), job.run_id]
            job.run_id = new_id()
            await session.commit()
            return job

    async def _finish(self, job: Job, state: JobState) -> None:
        async with self._sessionmaker() as session:
            ended = state != JobState.QUEUED
            if ended:
                # The task before its job, as a webhook locks them: a review request that came meanwhile is
                # either seen here, or sees this job ended and starts its round itself.
                await lock_task(session, job.task_id)
            stored = await session.get(Job, job.id)
            if stored is not None and stored.lease_owner == job.lease_owner:
                stored.state = state
                stored.lease_expires_at = None
                if state == JobState.QUEUED:
                    # Handed back by a stopping worker: that run does not count as a failed attempt.
                    stored.lease_owner = None
                    stored.attempts = max(stored.attempts - 1, 0)
                if ended:
                    await session.flush()  # the job inactive before the next round's job is stored
                    await start_waiting_round(session, job.task_id)
                await session.commit()

    async def _settle(self, job: Job, state: JobState) -> None:
        """Store how the job ended even when the worker is being stopped meanwhile."""
        await finish_then_cancel(self._finish(job, state))

    async def _keep_lease(self, job: Job, lost: asyncio.Event, runner: asyncio.Task[None]) -> None:
        """Renew the lease while the pipeline runs, so only a dead worker's job is taken over.

        A renewal that fails is tried again soon, not given up: one busy moment of the database
        must not leave a live worker's job to be taken over when its lease runs out. A lease found
        in another worker's hands (this one stalled past it) stops this run: the job is that
        worker's now, and two runs of one task would fight over its outcome.
        """
        lease_s = self._lease.total_seconds()
        delay_s = lease_s / RENEWALS_PER_LEASE
        while True:
            await asyncio.sleep(delay_s)
            try:
                if not await self._renew_lease(job):
                    log.warning(
                        "worker %s lost the lease of job %s to another worker; stopping its run",
                        job.lease_owner,
                        job.id,
                    )
                    lost.set()
                    runner.cancel()
                    return
            except Exception as error:
                log.warning(
                    "worker %s could not renew the lease of job %s (%s: %s); trying again",
                    job.lease_owner,
                    job.id,
                    type(error).__name__,
                    error,
                )
                delay_s = lease_s * RENEWAL_RETRY_SHARE
            else:
                delay_s = lease_s / RENEWALS_PER_LEASE

    @runs_to_completion
    async def _renew_lease(self, job: Job) -> bool:
        async with self._lease_sessionmaker() as session:
            await session.connection(execution_options=lock_wait(self._lease.total_seconds() * RENEWAL_LOCK_WAIT_SHARE))
            stored = await session.get(Job, job.id)
            if stored is None or stored.lease_owner != job.lease_owner:
                return False
            stored.lease_expires_at = utcnow() + self._lease
            await session.commit()
            return True

    async def _run_claimed(self, job: Job) -> None:
        if job.attempts > self._max_attempts:
            await self._pipeline.give_up(
                job.task_id,
                f"gave up after {self._max_attempts} attempts: the workers running it stopped mid-way",
                earlier_run_ids=job.earlier_run_ids or [],
            )
            await self._settle(job, JobState.FAILED)
            return
        log.info("worker %s runs job %s (task %s, attempt %d)", job.lease_owner, job.id, job.task_id, job.attempts)
        runner = asyncio.current_task()
        assert runner is not None
        lost = asyncio.Event()
        lease = asyncio.create_task(self._keep_lease(job, lost, runner))
        try:
            with error_tracking.task_scope(
                task_id=job.task_id, job_id=job.id, run_id=job.run_id, attempt=job.attempts, worker=job.lease_owner
            ):
                await self._pipeline.run(
                    job.task_id, run_id=job.run_id, earlier_run_ids=job.earlier_run_ids or [], kind=job.kind
                )
        except asyncio.CancelledError:
            lease.cancel()
            # The pipeline has destroyed its own sandbox either way.
            if lost.is_set() and runner.uncancel() == 0:
                return  # only the lost lease stopped it: the job and its outcome are the new holder's
            # Stopping: the job goes back to the queue.
            log.info("worker %s stopped job %s; it is queued again", job.lease_owner, job.id)
            await self._settle(job, JobState.QUEUED)
            raise
        except Exception:
            log.exception("job %s crashed", job.id)
            await self._settle(job, JobState.FAILED)
            return
        finally:
            lease.cancel()
        await self._settle(job, JobState.DONE)

    async def run_once(self) -> bool:
        """Run one job if there is one, to its end; True when a job ran."""
        job = await self.claim()
        if job is None:
            return False
        await self._run_claimed(job)
        return True

    async def run_forever(self) -> None:
        """Claim and run jobs, up to `concurrency` at once, until cancelled; then stop cleanly."""
        slots = asyncio.Semaphore(self.concurrency)
        reaping = asyncio.create_task(self._reaper.run_forever(), name="reaper") if self._reaper else None
        try:
            while True:
                await slots.acquire()
                job = None
                wake = self._signal.current()
                try:
                    # Most wakes are events of running pipelines: look before taking the write lock.
                    if await self._anything_claimable():
                        job = await self.claim()
                except Exception:
                    log.exception("worker %s could not claim a job; trying again", self.name)
                if job is None:
                    slots.release()
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_interval_s):
                            await wake.wait()
                    continue
                self._running.add(asyncio.create_task(self._run_in_slot(job, slots), name=f"job-{job.id}"))
        finally:
            if reaping is not None:
                reaping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reaping
            await self._stop_running()

    async def _run_in_slot(self, job: Job, slots: asyncio.Semaphore) -> None:
        try:
            await self._run_claimed(job)
        except Exception:
            # Finishing failed (the database went away): the lease runs out and the job is taken over.
            log.exception("worker %s could not finish job %s", job.lease_owner, job.id)
        finally:
            # Gone from `running` before the slot is free: the claimer never sees more than `concurrency`.
            if (current := asyncio.current_task()) is not None:
                self._running.discard(current)
            slots.release()

    async def _stop_running(self) -> None:
        running = list(self._running)
        if not running:
            return
        log.info("worker %s stops %d running job(s)", self.name, len(running))
        for task in running:
            task.cancel()
        # Waited for, not cancelled again: each job's last database write runs to its end regardless.
        _, unfinished = await asyncio.wait(running, timeout=STOP_GRACE_S)
        if unfinished:
            log.warning(
                "worker %s stops with %d job(s) still cleaning up after %s s;"
                " a job they do not hand back goes to another worker when its lease runs out",
                self.name,
                len(unfinished),
                STOP_GRACE_S,
            )
