"""OpenAI's rate limits per API key: requests and tokens per minute, refilled continuously.

Each key has two buckets that drain at their limit per minute (OpenAI's limits replenish the same way,
which is why its `x-ratelimit-reset-*` headers read "6ms" or "1.5s" rather than the end of a window). A
request takes one request and its estimated tokens (the prompt's plus `max_tokens`, as OpenAI counts
them); one that does not fit is refused with how long until it would. Time is the fake's clock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

REQUESTS_PER_MINUTE = 10_000
TOKENS_PER_MINUTE = 30_000_000


def duration(seconds: float) -> str:
    """A wait as OpenAI writes it in x-ratelimit-reset-*: "0s", "6ms", "1.5s", "2m0.5s"."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


@dataclass
class Bucket:
    level: float = 0.0
    at: float = 0.0


@dataclass(frozen=True)
class Decision:
    """What a request met: whether it may go on, and the headers the answer carries either way."""

    allowed: bool
    headers: dict[str, str]
    kind: str | None = None  # "requests" or "tokens": the limit that refused it
    limit: int = 0
    used: int = 0
    requested: int = 0
    retry_after: float | None = None  # seconds; None: never (the request alone is over the limit)


@dataclass
class RateLimits:
    requests_per_minute: int = REQUESTS_PER_MINUTE
    tokens_per_minute: int = TOKENS_PER_MINUTE
    clock: Callable[[], float] = field(default=lambda: 0.0)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def set(self, *, requests_per_minute: int | None = None, tokens_per_minute: int | None = None) -> None:
        for value in (requests_per_minute, tokens_per_minute):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError("a rate limit is a positive integer per minute")
        with self._lock:
            if requests_per_minute is not None:
                self.requests_per_minute = requests_per_minute
            if tokens_per_minute is not None:
                self.tokens_per_minute = tokens_per_minute

    def take(self, key: str, tokens: int) -> Decision:
        """Count a request of `tokens` estimated tokens against `key`'s limits, if it fits."""
        with self._lock:
            now = self.clock()
            requests, token_bucket = self._drained(key, "requests", now), self._drained(key, "tokens", now)
            refusal = self._refusal(requests, self.requests_per_minute, 1, "requests")
            refusal = refusal or self._refusal(token_bucket, self.tokens_per_minute, tokens, "tokens")
            if refusal is None:
                requests.level += 1
                token_bucket.level += tokens
            headers = self._headers(requests, token_bucket)
            if refusal is None:
                return Decision(True, headers)
            kind, limit, used, retry_after = refusal
            return Decision(False, headers, kind, limit, used, 1 if kind == "requests" else tokens, retry_after)

    def exhausted_headers(self, reset: str) -> dict[str, str]:
        """The headers of an answer refused for running out of requests, which come back after `reset`."""
        with self._lock:
            return {
                "x-ratelimit-limit-requests": str(self.requests_per_minute),
                "x-ratelimit-limit-tokens": str(self.tokens_per_minute),
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-remaining-tokens": str(self.tokens_per_minute),
                "x-ratelimit-reset-requests": reset,
                "x-ratelimit-reset-tokens": "0s",
            }

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()

    def to_json(self) -> dict[str, int]:
        return {"requests_per_minute": self.requests_per_minute, "tokens_per_minute": self.tokens_per_minute}

    # -- internals ------------------------------------------------------------------------------------
    def _drained(self, key: str, kind: str, now: float) -> Bucket:
        bucket = self._buckets.setdefault((key, kind), Bucket(0.0, now))
        limit = self.requests_per_minute if kind == "requests" else self.tokens_per_minute
        bucket.level = max(0.0, bucket.level - (now - bucket.at) * limit / 60)
        bucket.at = now
        return bucket

    @staticmethod
    def _refusal(bucket: Bucket, limit: int, wanted: int, kind: str) -> tuple[str, int, int, float | None] | None:
        if bucket.level + wanted <= limit:
            return None
        retry_after = None if wanted > limit else (bucket.level + wanted - limit) * 60 / limit
        return kind, limit, math.ceil(bucket.level), retry_after

    def _headers(self, requests: Bucket, tokens: Bucket) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.requests_per_minute),
            "x-ratelimit-limit-tokens": str(self.tokens_per_minute),
            "x-ratelimit-remaining-requests": str(max(0, math.floor(self.requests_per_minute - requests.level))),
            "x-ratelimit-remaining-tokens": str(max(0, math.floor(self.tokens_per_minute - tokens.level))),
            "x-ratelimit-reset-requests": duration(requests.level * 60 / self.requests_per_minute),
            "x-ratelimit-reset-tokens": duration(tokens.level * 60 / self.tokens_per_minute),
        }
