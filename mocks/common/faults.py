"""Fault rules: make the next N calls of an operation fail, stall, drop the connection or return broken JSON.

A rule matches an operation by name ("*" matches every operation). `times=None` means "until cleared".
Kinds:
- "status": answer `status` with `body` (default: the service's real error body for that status) and
  `headers`; with `status=None` the rule only adds `latency_ms` and the request is then served normally.
- "reset": drop the connection without an answer (a transport error for the client).
- "malformed": answer `status` (default 200) with a JSON content type and a truncated JSON body.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["status", "reset", "malformed"]
FAULT_KINDS: tuple[str, ...] = ("status", "reset", "malformed")
ANY_OPERATION = "*"


class InvalidFault(ValueError):
    """A fault rule that cannot be applied (bad kind, bad status, negative counts)."""


@dataclass
class FaultRule:
    operation: str
    kind: FaultKind = "status"
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    latency_ms: int = 0
    id: int = 0
    applied: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.operation, str) or not self.operation:
            raise InvalidFault("operation must be a non-empty string")
        if self.kind not in FAULT_KINDS:
            raise InvalidFault(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if self.status is not None and (
            not isinstance(self.status, int) or isinstance(self.status, bool) or not 100 <= self.status <= 599
        ):
            raise InvalidFault("status must be an HTTP status code")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            raise InvalidFault("times must be a positive integer or null (forever)")
        if not isinstance(self.latency_ms, int) or isinstance(self.latency_ms, bool) or self.latency_ms < 0:
            raise InvalidFault("latency_ms must be a non-negative integer")
        if not isinstance(self.headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise InvalidFault("headers must map strings to strings")
        if self.kind == "status" and self.status is None and self.latency_ms == 0:
            raise InvalidFault("a status fault needs a status or a latency_ms")

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, dict):
            raise InvalidFault("a fault is a JSON object")
        known = {"operation", "kind", "status", "body", "headers", "times", "latency_ms"}
        unknown = set(data) - known
        if unknown:
            raise InvalidFault(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(
            operation=data.get("operation", ""),
            kind=data.get("kind") or "status",
            status=data.get("status"),
            body=data.get("body"),
            headers=data.get("headers") or {},
            times=data.get("times"),
            latency_ms=data.get("latency_ms") or 0,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    """The active rules. `take` picks the oldest matching rule and counts one use, atomically."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = next(self._ids)
            self._rules.append(rule)
        return rule

    def take(self, operation: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.operation in (operation, ANY_OPERATION):
                    rule.applied += 1
                    if rule.times is not None and rule.applied >= rule.times:
                        self._rules.remove(rule)
                    return rule
        return None

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
