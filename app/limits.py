"""Per-squad limits, so that one squad cannot starve the others: its request rate (a token bucket),
its open event streams, and its sandbox creations in flight.

Each process keeps its own counts (one event loop: no lock is needed). With several web processes a
squad gets up to the rate and stream limits in each. The sandboxes a squad holds are counted in the
database (app/api/sandboxes.py), so that limit is the platform's, but for creations in flight in
another process at the same moment.
"""

import asyncio
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException

# Idle buckets are forgotten once this many squads have one, so the table cannot grow without end.
MAX_TRACKED_SQUADS = 10_000


def too_many(detail: str, retry_after_s: float) -> HTTPException:
    """429 with Retry-After in whole seconds (HTTP has no fractions there), never less than 1."""
    return HTTPException(429, detail, headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))})


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RequestRate:
    """A token bucket per squad: `burst` requests at once, refilled at `per_s` a second."""

    def __init__(self, per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, squad_id: str) -> float | None:
        """Spend one request of the squad's: None when it may go ahead, else the seconds until it may."""
        now = self.clock()
        bucket = self._buckets.get(squad_id)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_SQUADS:
                self._forget_full(now)
            bucket = self._buckets[squad_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.per_s)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.per_s

    def check(self, squad_id: str) -> None:
        """Raise the 429 for a squad past its rate."""
        wait = self.take(squad_id)
        if wait is not None:
            raise too_many(
                f"too many requests from this squad: at most {self.per_s:g} a second (bursts of {self.burst}); "
                f"the next one is allowed in {wait:.2f} s",
                wait,
            )

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: a squad that comes back starts full anyway."""
        for squad_id, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.per_s >= self.burst:
                del self._buckets[squad_id]


class Slot:
    """One unit of a squad's count, given back once (`release` may be called any number of times)."""

    def __init__(self, counts: dict[str, int], squad_id: str) -> None:
        self._counts = counts
        self._squad_id = squad_id
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        left = self._counts[self._squad_id] - 1
        if left:
            self._counts[self._squad_id] = left
        else:
            del self._counts[self._squad_id]


class SquadCounts:
    """How many of something (open streams, sandbox creations in flight) each squad holds right now."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        # Kept only while a request holds one (weakly referenced): no lock outlives its squad's requests.
        self._deciding: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def deciding(self, squad_id: str) -> asyncio.Lock:
        """The lock under which the squad's requests check their limit and take their place, one at a time."""
        lock = self._deciding.get(squad_id)
        if lock is None:
            lock = self._deciding[squad_id] = asyncio.Lock()
        return lock

    def held(self, squad_id: str) -> int:
        return self._counts.get(squad_id, 0)

    def take(self, squad_id: str) -> Slot:
        self._counts[squad_id] = self.held(squad_id) + 1
        return Slot(self._counts, squad_id)
