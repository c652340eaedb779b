"""Backend suite: asyncio tests of the platform, in-process with respx fakes or against the live stack.

Shared fixtures (live stack, factories, clients) come from fixtures/plugin.py.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from fixtures.stack import Stack, StartedInBackground
from fixtures.worker_stack import WorkerStack, launch_worker_stack


@pytest.fixture(scope="session", autouse=True)
def worker_stack_starting(
    request: pytest.FixtureRequest,
    live_stack_starting: StartedInBackground[Stack] | None,
    worker_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StartedInBackground[WorkerStack] | None]:
    """In a serial run with the worker-restart tests, their stack starts in the background at the
    session's first test, once the live stack whose fakes it shares is up: its processes boot on the
    core a serial run leaves idle. Under xdist no core is idle; the tests' module starts it itself."""
    wanted = any("worker_stack" in getattr(item, "fixturenames", ()) for item in request.session.items)
    if not wanted or live_stack_starting is None or hasattr(request.config, "workerinput"):
        yield None
        return
    starting = launch_worker_stack(live_stack_starting.wait, worker_id, tmp_path_factory.mktemp("workers-db"))
    yield starting
    # This stack and the live stack stop side by side (each takes a moment to shut down cleanly); the
    # live stack's own teardown then finds it stopped.
    with ThreadPoolExecutor(max_workers=2) as stopping:
        for stopped in [stopping.submit(starting.stop), stopping.submit(live_stack_starting.stop)]:
            stopped.result()


@pytest.fixture(scope="module")
def worker_stack(
    worker_stack_starting: StartedInBackground[WorkerStack] | None,
    live_stack: Stack,
    worker_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerStack]:
    """The worker-restart tests' stack: started in the background at the session's start (a serial run),
    else here, for the module."""
    if worker_stack_starting is not None:
        yield worker_stack_starting.result(announce=lambda line: None)  # stopped at the session's end
        return
    starting = launch_worker_stack(lambda: live_stack, worker_id, tmp_path_factory.mktemp("workers-db"))
    yield starting.result(announce=lambda line: None)
    starting.stop()
