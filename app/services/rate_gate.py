"""One gate per GitHub credential: when GitHub tells one call to wait, every call with that credential waits.

GitHub asks a client that met a rate limit to make no more requests until the wait is over (its
`retry-after`; a minute when a secondary limit names none, longer each time it persists; the primary
limit's reset) and warns that requests made meanwhile may get the integration banned. So the wait
one call is told of closes its credential's gate, and every other call with that credential (any
job, any squad) waits at the gate instead of collecting a refusal of its own. Calls with the
platform's other credentials pass. The gate is per process: each web process and each
`python -m app worker` learns of a limit from its own first refused call, which is one refusal per
process, not one per job.

A call waits at most `max_wait_s` (GITHUB_RATE_LIMIT_MAX_WAIT_S) from its start; a wait that would
take it past that fails the call instead, saying how long GitHub asked for. A wait longer than any
call makes does not close the gate: the call that met it fails, and the next call asks GitHub again.

The wait is slept inside the job, not by handing the job back to the queue with a not-before time.
When a job meets a limit, nearly always at its pull request, its work is done and pushed: handed
back, it would run its pipeline again from the start (a new sandbox, a clone, the agent's model
turns paid for again), unless jobs learned to resume half-way. Sleeping is bounded by
`max_wait_s`, the job's lease is renewed meanwhile (a dead worker's job is still taken over), and
it holds one of its worker's WORKER_CONCURRENCY slots, which the jobs of other credentials'
squads keep using.

`clock` and `sleep` can be replaced, e.g. by tests that move a fake clock instead of waiting.
"""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

# No wait is shorter: a service answering "retry after 0 s" again and again must not be asked again at once.
MIN_WAIT_S = 1.0
# How long a call may be held up by GitHub's rate limits, unless told otherwise (GITHUB_RATE_LIMIT_MAX_WAIT_S):
# GitHub asks for a minute, then two, when a secondary limit names no wait; both fit.
DEFAULT_MAX_WAIT_S = 300.0


class RateLimitGate:
    def __init__(
        self,
        max_wait_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_wait_s < 0:
            raise ValueError("max_wait_s must not be negative")
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.sleep = sleep
        self._open_at = -math.inf

    def deadline(self) -> float:
        """The moment (on `clock`) past which a call starting now no longer waits."""
        return self.clock() + self.max_wait_s

    def close_for(self, seconds: float) -> None:
        """GitHub asked to wait `seconds`: no call passes until then (a longer wait already set stands)."""
        self._open_at = max(self._open_at, self.clock() + max(seconds, MIN_WAIT_S))

    def closed_for(self) -> float:
        """How long calls must still wait: 0 when the gate is open."""
        return max(0.0, self._open_at - self.clock())
