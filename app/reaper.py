"""The sandbox reaper: destroys what E2B still runs for pipelines whose jobs are over.

A sandbox creation that timed out here may still have happened at E2B, its answer arriving after
the pipeline gave up on it and moved on; the pipeline's own sweep at its end finds such a sandbox
only if it exists by then. Every worker therefore also looks on a timer
(`SANDBOX_REAP_INTERVAL_S`): a running sandbox a pipeline created (metadata `origin=pipeline`)
whose task is in this platform's database and whose run is over is destroyed. A run is over unless
it is the current run (`Job.run_id`) of a running job: a job's earlier runs (a dead worker's) are
over as soon as it is taken over, while the task's current run keeps its sandbox. Sandboxes made
through `POST /api/v1/sandboxes` carry no such mark and are their owners' to destroy; sandboxes of
tasks this platform does not know belong to another platform using the same E2B account (staging
beside production) and are left to it. Several workers reaping at once is harmless: destroying a
sandbox already gone is not an error.
"""

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import runs_to_completion
from app.models import Job, JobState, Task
from app.services.e2b import E2BSandboxService
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

PIPELINE_ORIGIN = {"origin": "pipeline"}


@dataclass(frozen=True)
class _LiveRuns:
    """What the database says of the listed sandboxes' tasks: which are this platform's, which have a
    running job, and the runs those jobs are running now."""

    tasks: set[str]
    busy_tasks: set[str]
    current_runs: set[str]

    def is_over(self, metadata: dict[str, str]) -> bool:
        task_id = metadata.get("task_id")
        if task_id not in self.tasks:
            return False  # another platform's, or not a task's at all
        run_id = metadata.get("run_id")
        if run_id is None:
            # Made before runs had ids: all that can be told is whether its task still has a running job.
            return task_id not in self.busy_tasks
        return run_id not in self.current_runs


class SandboxReaper:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], sandboxes: E2BSandboxService, interval_s: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._sandboxes = sandboxes
        self.interval_s = interval_s

    async def reap_once(self) -> list[str]:
        """Destroy the pipeline sandboxes of this platform's tasks whose runs are over; returns their ids."""
        running = await self._sandboxes.running_sandboxes(PIPELINE_ORIGIN)
        if not running:
            return []
        task_ids = {sandbox.metadata["task_id"] for sandbox in running if "task_id" in sandbox.metadata}
        live = await self._live_runs(task_ids)
        reaped = []
        for sandbox in running:
            if not live.is_over(sandbox.metadata):
                continue
            log.warning("destroying sandbox %s (%s): its run is over", sandbox.sandbox_id, sandbox.metadata)
            try:
                await self._sandboxes.destroy(sandbox.sandbox_id)
            except ServiceError as error:
                log.warning("could not destroy sandbox %s: %s", sandbox.sandbox_id, error.message)
                continue
            reaped.append(sandbox.sandbox_id)
        return reaped

    @runs_to_completion
    async def _live_runs(self, task_ids: set[str]) -> _LiveRuns:
        async with self._sessionmaker() as session:
            ours = set(await session.scalars(select(Task.id).where(Task.id.in_(task_ids))))
            running = (
                await session.execute(
                    select(Job.task_id, Job.run_id).where(Job.task_id.in_(task_ids), Job.state == JobState.RUNNING)
                )
            ).all()
        return _LiveRuns(ours, {task_id for task_id, _ in running}, {run_id for _, run_id in running if run_id})

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
