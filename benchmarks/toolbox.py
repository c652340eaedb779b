"""The toolbox's own speed: `make suites` warm, the browser suite and the backend suite with `-n 2`,
each with its wall time, its CPU and its test counts; with `--base COMMIT`, the same for that commit,
side by side.

`make bench-toolbox` runs it; `make bench-toolbox BENCH_BASE=HEAD~1` compares with the commit before.
The base is checked out in a temporary git worktree and measured on this checkout's virtualenv, in
turns with this checkout (base, this, base, this... for --runs rounds), so both meet the same
machine and the same load. The worktree gets this checkout's official API descriptions
(AGENT_SQUAD_SPECS), so its contract tests run rather than skip for want of them.

The CPU of a measurement is what its processes used, those they waited for included (the suites'
stacks, browsers and git); the load average at each start says how quiet the machine was.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from backend_tests.contracts.specs.regenerate import SPECS_VARIABLE, official_descriptions

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".installed-stamp"  # the virtualenv's mark of a finished `make setup` (Makefile STAMP)
SETUP_INPUTS = ("pyproject.toml", "requirements/constraints.txt")  # what the Makefile's STAMP depends on


@dataclass(frozen=True)
class Measured:
    """One measurement: what ran, where, and what it took."""

    name: str
    tree: str
    wall_s: float
    cpu_s: float
    load: str
    counts: str
    status: int


@dataclass(frozen=True)
class Suite:
    """A command the toolbox is timed by, and the JUnit reports its test counts come from."""

    name: str
    argv: tuple[str, ...]
    reports: tuple[str, ...]  # JUnit files, relative to the tree (or absolute)


def suites(venv: Path, scratch: Path) -> list[Suite]:
    python = str(venv / "bin" / "python")
    pytest = (python, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    backend_xml, browser_xml = str(scratch / "backend.xml"), str(scratch / "browser.xml")
    return [
        Suite(
            "make suites",
            ("make", "--no-print-directory", f"VENV={venv}", "suites"),
            ("reports/junit/backend.xml", "reports/junit/frontend.xml"),
        ),
        Suite(
            "browser suite, -n 2", (*pytest, "frontend_tests", "-n", "2", f"--junitxml={browser_xml}"), (browser_xml,)
        ),
        Suite(
            "backend suite, -n 2", (*pytest, "backend_tests", "-n", "2", f"--junitxml={backend_xml}"), (backend_xml,)
        ),
    ]


def junit_counts(paths: list[Path]) -> str:
    """'P passed, F failed, S skipped' over the JUnit files that exist; '-' when none does."""
    passed = failed = skipped = 0
    found = False
    for path in paths:
        if not path.exists():
            continue
        found = True
        for suite in ElementTree.parse(path).getroot().iter("testsuite"):
            tests, failures, errors, skips = (
                int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")
            )
            failed += failures + errors
            skipped += skips
            passed += tests - failures - errors - skips
    return f"{passed:,} passed, {failed} failed, {skipped} skipped" if found else "-"


def measure(suite: Suite, tree: Path, label: str, environment: dict[str, str], log: Path) -> Measured:
    """Run `suite` in `tree`, its output into `log` (the progress lines would interleave with the table)."""
    for report in suite.reports:
        (tree / report).unlink(missing_ok=True)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"== {suite.name} on {label} (load average {load}; output in {log})", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("w") as output:
        status = subprocess.call(suite.argv, cwd=tree, env=environment, stdout=output, stderr=subprocess.STDOUT)
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counts = junit_counts([tree / report for report in suite.reports])
    print(f"   {wall_s:.1f} s, {cpu_s:.0f} s of CPU, {counts}, exit {status}", flush=True)
    return Measured(suite.name, label, wall_s, cpu_s, load, counts, status)


@contextmanager
def base_tree(commit: str | None, venv: Path) -> Iterator[Path | None]:
    """`commit` checked out in a temporary worktree of this repository, removed afterwards; None
    when no base was asked for.

    The worktree's files are newer than `venv`'s set-up stamp, so its make would install its own
    packages into the shared virtualenv (and point the editable install at the worktree). The files
    the stamp depends on are given an older time instead: `make -o STAMP` would not do, as make does
    not pass -o on to the sub-makes that `make suites` runs."""
    if not commit:
        yield None
        return
    place = Path(tempfile.mkdtemp(prefix="bench-toolbox-"))
    try:
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(place), commit], cwd=ROOT, check=True)
        set_up_at = (venv / STAMP).stat().st_mtime
        for name in SETUP_INPUTS:
            if (place / name).exists():
                os.utime(place / name, (set_up_at - 1, set_up_at - 1))
        yield place
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(place)], cwd=ROOT, capture_output=True, check=False)
        shutil.rmtree(place, ignore_errors=True)


def is_a_commit(name: str) -> bool:
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], cwd=ROOT, capture_output=True
    )
    return found.returncode == 0


def table(results: list[Measured]) -> str:
    cores = os.cpu_count() or 1
    lines = [
        f"| measured | tree | wall | CPU | of {cores} cores | tests | load average at the start |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        share = result.cpu_s / result.wall_s / cores if result.wall_s else 0.0
        status = "" if result.status == 0 else f" (exit {result.status})"
        lines.append(
            f"| {result.name} | {result.tree} | {result.wall_s:.1f} s{status} | {result.cpu_s:.0f} s | {share:.0%} "
            f"| {result.counts} | {result.load} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.toolbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="a commit to measure side by side with this checkout (in a worktree)")
    parser.add_argument("--runs", type=int, default=1, help="rounds of every measurement (default 1)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="the virtualenv both trees run on")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs is {args.runs}: give 1 or more")
    venv = args.venv.resolve()
    if not (venv / STAMP).exists():
        print(f"{venv} is not set up: run `make setup` first", file=sys.stderr)
        return 2
    if args.base and not is_a_commit(args.base):
        print(
            f"{args.base!r} is not a commit of this repository (BENCH_BASE): give a hash, a tag or HEAD~1",
            file=sys.stderr,
        )
        return 2
    environment = dict(os.environ)
    specs = official_descriptions()
    if specs.is_dir():
        # As this checkout finds them: a base's worktree elsewhere would not find them beside itself.
        environment[SPECS_VARIABLE] = str(specs.resolve())
    described = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    head = described.stdout.strip() or "HEAD"
    print(f"machine: {os.cpu_count()} CPUs; this checkout at {head}, with what is not committed", flush=True)
    logs = ROOT / "reports" / "bench-toolbox"
    logs.mkdir(parents=True, exist_ok=True)
    results: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="bench-toolbox-reports-") as scratch, base_tree(args.base, venv) as base:
        trees = ([(base, f"`{args.base}`", "base")] if base else []) + [(ROOT, f"`{head}` (this checkout)", "this")]
        for round_number in range(1, args.runs + 1):
            for suite in suites(venv, Path(scratch)):
                for tree, label, short in trees:
                    log = logs / f"{round_number}-{suite.name.split(',')[0].replace(' ', '-')}-{short}.log"
                    results.append(measure(suite, tree, label, environment, log))
    print()
    print(table(results))
    return 1 if any(result.status for result in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
