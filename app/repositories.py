"""GitHub repository names, and the operator's list of the repositories squads may name.

A squad's repository ends up in GitHub API paths (`/repos/{owner}/{name}`), in the clone URL git is
given inside the sandbox and in the events: so only names GitHub itself accepts get in, checked
here with ASCII-only patterns (a Unicode look-alike of a letter is not a letter GitHub takes).
"""

import re
from dataclasses import dataclass

# GitHub's rules for a user or organisation login: 1-39 letters, digits and single hyphens, neither
# first nor last.
OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")
MAX_OWNER_LENGTH = 39
# A repository's name: 1-100 letters, digits, '.', '-' and '_'; "." and ".." are paths, not names.
NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
RESERVED_NAMES = frozenset({".", ".."})
ANY_NAME = "*"
# The two patterns as one, for the OpenAPI document (the lengths and reserved names are checked apart).
SHAPE = rf"^{OWNER.pattern}/{NAME.pattern}$"
MAX_LENGTH = MAX_OWNER_LENGTH + 1 + 100


def repository_problem(value: str) -> str | None:
    """Why `value` is not an `owner/name` GitHub could hold, or None when it is one."""
    owner, slash, name = value.partition("/")
    if not slash:
        return "a repository is named 'owner/name'"
    if len(owner) > MAX_OWNER_LENGTH or not OWNER.fullmatch(owner):
        return "the owner must be 1-39 letters, digits or single hyphens (ASCII), not starting or ending with a hyphen"
    if not NAME.fullmatch(name) or name in RESERVED_NAMES:
        return "the name must be 1-100 letters, digits, '.', '-' or '_' (ASCII), and not '.' or '..'"
    return None


@dataclass(frozen=True)
class AllowedRepositories:
    """ALLOWED_REPOSITORIES: `owner/name` entries, and `owner/*` for every repository of an owner.

    Empty allows nothing: a platform nobody configured lets no squad near any repository. GitHub's
    names are case-insensitive, so the comparison is too.
    """

    entries: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "AllowedRepositories":
        """Raises ValueError naming the first entry that is neither `owner/name` nor `owner/*`."""
        entries = []
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            owner, _, name = entry.partition("/")
            problem = repository_problem(f"{owner}/x" if name == ANY_NAME else entry)
            if problem:
                raise ValueError(f"ALLOWED_REPOSITORIES entry {entry!r} is neither owner/name nor owner/*: {problem}")
            entries.append(entry.lower())
        return cls(tuple(entries))

    def allows(self, repository: str) -> bool:
        owner, _, _ = repository.partition("/")
        wanted = repository.lower()
        return any(entry == wanted or entry == f"{owner.lower()}/{ANY_NAME}" for entry in self.entries)
