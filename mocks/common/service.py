"""The part of a fake's state model that does not depend on the service: journal, faults, base latency."""

from __future__ import annotations

import abc
import threading
from typing import Any

from starlette.responses import Response

from mocks.common.faults import FaultBook, FaultKind, FaultRule
from mocks.common.journal import Journal, JournalEntry


class FakeService(abc.ABC):
    """Base of FakeE2B and FakeGitHub.

    One object is served by the uvicorn thread and the respx bridge at the same time, so every mutation
    of the subclass's state happens under `self._lock` (a threading lock: the two callers may run on
    different event loops, so asyncio locks would not do).
    """

    def __init__(self, *, latency_ms: int = 0) -> None:
        self._lock = threading.RLock()
        self._journal = Journal()
        self.faults = FaultBook()
        # Added to every request of the service API (not the admin API); survives reset().
        self.latency_ms = latency_ms

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
    ) -> FaultRule:
        """Inject a fault into the next `times` calls of `operation` (None: until clear_faults())."""
        rule = FaultRule(
            operation=operation,
            kind=kind,
            status=status,
            body=body,
            headers=dict(headers or {}),
            times=times,
            latency_ms=latency_ms,
        )
        return self.faults.add(rule)

    def add_fault_rule(self, rule: FaultRule) -> FaultRule:
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- lifecycle ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything but the configured credentials: state, journal and faults."""
        self.faults.clear()
        self._journal.clear()
        self._reset_state()

    @abc.abstractmethod
    def _reset_state(self) -> None: ...

    @abc.abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """A JSON-able dump of the state, for GET /_fake/state and for debugging failed tests."""

    # -- the service's own error shape ----------------------------------------------------------------
    @abc.abstractmethod
    def error_response(self, status: int, message: str | None = None) -> Response:
        """The response the real service gives for `status` (used by status faults without a body)."""
