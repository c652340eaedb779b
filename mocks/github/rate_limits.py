"""GitHub's primary rate limit, counted per token over a one-hour window."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

AUTHENTICATED_LIMIT = 5000
ANONYMOUS_LIMIT = 60
WINDOW_SECONDS = 3600
ANONYMOUS = ""  # the key of unauthenticated requests


@dataclass
class RateWindow:
    limit: int
    used: int
    reset: int  # epoch seconds when the window restarts

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


class RateLimits:
    def __init__(self, limit: int = AUTHENTICATED_LIMIT) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self._windows: dict[str, RateWindow] = {}

    def _window(self, key: str) -> RateWindow:
        now = int(time.time())
        window = self._windows.get(key)
        if window is None or window.reset <= now:
            limit = ANONYMOUS_LIMIT if key == ANONYMOUS else self.limit
            window = self._windows[key] = RateWindow(limit, 0, now + WINDOW_SECONDS)
        return window

    def consume(self, key: str) -> tuple[RateWindow, bool]:
        """Count one request; returns (a copy of the window, whether the request is allowed)."""
        with self._lock:
            window = self._window(key)
            allowed = window.remaining > 0
            if allowed:
                window.used += 1
            return RateWindow(window.limit, window.used, window.reset), allowed

    def peek(self, key: str) -> RateWindow:
        with self._lock:
            window = self._window(key)
            return RateWindow(window.limit, window.used, window.reset)

    def set(
        self, key: str, *, remaining: int | None = None, limit: int | None = None, reset: int | None = None
    ) -> None:
        """Force a window (e.g. `remaining=0` to make the next call hit the limit)."""
        with self._lock:
            window = self._window(key)
            if limit is not None:
                window.limit = limit
            if remaining is not None:
                window.used = max(0, window.limit - remaining)
            if reset is not None:
                window.reset = reset

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
