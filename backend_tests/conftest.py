"""Backend suite: asyncio tests of the platform, in-process with respx fakes or against the live stack.

Shared fixtures (live stack, factories, clients) come from fixtures/plugin.py.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from fixtures.stack import Stack, StartedInBackground
from fixtures.worker_stack import WorkerStack, launch_worker_stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the tests on the live stack (and on the stacks built on its fakes: the limited stack,
    the worker stack) run first, in their shuffled order, ahead of the others in theirs.

    xdist's `load` distribution hands each worker its first quarter of a share as one block, so these few
    dozen tests all go to one worker: only that worker starts those stacks, and the longest waits of the
    suite (worker takeovers, process restarts) begin at the start of the run instead of ending it."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: "live_stack" not in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def worker_stack_starting(
    request: pytest.FixtureRequest,
    live_stack_starting: StartedInBackground[Stack] | None,
    worker_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StartedInBackground[WorkerStack] | None]:
    """In a serial run with the worker-restart tests, their stack starts in the background at the
    session's first test, once the live stack whose fakes it shares is up: its processes boot on the
    core a serial run leaves idle. Under xdist no core is idle; `worker_stack` starts it at its first use."""
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


@pytest.fixture(scope="session")
def worker_stack(
    worker_stack_starting: StartedInBackground[WorkerStack] | None,
    live_stack: Stack,
    worker_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerStack]:
    """The worker-restart tests' stack, one for the session: started in the background at the session's
    start (a serial run), else here. Its tests share it in any order: each stops the workers it does not
    want and starts the ones it needs."""
    if worker_stack_starting is not None:
        yield worker_stack_starting.result(announce=lambda line: None)  # stopped at the session's end
        return
    starting = launch_worker_stack(lambda: live_stack, worker_id, tmp_path_factory.mktemp("workers-db"))
    yield starting.result(announce=lambda line: None)
    starting.stop()
