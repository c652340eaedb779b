"""with_retries giving up: the failure records the attempts made, so an outer retry loop leaves it alone."""

import pytest

from app.services.errors import GitHubError
from app.services.retry import RetryPolicy, with_retries

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


class Script:
    """A call that fails with the scripted errors, then returns "done"; counts its calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def policy(sleeps, **options) -> RetryPolicy:
    return RetryPolicy(**{"attempts": 3, "base_delay_s": 0.001, "max_delay_s": 0.004, "sleep": sleeps, **options})


async def test_a_wait_over_the_cap_gives_up_at_the_first_attempt_and_an_outer_loop_does_not_retry(sleeps):
    inner_call = Script(*(GitHubError("secondary rate limit", transient=True, retry_after=3600) for _ in range(5)))

    async def outer_call() -> str:
        return await with_retries(inner_call, policy(sleeps, max_retry_after_s=60))

    with pytest.raises(GitHubError) as raised:
        await with_retries(outer_call, policy(sleeps))

    assert raised.value.attempts == 1, f"expected the give-up to record 1 attempt, got {raised.value.attempts}"
    assert inner_call.calls == 1, f"the outer loop retried a failure the inner loop gave up on: {inner_call.calls}"
