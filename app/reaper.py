"""The sandbox reaper: destroys what E2B still runs for pipelines whose jobs are over.

A sandbox creation that timed out here may still have happened at E2B, its answer arriving after
the pipeline gave up on it and moved on; the pipeline's own sweep at its end finds such a sandbox
only if it exists by then. Every worker therefore also looks on a timer
(`SANDBOX_REAP_INTERVAL_S`): a running sandbox a pipeline created (metadata `origin=pipeline`)
whose task is in this platform's database and has no running job is destroyed. Sandboxes made
through `POST /api/v1/sandboxes` carry no such mark and are their owners' to destroy; sandboxes of
tasks this platform does not know belong to another platform using the same E2B account (staging
beside production) and are left to it. Several workers reaping at once is harmless: destroying a
sandbox already gone is not an error.
"""

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import runs_to_completion
from app.models import Job, JobState, Task
from app.services.e2b import E2BSandboxService
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

PIPELINE_ORIGIN = {"origin": "pipeline"}


class SandboxReaper:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], sandboxes: E2BSandboxService, interval_s: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._sandboxes = sandboxes
        self.interval_s = interval_s

    async def reap_once(self) -> list[str]:
        """Destroy the pipeline sandboxes of this platform's tasks that no running job owns; returns their ids."""
        running = await self._sandboxes.running_sandboxes(PIPELINE_ORIGIN)
        if not running:
            return []
        task_ids = {sandbox.metadata["task_id"] for sandbox in running if "task_id" in sandbox.metadata}
        unowned = await self._tasks_without_a_running_job(task_ids)
        reaped = []
        for sandbox in running:
            if sandbox.metadata.get("task_id") not in unowned:
                continue
            log.warning("destroying sandbox %s (%s): its task has no running job", sandbox.sandbox_id, sandbox.metadata)
            try:
                await self._sandboxes.destroy(sandbox.sandbox_id)
            except ServiceError as error:
                log.warning("could not destroy sandbox %s: %s", sandbox.sandbox_id, error.message)
                continue
            reaped.append(sandbox.sandbox_id)
        return reaped

    @runs_to_completion
    async def _tasks_without_a_running_job(self, task_ids: set[str]) -> set[str]:
        """Those of `task_ids` that are this platform's tasks and have no running job."""
        async with self._sessionmaker() as session:
            ours = set(await session.scalars(select(Task.id).where(Task.id.in_(task_ids))))
            busy = set(
                await session.scalars(
                    select(Job.task_id).where(Job.task_id.in_(task_ids), Job.state == JobState.RUNNING)
                )
            )
        return ours - busy

    async def run_forever(self) -> None:
        """Reap now (a platform restarting after a crash cleans up at once), then every interval."""
        while True:
            try:
                await self.reap_once()
            except ServiceError as error:
                log.warning("could not list sandboxes to reap: %s", error.message)
            except Exception:
                log.exception("the sandbox reaper failed; it tries again in %s s", self.interval_s)
            await asyncio.sleep(self.interval_s)
