"""Fault rules: make calls of an operation fail, stall, drop the connection or return broken JSON.

A rule names an operation ("*" matches every operation) and, optionally, a `match` that narrows it to
some requests only, so tests sharing one fake (xdist workers, a session-wide server) do not take each
other's faults. Every key of `match` must hold:

- `method`:   the HTTP method, e.g. "POST"
- `path`:     a substring of the request path, e.g. "/repos/acme/widgets/"
- `query`:    a substring of the raw query string, e.g. "state=open"
- `headers`:  {name: value}, each header present with exactly that value (names case-insensitive)
- `body`:     a JSON subset of the request body, e.g. {"head": "squad/task-7"} (objects match key by key)
- service-specific keys (see each fake): GitHub `repository` ("owner/name"); E2B `sandbox` (an id) and
  `metadata` (a subset of the sandbox's metadata, or of the metadata a create request sends).

Counting: `after=K` lets the first K matching calls through; then the rule applies `times` times
(`times=None`: from now on, until cleared). Kinds:

- "status":    answer `status` with `body` (default: the service's real error body for that status) and
               `headers`; with no status, only `latency_ms` is added and the request is served normally.
- "latency":   add `latency_ms` and serve the request normally.
- "reset":     drop the connection without an answer (a transport error for the client).
- "malformed": answer `status` (default 200) with a JSON content type and a truncated JSON body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mocks.common.book import Book

FaultKind = Literal["status", "latency", "reset", "malformed"]
FAULT_KINDS: tuple[str, ...] = ("status", "latency", "reset", "malformed")
ANY_OPERATION = "*"
COMMON_MATCH_KEYS = frozenset({"method", "path", "query", "headers", "body"})
RULE_FIELDS = frozenset({"operation", "kind", "status", "body", "headers", "times", "latency_ms", "match", "after"})


class InvalidFault(ValueError):
    """A fault rule that cannot be applied (bad kind, bad status, negative counts, unknown match keys)."""


@dataclass
class RequestFacts:
    """What a rule's `match` looks at. `extra(key)` answers the service-specific keys."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: Any = None  # the parsed JSON body, when there is one
    extra: Callable[[str], Any] = field(default=lambda key: None)


def json_subset(pattern: Any, value: Any) -> bool:
    """True when `value` has everything `pattern` has (objects compared key by key, the rest by equality)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and json_subset(expected, value[key]) for key, expected in pattern.items()
        )
    return pattern == value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(eq=False)  # rules are compared by identity: two equal-looking rules are still two rules
class FaultRule:
    operation: str
    kind: FaultKind = "status"
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    latency_ms: int = 0
    match: dict[str, Any] = field(default_factory=dict)
    after: int = 0
    id: int = 0
    seen: int = 0  # matching calls so far (including the `after` ones let through)
    applied: int = 0  # calls the fault was applied to

    def __post_init__(self) -> None:
        if not isinstance(self.operation, str) or not self.operation:
            raise InvalidFault("operation must be a non-empty string")
        if self.kind not in FAULT_KINDS:
            raise InvalidFault(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if self.status is not None and (not _is_int(self.status) or not 100 <= self.status <= 599):
            raise InvalidFault("status must be an HTTP status code")
        if self.times is not None and (not _is_int(self.times) or self.times < 1):
            raise InvalidFault("times must be a positive integer or null (from now on)")
        if not _is_int(self.latency_ms) or self.latency_ms < 0:
            raise InvalidFault("latency_ms must be a non-negative integer")
        if not _is_int(self.after) or self.after < 0:
            raise InvalidFault("after must be a non-negative integer")
        if not isinstance(self.headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise InvalidFault("headers must map strings to strings")
        if self.kind == "status" and self.status is None and self.latency_ms == 0:
            raise InvalidFault("a status fault needs a status or a latency_ms")
        if self.kind == "latency" and (self.latency_ms == 0 or self.status is not None):
            raise InvalidFault("a latency fault needs latency_ms and no status")
        self._check_match()

    def _check_match(self) -> None:
        if not isinstance(self.match, dict):
            raise InvalidFault("match must be a JSON object")
        for key in ("method", "path", "query", "repository", "sandbox"):
            if key in self.match and not isinstance(self.match[key], str):
                raise InvalidFault(f"match.{key} must be a string")
        for key in ("headers", "metadata"):
            value = self.match.get(key, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise InvalidFault(f"match.{key} must map strings to strings")

    def check_match_keys(self, allowed: frozenset[str]) -> None:
        unknown = set(self.match) - allowed
        if unknown:
            raise InvalidFault(
                f"unknown match keys: {', '.join(sorted(unknown))} (this fake knows {', '.join(sorted(allowed))})"
            )

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, dict):
            raise InvalidFault("a fault is a JSON object")
        unknown = set(data) - RULE_FIELDS
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
            match=data.get("match") or {},
            after=data.get("after") or 0,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, facts: RequestFacts) -> bool:
        for key, expected in self.match.items():
            if key == "method":
                ok = facts.method.upper() == expected.upper()
            elif key == "path":
                ok = expected in facts.path
            elif key == "query":
                ok = expected in facts.query
            elif key == "headers":
                ok = all(facts.headers.get(name.lower()) == value for name, value in expected.items())
            elif key == "body":
                ok = json_subset(expected, facts.body)
            elif key == "metadata":
                ok = json_subset(expected, facts.extra(key) or {})
            elif key == "repository":
                ok = (facts.extra(key) or "").lower() == expected.lower()
            else:
                ok = facts.extra(key) == expected
            if not ok:
                return False
        return True


class FaultBook(Book[FaultRule]):
    """The active rules. `take` picks the oldest rule that applies to a request and counts it, atomically."""

    def take(self, operation: str, facts: Callable[[], RequestFacts]) -> FaultRule | None:
        """The rule to apply to this call of `operation`, if any. `facts` is called only when a rule could apply."""
        if not self._entries:  # the common case, without taking the lock
            return None
        with self._lock:
            candidates = [rule for rule in self._entries if rule.operation in (operation, ANY_OPERATION)]
        if not candidates:
            return None
        request = facts()
        matching = [rule for rule in candidates if rule.matches(request)]
        with self._lock:
            for rule in matching:
                if rule not in self._entries:  # cleared or used up meanwhile
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                rule.applied += 1
                if rule.times is not None and rule.applied >= rule.times:
                    self._entries.remove(rule)
                return rule
        return None
