"""The part of a fake's state model that does not depend on the service: journal, faults, clock, observers."""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mocks.common.faults import COMMON_MATCH_KEYS, FaultBook, FaultKind, FaultRule, RequestFacts
from mocks.common.journal import Journal, JournalEntry


@dataclass(frozen=True)
class ObservedResponse:
    """A response of the service API as it left the fake (for observers, e.g. a schema check)."""

    operation: str
    method: str
    path: str
    query: str
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    fault: str | None  # the kind of fault injected into it, if any
    fault_has_own_body: bool  # the fault rule supplied the body (answered verbatim)


ResponseObserver = Callable[[ObservedResponse], None]


class FakeService(abc.ABC):
    """Base of FakeE2B and FakeGitHub.

    One object is served by the uvicorn thread and the respx bridge at the same time, so every mutation
    of the subclass's state happens under `self._lock` (a threading lock: the two callers may run on
    different event loops, so asyncio locks would not do).
    """

    # Keys a fault rule's `match` may use besides the common ones (see mocks.common.faults).
    extra_match_keys: frozenset[str] = frozenset()

    def __init__(self, *, latency_ms: int = 0) -> None:
        self._lock = threading.RLock()
        self._journal = Journal()
        self.faults = FaultBook()
        # Added to every request of the service API (not the admin API); survives reset().
        self.latency_ms = latency_ms
        self._time_offset = 0.0
        self._observers: list[ResponseObserver] = []

    # -- the fake's clock -----------------------------------------------------------------------------
    def time(self) -> float:
        """Epoch seconds as the fake sees them: the real time plus whatever advance_time() added."""
        return time.time() + self._time_offset

    def advance_time(self, seconds: float) -> None:
        """Move the fake's clock forward (sandboxes expire, rate-limit windows reset) without waiting."""
        if seconds < 0:
            raise ValueError("the fake's clock only moves forward")
        with self._lock:
            self._time_offset += seconds

    # -- inspection -----------------------------------------------------------------------------------
    @property
    def journal(self) -> list[JournalEntry]:
        """Every request of the service API so far, oldest first (admin calls excluded)."""
        return self._journal.entries()

    def requests(self, operation: str | None = None) -> list[JournalEntry]:
        """The journal, only the requests of `operation` (e.g. "create_pull_request") when given."""
        return self._journal.entries(operation)

    def record(self, **entry: Any) -> JournalEntry:
        return self._journal.record(**entry)

    def add_response_observer(self, observer: ResponseObserver) -> None:
        """Call `observer` with every response of the service API, before its last byte is sent."""
        with self._lock:
            self._observers.append(observer)

    def remove_response_observer(self, observer: ResponseObserver) -> None:
        with self._lock:
            if observer in self._observers:
                self._observers.remove(observer)

    @property
    def response_observers(self) -> list[ResponseObserver]:
        return list(self._observers)

    # -- faults ---------------------------------------------------------------------------------------
    def add_fault(
        self,
        operation: str,
        status: int | None = None,
        *,
        kind: FaultKind = "status",
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int | None = None,
        latency_ms: int = 0,
        match: dict[str, Any] | None = None,
        after: int = 0,
    ) -> FaultRule:
        """Inject a fault into calls of `operation` ("*": all) that fit `match`.

        The first `after` such calls pass; then the next `times` fail (None: every one until cleared).
        """
        rule = FaultRule(
            operation=operation,
            kind=kind,
            status=status,
            body=body,
            headers=dict(headers or {}),
            times=times,
            latency_ms=latency_ms,
            match=dict(match or {}),
            after=after,
        )
        return self.add_fault_rule(rule)

    def add_fault_rule(self, rule: FaultRule) -> FaultRule:
        rule.check_match_keys(COMMON_MATCH_KEYS | self.extra_match_keys)
        return self.faults.add(rule)

    def remove_fault(self, rule: FaultRule | int) -> bool:
        return self.faults.remove(rule if isinstance(rule, int) else rule.id)

    def clear_faults(self) -> None:
        self.faults.clear()

    def request_fact(self, key: str, facts: RequestFacts, path_params: dict[str, Any]) -> Any:
        """The value of a service-specific match key for a request (override in the fakes)."""
        return None

    # -- lifecycle ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything but the configured credentials: state, journal, faults and clock offset."""
        self.faults.clear()
        self._journal.clear()
        with self._lock:
            self._time_offset = 0.0
        self._reset_state()

    @abc.abstractmethod
    def _reset_state(self) -> None: ...

    @abc.abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """A JSON-able dump of the state, for GET /_fake/state and for debugging failed tests."""
