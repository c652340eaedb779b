"""The mutation score of the last `mutmut run`: killed / total, and the gate `make mutation` applies.

Reads mutmut's per-file results (mutants/<file>.meta: each mutant's exit code) for the files
[tool.mutmut] only_mutate names, so the figures cover exactly the configured scope. A mutant counts as
killed when its tests failed or it hung past mutmut's time limit (a timeout: the tests stopped it);
survivors, mutants no test reaches and mutants never checked count against the score. Prints the
figures and every mutant not killed; exits 1 under the threshold or when some mutant was not checked.
"""

import argparse
import fnmatch
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

# mutmut 3's exit codes (mutmut/stats.py: status_by_exit_code); anything else is "suspicious".
STATUS_BY_EXIT_CODE = {
    1: "killed",
    3: "killed",  # pytest's internal error: a kill
    0: "survived",
    5: "no tests",
    33: "no tests",
    2: "interrupted",
    None: "not checked",
    34: "skipped",
    36: "timeout",
    24: "timeout",  # SIGXCPU: past mutmut's CPU time limit
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "caught by type check",
    -11: "segfault",
    -9: "segfault",
}
DETECTED = {"killed", "timeout", "caught by type check"}


def scope_patterns(pyproject: Path) -> list[str]:
    config = tomllib.loads(pyproject.read_text())["tool"]["mutmut"]
    return config.get("only_mutate") or [f"{path.rstrip('/')}/*" for path in config["source_paths"]]


def mutant_statuses(mutants_dir: Path, patterns: list[str]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        source = meta.relative_to(mutants_dir).as_posix().removesuffix(".meta")
        if not any(fnmatch.fnmatch(source, pattern) for pattern in patterns):
            continue
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            statuses[name] = STATUS_BY_EXIT_CODE.get(code, "suspicious")
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-score", type=float, default=85.0, help="percent of mutants that must be killed")
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    args = parser.parse_args()

    statuses = mutant_statuses(args.mutants, scope_patterns(args.pyproject))
    if not statuses:
        print(f"no mutmut results under {args.mutants}/: run `mutmut run` first")
        return 1
    counts = Counter(statuses.values())
    total = len(statuses)
    killed = sum(counts[status] for status in DETECTED)
    score = 100.0 * killed / total

    print("mutants by status: " + ", ".join(f"{status} {n}" for status, n in counts.most_common()))
    for status in ("survived", "no tests", "suspicious", "segfault", "interrupted", "not checked"):
        for name in sorted(n for n, s in statuses.items() if s == status):
            print(f"  {status}: {name}")
    print(f"mutation score: {killed} killed / {total} mutants = {score:.1f}% (gate: {args.min_score:g}%)")

    if counts["not checked"]:
        print(f"FAIL: {counts['not checked']} mutants were not checked; the run did not finish")
        return 1
    if score < args.min_score:
        print(f"FAIL: mutation score {score:.1f}% is under {args.min_score:g}%")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
