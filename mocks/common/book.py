"""A book of numbered entries, oldest first: a fake's fault rules, scripted commands or scripts.

The test (or the admin API) adds to it while the server's thread reads it, hence the lock; the
books themselves (`FaultBook`, `CommandScripts`, `ScriptBook`) add how an entry is picked.
"""

from __future__ import annotations

import itertools
import threading
from typing import Generic, Protocol, TypeVar


class Numbered(Protocol):
    id: int


EntryT = TypeVar("EntryT", bound=Numbered)


class Book(Generic[EntryT]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[EntryT] = []
        self._ids = itertools.count(1)

    def add(self, entry: EntryT) -> EntryT:
        """Numbers the entry (its `id`, from 1) and keeps it, after the others."""
        with self._lock:
            entry.id = next(self._ids)
            self._entries.append(entry)
        return entry

    def entries(self) -> list[EntryT]:
        with self._lock:
            return list(self._entries)

    def remove(self, entry_id: int) -> bool:
        with self._lock:
            for entry in self._entries:
                if entry.id == entry_id:
                    self._entries.remove(entry)
                    return True
        return False

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
