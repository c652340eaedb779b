"""The per-squad counters of app/limits.py: the request-rate token bucket and the held-slot counts."""

import asyncio

import pytest

from app.limits import MAX_TRACKED_SQUADS, RequestRate, SquadCounts, too_many

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_squad_gets_its_burst_at_once_then_waits_for_the_refill():
    clock = Clock()
    rate = RequestRate(per_s=2, burst=3, clock=clock)

    taken = [rate.take("a") for _ in range(3)]
    refused = rate.take("a")

    assert taken == [None, None, None]
    assert refused == pytest.approx(0.5)


def test_the_bucket_refills_at_its_rate_and_never_past_its_burst():
    clock = Clock()
    rate = RequestRate(per_s=2, burst=3, clock=clock)
    for _ in range(3):
        rate.take("a")

    clock.now += 0.5
    assert rate.take("a") is None and rate.take("a") == pytest.approx(0.5)
    clock.now += 3600
    assert [rate.take("a") for _ in range(4)][-1] == pytest.approx(0.5), "an hour idle still allows only the burst"


def test_one_squads_bucket_is_not_anothers():
    rate = RequestRate(per_s=1, burst=1, clock=Clock())

    assert rate.take("a") is None
    assert rate.take("a") is not None
    assert rate.take("b") is None


def test_the_429_says_when_to_come_back_in_whole_seconds():
    rate = RequestRate(per_s=0.25, burst=1, clock=Clock())
    rate.take("a")

    with pytest.raises(Exception) as refused:
        rate.check("a")

    assert refused.value.status_code == 429
    assert refused.value.headers == {"Retry-After": "4"}
    assert "0.25 a second" in refused.value.detail and "4.00 s" in refused.value.detail
    assert too_many("x", 0.01).headers == {"Retry-After": "1"}, "never less than a second"


def test_idle_squads_are_forgotten_once_many_have_buckets():
    clock = Clock()
    rate = RequestRate(per_s=1, burst=2, clock=clock)
    for number in range(MAX_TRACKED_SQUADS):
        rate.take(f"squad-{number}")
    busy = "squad-0"
    rate.take(busy)  # now empty: its bucket must survive
    clock.now += 1.5  # every other bucket has refilled to its burst of 2

    rate.take("newcomer")

    assert len(rate._buckets) == 2
    assert rate.take(busy) is None and rate.take(busy) is not None, "the busy squad's count was kept"


def test_a_slot_is_given_back_once_however_often_it_is_released():
    counts = SquadCounts()
    first, second = counts.take("a"), counts.take("a")

    first.release()
    first.release()

    assert counts.held("a") == 1
    second.release()
    assert counts.held("a") == 0 and counts._counts == {}


async def test_a_squads_requests_decide_one_at_a_time_and_other_squads_do_not_wait():
    counts = SquadCounts()
    order: list[str] = []

    async def decide(squad_id: str, name: str, holding: asyncio.Event | None = None) -> None:
        async with counts.deciding(squad_id):
            order.append(f"{name} in")
            if holding is not None:
                await holding.wait()
            order.append(f"{name} out")

    release = asyncio.Event()
    first = asyncio.create_task(decide("a", "first", release))
    await asyncio.sleep(0)  # allowed-sleep: lets the first task take the lock, it waits for nothing
    second = asyncio.create_task(decide("a", "second"))
    other = asyncio.create_task(decide("b", "other"))
    await other
    release.set()
    await asyncio.gather(first, second)

    assert order == ["first in", "other in", "other out", "first out", "second in", "second out"]
