"""Pipeline workers: take queued jobs under a lease and run them.

Runs inside the app by default; `python -m app.worker` runs one as a separate process. A job
whose worker died (its lease ran out) is taken over by another worker.
"""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.events import EventSignal
from app.models import Job, JobState, utcnow
from app.pipeline import Pipeline

log = logging.getLogger(__name__)


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
    ) -> None:
        self._sessionmaker = sessionmaker
        self._signal = signal
        self._pipeline = pipeline
        self._lease = timedelta(seconds=lease_s)
        self._poll_interval_s = poll_interval_s
        self._max_attempts = max_attempts
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    async def claim(self) -> Job | None:
        now = utcnow()
        async with self._sessionmaker() as session:
            query = (
                select(Job)
                .where(
                    or_(
                        Job.state == JobState.QUEUED,
                        (Job.state == JobState.RUNNING) & (Job.lease_expires_at < now),
                    )
                )
                .order_by(Job.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            job = await session.scalar(query)
            if job is None:
                return None
            job.state = JobState.RUNNING
            job.attempts += 1
            job.lease_owner = self.name
            job.lease_expires_at = now + self._lease
            await session.commit()
            return job

    async def _finish(self, job: Job, state: JobState) -> None:
        async with self._sessionmaker() as session:
            stored = await session.get(Job, job.id)
            if stored is not None and stored.lease_owner == self.name:
                stored.state = state
                stored.lease_expires_at = None
                await session.commit()

    async def _keep_lease(self, job: Job) -> None:
        """Renew the lease while the pipeline runs, so only a dead worker's job is taken over."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            async with self._sessionmaker() as session:
                stored = await session.get(Job, job.id)
                if stored is None or stored.lease_owner != self.name:
                    return
                stored.lease_expires_at = utcnow() + self._lease
                await session.commit()

    async def run_once(self) -> bool:
        """Run one job if there is one; True when a job ran."""
        job = await self.claim()
        if job is None:
            return False
        if job.attempts > self._max_attempts:
            await self._pipeline.give_up(
                job.task_id, f"gave up after {self._max_attempts} attempts: the workers running it stopped mid-way"
            )
            await self._finish(job, JobState.FAILED)
            return True
        log.info("worker %s runs job %s (task %s, attempt %d)", self.name, job.id, job.task_id, job.attempts)
        lease = asyncio.create_task(self._keep_lease(job))
        try:
            await self._pipeline.run(job.task_id)
        except Exception:
            log.exception("job %s crashed", job.id)
            await self._finish(job, JobState.FAILED)
            return True
        finally:
            lease.cancel()
        await self._finish(job, JobState.DONE)
        return True

    async def run_forever(self) -> None:
        while True:
            wake = self._signal.current()
            if await self.run_once():
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval_s):
                    await wake.wait()


async def _main() -> None:
    from app.runtime import Runtime
    from app.settings import get_settings

    async with Runtime(get_settings()) as runtime:
        worker = runtime.worker()
        log.info("worker %s started", worker.name)
        await worker.run_forever()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_main())
