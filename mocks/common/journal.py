"""The request journal: what a fake was asked, in order, so tests can assert on the calls made."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class JournalEntry:
    method: str
    path: str
    query: str
    status: int | None  # None when the connection was dropped on purpose (a "reset" fault)
    operation: str
    body: Any = None  # the parsed JSON body, when there was one
    fault: str | None = None  # the kind of fault injected into this request, if any
    at: float = 0.0  # time.time() when the request finished

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    """Append-only list of requests; shared by the uvicorn thread and the test's event loop, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[JournalEntry] = []

    def record(
        self,
        *,
        method: str,
        path: str,
        query: str,
        status: int | None,
        operation: str,
        body: Any = None,
        fault: str | None = None,
    ) -> JournalEntry:
        entry = JournalEntry(method, path, query, status, operation, body, fault, time.time())
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, operation: str | None = None) -> list[JournalEntry]:
        with self._lock:
            entries = list(self._entries)
        if operation is None:
            return entries
        return [entry for entry in entries if entry.operation == operation]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
