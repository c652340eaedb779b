"""Pull request reviews, review comments and the pull request's conversation (its issue comments), and
where a review comment sits in the pull request's diff.

Plain Python (the state holds these objects; representations.py shows them). A review comment is
anchored as GitHub anchors it: to a line of the file's diff (RIGHT: the head's side, LEFT: the base's),
its `position` counted from the line below the file's first hunk header (every later hunk header counts
as a line), its `diff_hunk` the hunk up to that line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

# A review's state as the REST API shows it, by the `event` that submitted it (no event: still pending).
REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED", None: "PENDING"}
HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass
class Review:
    id: int
    user_login: str
    body: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED or PENDING
    commit_id: str
    submitted_at: datetime | None  # None while pending


@dataclass(frozen=True)
class Anchor:
    """Where a review comment sits: its line(s) and side(s), and its place in the file's diff."""

    line: int | None
    side: str
    start_line: int | None
    start_side: str | None
    position: int | None
    diff_hunk: str
    subject_type: str = "line"  # "file": the comment is on the file, not on a line


@dataclass
class ReviewComment:
    id: int
    review_id: int
    user_login: str
    body: str
    path: str
    commit_id: str
    anchor: Anchor
    created_at: datetime
    updated_at: datetime
    in_reply_to_id: int | None = None


@dataclass
class IssueComment:
    """A comment in the pull request's conversation (GitHub keeps it on the pull request's issue)."""

    id: int
    user_login: str
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DiffLine:
    position: int
    kind: str  # " " context, "+" added, "-" removed
    old_line: int | None
    new_line: int | None
    hunk_start: int  # index in the file's diff lines of its hunk's header


class FileDiff:
    """The diff of one file of a pull request, as `git diff -U3` wrote it."""

    def __init__(self, text: str) -> None:
        self.lines: list[str] = []
        self.entries: list[DiffLine] = []
        lines = text.splitlines()
        start = next((index for index, line in enumerate(lines) if line.startswith("@@")), len(lines))
        self.lines = lines[start:]
        old = new = 0
        hunk_start = 0
        for index, line in enumerate(self.lines):
            header = HUNK_HEADER.match(line)
            if header:
                old, new, hunk_start = int(header.group(1)), int(header.group(2)), index
                continue
            kind = line[:1] or " "
            if kind == "\\":  # "\ No newline at end of file" belongs to the line above
                continue
            self.entries.append(
                DiffLine(
                    position=index,  # the first hunk header is line 0, so the line below it is position 1
                    kind=kind,
                    old_line=old if kind in " -" else None,
                    new_line=new if kind in " +" else None,
                    hunk_start=hunk_start,
                )
            )
            if kind in " -":
                old += 1
            if kind in " +":
                new += 1

    @property
    def empty(self) -> bool:
        return not self.lines

    def find(self, line: int, side: str) -> DiffLine | None:
        """The diff line showing `line` of the head's file (side RIGHT) or of the base's (LEFT)."""
        for entry in self.entries:
            if side == "RIGHT" and entry.new_line == line:
                return entry
            if side == "LEFT" and entry.old_line == line and entry.kind != "+":
                return entry
        return None

    def hunk_up_to(self, entry: DiffLine) -> str:
        return "\n".join(self.lines[entry.hunk_start : entry.position + 1])

    def first_hunk(self) -> str:
        return self.lines[0] if self.lines else ""


def anchor(
    diff: FileDiff,
    *,
    line: int | None,
    side: str,
    start_line: int | None = None,
    start_side: str | None = None,
    subject_type: str = "line",
) -> Anchor | None:
    """Where a comment on `line` (and from `start_line`) of the file sits in `diff`; None when a line is
    not part of the diff (GitHub cannot resolve it) or the file is not changed at all."""
    if diff.empty:
        return None
    if subject_type == "file":
        return Anchor(None, side, None, None, None, diff.first_hunk(), "file")
    if line is None:
        return None
    end = diff.find(line, side)
    if end is None:
        return None
    if start_line is not None:
        first_side = start_side or side
        if diff.find(start_line, first_side) is None or start_line > line:
            return None
        return Anchor(line, side, start_line, first_side, end.position, diff.hunk_up_to(end))
    return Anchor(line, side, None, None, end.position, diff.hunk_up_to(end))
