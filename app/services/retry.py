"""Retry of transient service failures: capped exponential backoff with jitter, honouring the wait a
service asks for (`Retry-After`, `x-ratelimit-reset`) up to a cap.

Each service takes a `RetryPolicy` in its constructor; tests pass one with tiny delays (and may
replace `sleep` to record the waits instead of sleeping them).
"""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from app.services.errors import ServiceError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How a service retries a transient failure.

    Attempt n (1-based) that failed is followed by a wait of `min(max_delay_s, base_delay_s * 2**(n-1))`,
    of which the fraction `jitter` is random (so the wait lies in [(1 - jitter) * backoff, backoff]).
    When the failure says how long to wait (`retry_after`), that wait is used instead, unless it is
    longer than `max_retry_after_s`: then the call fails at once with a message saying so.
    `sleep` (how a wait is waited) and `random` (the jitter's draw in [0, 1)) can be replaced, e.g. by
    tests that record the waits instead of sleeping them.
    """

    attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0
    # A service asking for a longer wait than this fails the call instead of stalling the worker.
    max_retry_after_s: float = 60.0
    jitter: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False, repr=False)
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if min(self.base_delay_s, self.max_delay_s, self.max_retry_after_s) < 0:
            raise ValueError("delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt `attempt` (1-based) when the service did not name one."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return ceiling * (1 - self.jitter * self.random())

    def delay(self, attempt: int, error: ServiceError) -> float:
        if error.retry_after is not None:
            return max(0.0, error.retry_after)
        return self.backoff(attempt)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """The seconds a `Retry-After` header asks for: delta-seconds or an HTTP date; None if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def seconds_until(epoch_seconds: str | None, now: float | None = None) -> float | None:
    """The wait until an epoch-seconds moment (GitHub's `x-ratelimit-reset`); None if absent or bad."""
    try:
        moment = float(epoch_seconds) if epoch_seconds is not None else None
    except ValueError:
        return None
    if moment is None:
        return None
    return max(0.0, moment - (time.time() if now is None else now))


def format_moment(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%H:%M:%S UTC")


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Await `call()` until it succeeds, retrying transient ServiceErrors as `policy` says.

    Anything else (a permanent ServiceError, another exception, cancellation) propagates at once. An
    error an inner retry loop already gave up on is not retried again.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except ServiceError as error:
            if not error.transient or error.retries_exhausted:
                raise
            if attempt >= policy.attempts:
                if attempt > 1:
                    error.give_up(attempt, f"gave up after {attempt} attempts")
                raise
            wait = policy.delay(attempt, error)
            if wait > policy.max_retry_after_s:
                error.give_up(
                    attempt,
                    f"{error.service} asked to wait {wait:.0f} s before retrying, longer than the "
                    f"{policy.max_retry_after_s:g} s this platform waits (max_retry_after_s); try again later",
                )
                raise
            log.warning("%s (attempt %d of %d); retrying in %.2f s", error.message, attempt, policy.attempts, wait)
            await policy.sleep(wait)
            attempt += 1
