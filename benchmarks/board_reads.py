"""The board's reads measured by a client other than Locust: wrk, stepped up to the platform's knee.

`python -m tools.stack run -- python -m benchmarks.board_reads` (`make bench-calibration` runs it and
the load suite's stress scenario on one stack, and prints both knees). wrk (Debian's `wrk`, in C)
spends a few microseconds of CPU a request, so on a machine whose cores the platform and the
generator share, its knee is the platform's own; a generator's knee far below it is the generator's.

The requests are the stress scenario's: squads of their own, each with READ_ONLY_TASKS tasks; nine in
thirteen requests list a squad's tasks (`GET /api/v1/tasks`), four read one (`GET /api/v1/tasks/{id}`),
each with its squad's token, spread over the squads. Each step holds --connections (closed loop, no
pause) for --step-s seconds; a step passes when its p95 is within --p95-ms and no request failed.
The knee is the highest rate of a passing step. Prints one `wrk:` line a step, then the knee.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from fixtures.factories import repository_data, squad_data, task_data
from fixtures.targets import ADMIN_TOKEN_VARIABLE, FAKE_GITHUB, PLATFORM

# As the load suite's board users (load/api_user.py): their mix of reads, and their tasks each.
LIST_WEIGHT, READ_WEIGHT = 9, 4
READ_ONLY_TASKS = 5
# Requests in the script's rotation: enough to spread over every squad and task.
ROTATION = 2000

# wrk's script: rotates through the requests written beside it and prints its figures as one JSON
# line at the end (wrk's own summary has no p95); wrk counts answers other than 2xx and 3xx itself.
WRK_SCRIPT = """
local requests = {}
local index = 0
-- Formatted in init: wrk sets the Host header only then.
init = function(args)
  for line in io.lines("%(requests)s") do
    local path, token = line:match("^(%%S+) (%%S+)$")
    requests[#requests + 1] = wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
  end
  index = math.random(#requests)
end
request = function()
  index = index %% #requests + 1
  return requests[index]
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format('{"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p95_ms": %%f, "p99_ms": %%f, '
    .. '"failures": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@dataclass
class Step:
    connections: int
    rate: float
    p95_ms: float
    p99_ms: float
    failures: int
    # wrk's own CPU time per request, in microseconds: the second client's cost.
    cpu_us: float

    def passed(self, limit_ms: float) -> bool:
        return self.failures == 0 and self.p95_ms <= limit_ms and self.rate > 0


def seed(base_url: str, squads: int) -> list[tuple[str, list[str]]]:
    """`squads` squads of their own, each with READ_ONLY_TASKS tasks: (token, task ids) each."""
    admin = os.environ.get(ADMIN_TOKEN_VARIABLE, "")
    seeded = []
    with httpx.Client(timeout=30) as client:
        for _ in range(squads):
            repo = repository_data(name=f"wrk-{random.getrandbits(48):012x}")
            client.post(f"{FAKE_GITHUB.url()}/_fake/repos", json={**repo, "default_branch": "main"}).raise_for_status()
            created = client.post(
                f"{base_url}/api/v1/squads",
                json=squad_data(repository=f"{repo['owner']}/{repo['name']}"),
                headers={"Authorization": f"Bearer {admin}"},
            )
            created.raise_for_status()
            token = created.json()["token"]
            ids = []
            for _ in range(READ_ONLY_TASKS):
                task = client.post(
                    f"{base_url}/api/v1/tasks", json=task_data(), headers={"Authorization": f"Bearer {token}"}
                )
                task.raise_for_status()
                ids.append(task.json()["id"])
            seeded.append((token, ids))
    return seeded


def rotation(seeded: list[tuple[str, list[str]]]) -> list[str]:
    lines = []
    for _ in range(ROTATION):
        token, ids = random.choice(seeded)
        if random.randrange(LIST_WEIGHT + READ_WEIGHT) < LIST_WEIGHT:
            lines.append(f"/api/v1/tasks {token}")
        else:
            lines.append(f"/api/v1/tasks/{random.choice(ids)} {token}")
    return lines


def run_step(wrk: str, base_url: str, script: Path, connections: int, seconds: float) -> Step:
    threads = min(2, connections)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), base_url],
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return Step(
        connections,
        figures["requests"] / figures["seconds"],
        figures["p95_ms"],
        figures["p99_ms"],
        figures["failures"] + figures["socket_errors"],
        1e6 * cpu_s / max(1, figures["requests"]),
    )


def find_knee(connections: list[int], step_s: float, p95_ms: float, squads: int) -> Step | None:
    """wrk's steps against the platform, one `wrk:` line each, until one misses the objective: the
    passing step of the highest rate, or None when none passed (the reason printed)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is missing: apt-get install wrk (make bench-calibration installs it as root)", file=sys.stderr)
        return None
    base_url = PLATFORM.url()
    seeded = seed(base_url, squads)
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="wrk-") as folder:
        requests = Path(folder) / "requests.txt"
        requests.write_text("\n".join(rotation(seeded)) + "\n")
        script = Path(folder) / "board.lua"
        script.write_text(WRK_SCRIPT % {"requests": requests})
        for count in connections:
            step = run_step(wrk, base_url, script, count, step_s)
            steps.append(step)
            print(
                f"wrk: {count} connections: {step.rate:.1f} requests/s, p95 {step.p95_ms:.0f} ms, "
                f"p99 {step.p99_ms:.0f} ms, {step.failures} failures; wrk's CPU {step.cpu_us:.0f} µs a request",
                flush=True,
            )
            if not step.passed(p95_ms):
                break
    passed = [s for s in steps if s.passed(p95_ms)]
    if not passed:
        print(f"wrk: no step met p95 <= {p95_ms:g} ms without failures", flush=True)
        return None
    knee = max(passed, key=lambda s: s.rate)
    print(
        f"wrk: knee at {knee.rate:.1f} requests/s ({knee.connections} connections, p95 {knee.p95_ms:.0f} ms "
        f"<= {p95_ms:g} ms, no failure)",
        flush=True,
    )
    return knee


def add_step_options(parser: argparse.ArgumentParser) -> None:
    """The options of wrk's steps, shared with benchmarks/calibration.py."""
    parser.add_argument("--step-s", type=float, default=15, help="seconds a step lasts (default 15)")
    parser.add_argument("--p95-ms", type=float, default=50, help="the p95 a step must stay within (default 50)")
    parser.add_argument("--squads", type=int, default=50, help="squads read, each with its own token (default 50)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.board_reads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", default="2,4,8,16,32,64", help="the steps: wrk connections, comma-separated")
    add_step_options(parser)
    args = parser.parse_args(argv)
    connections = [int(c) for c in args.connections.split(",")]
    return 0 if find_knee(connections, args.step_s, args.p95_ms, args.squads) else 1


if __name__ == "__main__":
    raise SystemExit(main())
