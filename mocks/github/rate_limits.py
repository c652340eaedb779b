"""GitHub's rate limits: the primary limit per token over a one-hour window, and secondary limits.

Primary: each token has `limit` requests per window; past it the answer is 403 (or 429, GitHub uses
both) with `x-ratelimit-remaining: 0` and the window's reset time. Secondary: a burst of
content-creating requests (GitHub documents about 80 per minute) or a limit tripped on purpose
answers 403 (or 429) with `retry-after`. Time is the fake's clock, so tests move it instead of waiting.

Limits are counted per token: each token stands for an account (a machine user or an App
installation) of its own, whose limits GitHub counts apart from the others'.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

AUTHENTICATED_LIMIT = 5000
ANONYMOUS_LIMIT = 60
WINDOW_SECONDS = 3600
CONTENT_CREATION_PER_MINUTE = 80
ANONYMOUS = ""  # the key of unauthenticated requests
ANY_TOKEN = "*"  # a secondary limit tripped for every token


def checked_per_minute(value: object) -> int:
    """A content-creation limit as given (an environment variable, the admin API), or ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"content_creation_per_minute must be a positive integer, not {value!r}")
    return value


@dataclass
class RateWindow:
    limit: int
    used: int
    reset: int  # epoch seconds when the window restarts
    status: int = 403  # the answer once it is exhausted (GitHub sends 403 or 429)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self, resource: str = "core") -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": resource,
        }

    def to_json(self) -> dict[str, int]:
        return {"limit": self.limit, "used": self.used, "remaining": self.remaining, "reset": self.reset}

    def copy(self) -> RateWindow:
        return RateWindow(self.limit, self.used, self.reset, self.status)


@dataclass(frozen=True)
class SecondaryLimit:
    """A request refused by a secondary rate limit: answer `status` with `retry-after: retry_after`."""

    status: int
    retry_after: int


class RateLimits:
    def __init__(
        self,
        limit: int = AUTHENTICATED_LIMIT,
        clock: Callable[[], float] = time.time,
        content_creation_per_minute: int = CONTENT_CREATION_PER_MINUTE,
    ) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self.clock = clock
        self.content_creation_per_minute = checked_per_minute(content_creation_per_minute)
        self._windows: dict[str, RateWindow] = {}
        self._created: dict[str, deque[float]] = {}  # token -> times of its recent content-creating requests
        self._tripped: dict[str, tuple[float, int]] = {}  # token or ANY_TOKEN -> (until, status)

    def _window(self, key: str) -> RateWindow:
        now = int(self.clock())
        window = self._windows.get(key)
        if window is None or window.reset <= now:
            limit = ANONYMOUS_LIMIT if key == ANONYMOUS else self.limit
            status = window.status if window is not None else 403
            window = self._windows[key] = RateWindow(limit, 0, now + WINDOW_SECONDS, status)
        return window

    # -- primary --------------------------------------------------------------------------------------
    def consume(self, key: str) -> tuple[RateWindow, bool]:
        """Count one request; returns (a copy of the window, whether the request is allowed)."""
        with self._lock:
            window = self._window(key)
            allowed = window.remaining > 0
            if allowed:
                window.used += 1
            return window.copy(), allowed

    def peek(self, key: str) -> RateWindow:
        with self._lock:
            return self._window(key).copy()

    def set(
        self,
        key: str,
        *,
        remaining: int | None = None,
        limit: int | None = None,
        reset: int | None = None,
        status: int | None = None,
    ) -> None:
        """Force a window (e.g. `remaining=0` to make the next call hit the limit; `status=429` to be
        answered 429 instead of 403 then)."""
        if status is not None and status not in (403, 429):
            raise ValueError("GitHub answers an exhausted rate limit with 403 or 429")
        with self._lock:
            window = self._window(key)
            if limit is not None:
                window.limit = limit
            if remaining is not None:
                window.used = max(0, window.limit - remaining)
            if reset is not None:
                window.reset = reset
            if status is not None:
                window.status = status

    # -- secondary ------------------------------------------------------------------------------------
    def trip_secondary(self, token: str | None, retry_after: int, status: int = 403) -> None:
        """Refuse the requests of `token` (None: of every token) for `retry_after` seconds of the fake's clock."""
        if status not in (403, 429):
            raise ValueError("GitHub answers a secondary rate limit with 403 or 429")
        if retry_after < 0:
            raise ValueError("retry_after must not be negative")
        with self._lock:
            self._tripped[token or ANY_TOKEN] = (self.clock() + retry_after, status)

    def check_secondary(self, key: str, *, creates_content: bool) -> SecondaryLimit | None:
        """The secondary limit this request runs into, if any (a content-creating request is counted)."""
        with self._lock:
            now = self.clock()
            for name in (key, ANY_TOKEN):
                until, status = self._tripped.get(name, (0.0, 403))
                if until > now:
                    return SecondaryLimit(status, max(1, math.ceil(until - now)))
                self._tripped.pop(name, None)
            if not creates_content:
                return None
            recent = self._created.setdefault(key, deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            if len(recent) >= self.content_creation_per_minute:
                return SecondaryLimit(403, max(1, math.ceil(recent[0] + 60 - now)))
            recent.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
            self._created.clear()
            self._tripped.clear()
