"""What the assignments of a run add up to: how many were in flight at once, how many agents worked
at once, how many events each delivered, and how many pull requests the fake GitHub holds for them.

The assignment users publish one record per assignment (load/assignment_user.py, kind
"assignments"); the scenarios' reports read them here, on the master or the only process.
"""

import os
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fixtures.credentials import CANARY_GITHUB_TOKEN
from fixtures.platform_client import FakeGitHubAdmin
from fixtures.targets import FAKE_GITHUB

Record = dict[str, Any]


def peak_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals (start, end) open at one moment; one ending as another starts do not overlap."""
    moments = sorted((moment, step) for start, end in intervals for moment, step in ((start, 1), (end, -1)))
    peak = running = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    return peak


@dataclass(frozen=True)
class AssignmentFigures:
    assignments: int
    in_flight_peak: int  # assigned and not yet ended, at once
    agents_peak: int  # agents between their first event and their end, at once
    agent_seconds_p50: float  # from an agent's first event to its end
    events_per_task_p50: float
    deltas: int  # agent.message deltas delivered, all tasks together
    agent_events: int

    def line(self) -> str:
        return (
            f"{self.assignments} assignments, {self.in_flight_peak} in flight at once, {self.agents_peak} agents "
            f"working at once; agent loop p50 {self.agent_seconds_p50:.1f} s; {self.agent_events} agent events "
            f"delivered ({self.deltas} message deltas), {self.events_per_task_p50:.0f} events a task at the median"
        )


def figures(records: Sequence[Record]) -> AssignmentFigures | None:
    if not records:
        return None
    in_flight = [(r["assigned_at"], r["ended_at"]) for r in records if r["assigned_at"] and r["ended_at"]]
    agents = [
        (r["agent_started_at"], r["agent_ended_at"])
        for r in records
        if r["agent_started_at"] is not None and r["agent_ended_at"] is not None
    ]
    return AssignmentFigures(
        assignments=len(records),
        in_flight_peak=peak_overlap(in_flight),
        agents_peak=peak_overlap(agents),
        agent_seconds_p50=statistics.median([end - start for start, end in agents]) if agents else 0.0,
        events_per_task_p50=statistics.median(sum(r["events"].values()) for r in records),
        deltas=sum(r["deltas"] for r in records),
        agent_events=sum(n for r in records for kind, n in r["events"].items() if kind.startswith("agent.")),
    )


@dataclass(frozen=True)
class PullRequestCount:
    wanted: int  # assignments asked for
    found: int  # pull requests in the repositories of the assignments
    lost: int  # assignments with no pull request (never assigned, failed, or none opened)
    duplicates: int  # pull requests beyond one per assignment

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicates == 0


def tally(found: dict[str, int], assigned: Counter[str], wanted: int) -> PullRequestCount:
    """`found` pull requests per repository, for `assigned` assignments per repository, of `wanted`."""
    with_one = sum(min(found.get(repo, 0), count) for repo, count in assigned.items())
    duplicates = sum(max(found.get(repo, 0) - count, 0) for repo, count in assigned.items())
    return PullRequestCount(wanted=wanted, found=sum(found.values()), lost=wanted - with_one, duplicates=duplicates)


def count_pull_requests(records: Sequence[Record], wanted: int) -> PullRequestCount:
    """Ask the fake GitHub, through its REST API as any client would, how many pull requests each
    assignment's repository holds (open or closed): one each, or some were lost or doubled."""
    token = os.environ.get("GITHUB_TOKEN") or CANARY_GITHUB_TOKEN
    assigned = Counter(r["repository"] for r in records)
    github = FakeGitHubAdmin(FAKE_GITHUB.url())
    try:
        found = {}
        for repository in assigned:
            owner, name = repository.split("/", 1)
            found[repository] = len(github.pulls(owner, name, token, state="all"))
    finally:
        github.close()
    return tally(found, assigned, wanted)
