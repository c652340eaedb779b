"""One long-running task of a process's own, started once and stopped by cancellation: the event
fan-out's listeners for other processes' commits (app/pg_notify.py, app/sqlite_wake.py)."""

import asyncio
import contextlib


class BackgroundTask:
    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
