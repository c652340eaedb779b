"""The squads one process has already authenticated, by their token's hash (app/auth.py)."""

from collections import OrderedDict

from app.models import Squad


class KnownSquads:
    """The squads this process has already found by their token's hash, most recently used last.

    A squad's token never changes and squads are never deleted, so a remembered squad is exactly
    what the query would find again: every board read would otherwise spend a query (on SQLite, a
    hop to the driver's thread and back) on it. Only squads found are remembered, never a miss,
    and at most `size` of them. The instances are detached from the session that loaded them, with
    every column loaded: the API reads them and never writes them.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._by_hash: OrderedDict[str, Squad] = OrderedDict()

    def get(self, token_hash: str) -> Squad | None:
        squad = self._by_hash.get(token_hash)
        if squad is not None:
            self._by_hash.move_to_end(token_hash)
        return squad

    def remember(self, squad: Squad) -> None:
        self._by_hash[squad.token_hash] = squad
        self._by_hash.move_to_end(squad.token_hash)
        while len(self._by_hash) > self.size:
            self._by_hash.popitem(last=False)
