"""The load suite's stress scenario checked against a second client: both knees, side by side.

`python -m benchmarks.calibration` runs inside a stack (`make bench-calibration` starts it): wrk
steps its connections up to the platform's knee (benchmarks/board_reads.py), then Locust's stress
scenario steps its board users up to its knee, on the same requests of the same platform, then wrk
measures again. Locust's knee is compared with the mean of wrk's two: the platform's own knee moves
between runs by a few percent (its database grows, the machine is not perfectly still), and wrk's
two knees show by how much. When Locust's knee is within --tolerance of wrk's, the stress scenario
measures the platform; when it is lower, it measured itself. Prints one `calibration:` line with
the knees and their ratio and exits 1 when they are further apart than the tolerance.

On a small machine the generator and the platform must not share cores: every microsecond Locust
spends on a core the platform also uses is taken from the platform, so Locust's knee would be lower
than wrk's for a reason that is not the platform's. `make bench-calibration` pins the stack to some
cores and this command (both generators) to the others; wrk, at a tenth of Locust's CPU a request,
would otherwise win by its cheapness alone.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
from dataclasses import dataclass

from benchmarks import board_reads

KNEE = re.compile(r"stress: knee at ([0-9.]+) requests/s")
# The first figure of the summary's `Aggregated` line: every request of the run.
TOTAL = re.compile(r"^\s*Aggregated\s+(\d+)\s")


@dataclass
class LocustRun:
    knee: float | None  # requests/s, or None when no step met the objective
    requests: int
    cpu_s: float

    @property
    def cpu_us(self) -> float:
        """Locust's CPU a request, its start-up and the users' set-up included."""
        return 1e6 * self.cpu_s / max(1, self.requests)


def run_locust(command: list[str]) -> LocustRun:
    """Locust's stress run, its output passed through, and what it cost."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    knee, requests = None, 0
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if found := KNEE.search(line):
            knee = float(found.group(1))
        if (total := TOTAL.match(line)) and not requests:
            requests = int(total.group(1))
    process.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return LocustRun(knee, requests, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def cpus() -> str:
    """The cores this process may run on."""
    return ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calibration", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wrk-connections", default="2,4,8,16,32", help="wrk's steps (connections)")
    board_reads.add_step_options(parser)
    parser.add_argument("--tolerance", type=float, default=0.10, help="how far apart the knees may be (default 0.10)")
    parser.add_argument("locust", nargs=argparse.REMAINDER, help="-- then Locust's command line (the stress scenario)")
    args = parser.parse_args(argv)
    locust_command = args.locust[1:] if args.locust[:1] == ["--"] else args.locust
    if not locust_command:
        parser.error("give Locust's command line after --")
    print(f"calibration: the generators run on CPUs {cpus()}", flush=True)
    connections = [int(c) for c in args.wrk_connections.split(",")]
    before = board_reads.find_knee(connections, args.step_s, args.p95_ms, args.squads)
    locust = run_locust(locust_command)
    after = board_reads.find_knee(connections, args.step_s, args.p95_ms, args.squads)
    if before is None or after is None or locust.knee is None:
        print(
            f"calibration: a generator found no knee (wrk {before.rate if before else None} and "
            f"{after.rate if after else None}, Locust {locust.knee})",
            flush=True,
        )
        return 1
    wrk = (before.rate + after.rate) / 2
    ratio = locust.knee / wrk
    within = abs(1 - ratio) <= args.tolerance
    print(
        f"calibration: knees wrk {wrk:.1f} ({before.rate:.1f} before Locust, {after.rate:.1f} after: "
        f"{abs(after.rate - before.rate) / wrk:.0%} apart), Locust {locust.knee:.1f} requests/s: "
        f"Locust/wrk {ratio:.2f}, {'within' if within else 'NOT within'} {args.tolerance:.0%}; CPU a request: "
        f"Locust {locust.cpu_us:.0f} µs ({locust.requests} requests, start-up and set-up included), "
        f"wrk {(before.cpu_us + after.cpu_us) / 2:.0f} µs",
        flush=True,
    )
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
