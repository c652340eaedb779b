"""Retry of transient service failures with capped exponential backoff and jitter."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from app.services.errors import ServiceError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0
    # A service asking for a longer wait than this fails the call instead of stalling the worker.
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, error: ServiceError) -> float:
        if error.retry_after is not None:
            return error.retry_after
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(backoff / 2, backoff)


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    attempt = 1
    while True:
        try:
            return await call()
        except ServiceError as error:
            if not error.transient or attempt >= policy.attempts:
                raise
            wait = policy.delay(attempt, error)
            if wait > policy.max_retry_after_s:
                raise
            await asyncio.sleep(wait)
            attempt += 1
