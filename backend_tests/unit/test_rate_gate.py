"""RateLimitGate: the wait GitHub asked one call for, which every call with the same token then keeps."""

import pytest

from app.services.rate_gate import MIN_WAIT_S, RateLimitGate
from fixtures.fake_time import RecordedSleeps

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


@pytest.fixture
def time() -> RecordedSleeps:
    return RecordedSleeps()


def test_a_longer_wait_already_asked_for_stands(time):
    gate = RateLimitGate(300, clock=time.clock, sleep=time)

    gate.close_for(60)
    gate.close_for(10)

    assert gate.closed_for() == 60


async def test_the_gate_opens_once_the_wait_is_over(time):
    gate = RateLimitGate(300, clock=time.clock, sleep=time)
    gate.close_for(60)

    await time(59)
    almost = gate.closed_for()
    await time(1)

    assert (almost, gate.closed_for()) == (1, 0)


def test_a_wait_of_nothing_still_waits_a_second_so_a_refusal_is_not_repeated_at_once(time):
    gate = RateLimitGate(300, clock=time.clock, sleep=time)

    gate.close_for(0)

    assert gate.closed_for() == MIN_WAIT_S == 1.0


def test_a_call_starting_now_waits_until_its_deadline_at_most(time):
    assert RateLimitGate(300, clock=time.clock, sleep=time).deadline() == time.now + 300
    with pytest.raises(ValueError, match="max_wait_s must not be negative"):
        RateLimitGate(-1)
