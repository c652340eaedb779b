"""Requests a fake makes itself (GitHub's webhook deliveries), as plain data, and who sends them.

A fake's state decides what to send and records what came of it; a `Deliverer` sends. The state must not
load an HTTP framework, so the deliverers that send with httpx live in mocks.common.deliverers, and a
fake's app (or a test) hands one to the state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingRequest:
    """One POST the fake makes: the exact bytes of its body and the headers that go with them."""

    url: str
    headers: dict[str, str]
    body: bytes
    timeout: float
    verify_tls: bool = True


@dataclass(frozen=True)
class Outcome:
    """What came of an OutgoingRequest: the answer, or why there was none."""

    duration: float  # seconds from sending to the last byte of the answer (or to the failure)
    status_code: int | None = None  # None: no HTTP answer at all
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    failure: str | None = None  # "connect", "timeout" or "error" when there was no answer

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


Done = Callable[[Outcome], None]


class Deliverer(Protocol):
    """Sends a request and calls `done` with its outcome; `submit` must not wait for the answer unless the
    deliverer is meant to (an inline one, for tests that want the answer before they go on)."""

    def submit(self, request: OutgoingRequest, done: Done) -> None: ...

    def close(self) -> None: ...
