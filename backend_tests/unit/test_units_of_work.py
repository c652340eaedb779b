"""A unit of work (app/db.py `finish_then_cancel`, `@runs_to_completion`) runs to its end however often
its caller is cancelled meanwhile, and only then lets the cancellation through; what it returns or
raises otherwise reaches the caller unchanged."""

import asyncio

import pytest

from app.db import finish_then_cancel, runs_to_completion

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


class Gate:
    """Work that says it started, then waits until the test lets it finish."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.go = asyncio.Event()
        self.finished = False

    async def work(self, value: str) -> str:
        self.started.set()
        await self.go.wait()
        self.finished = True
        return value


async def test_the_work_finishes_through_two_cancellations_and_then_the_caller_is_cancelled():
    gate = Gate()
    caller = asyncio.create_task(finish_then_cancel(gate.work("stored")))
    await gate.started.wait()

    caller.cancel()
    await asyncio.sleep(0)  # allowed-sleep: a 0 s yield, so the first cancellation lands before the second
    caller.cancel()
    await asyncio.sleep(0)  # allowed-sleep: a 0 s yield, so the second lands too
    assert not caller.done() and not gate.finished, "the caller should still wait for the work"

    gate.go.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert gate.finished


async def test_without_a_cancellation_the_caller_gets_what_the_work_returns():
    gate = Gate()
    gate.go.set()

    assert await finish_then_cancel(gate.work("value")) == "value"


async def test_what_the_work_raises_reaches_the_caller():
    async def failing() -> None:
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        await finish_then_cancel(failing())


async def test_a_marked_method_is_a_unit_of_work_with_its_name_and_arguments():
    class Store:
        def __init__(self) -> None:
            self.gate = Gate()

        @runs_to_completion
        async def save(self, value: str) -> str:
            """Saves."""
            return await self.gate.work(value)

    store = Store()
    caller = asyncio.create_task(store.save("kept"))
    await store.gate.started.wait()
    caller.cancel()
    await asyncio.sleep(0)  # allowed-sleep: a 0 s yield, so the cancellation lands while the work waits
    store.gate.go.set()

    with pytest.raises(asyncio.CancelledError):
        await caller
    assert store.gate.finished
    assert (Store.save.__name__, Store.save.__doc__) == ("save", "Saves.")
