"""CI gates on what `make test` gates on: read from the Makefile and from ci.yml, side by side.

`make test` is what a developer (and .ci/run) runs; ci.yml splits the same checks into jobs. A gate
added to one and not the other fails here: every target `make test` runs has its CI counterpart, the
coverage floor is one number (COVERAGE_FLOOR) held over the whole backend suite on both databases,
every upload of reports/ is scanned for secrets first, the pull-request tier has a test of each
capability, and the Python matrix spans requires-python's floor and the newest Python supported.
"""

import re
import subprocess
import sys
import tomllib
from typing import Any

import pytest

from environment_tests.environment_files import MAKE_RULE, REPO_ROOT, fill_matrix, matrix_rows
from environment_tests.test_ci_workflow import TIER_MARKERS, _make_calls, _runs_on

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

# Each gate of `make test` -> the CI targets that hold it. The backend suite runs in CI as shards
# (test-backend-tier), its contract tests in a job of their own (test-contracts).
CI_COUNTERPARTS = {
    "test-backend": {"test-backend-tier", "test-contracts"},
    "test-backend-postgres": {"test-backend-postgres-tier"},
    "test-frontend": {"test-frontend-tier"},
    "test-load": {"test-load"},
    "test-environment": {"test-environment"},
    "test-security": {"test-security"},
    "test-security-postgres": {"test-security-postgres"},
    "lint": {"lint"},
    "typecheck": {"typecheck"},
    "secrets-scan": {"secrets-scan"},
    "lint-js": {"lint-js"},
}
# Gates CI adds, each with why `make test` does not run it.
CI_ONLY = {
    "coverage-combine": "make test measures coverage in one place (test-backend-postgres); CI combines its jobs' data",
    "test-floors": "installs every dependency at its floor in a venv of its own: minutes of installing",
    "audit": "asks PyPI's advisory data over the internet; make test runs offline",
    "lighthouse": "an npm install of Lighthouse and several Chromium audits: minutes make test's budget has not",
}
# Targets `make test` runs that set things up rather than check anything.
NOT_GATES = {"setup", "system-packages", "suites"}
# A test of each capability of the platform, by the words of its node id.
CAPABILITIES = {
    "migrations": re.compile(r"^backend_tests/migrations/"),
    "worker takeover": re.compile(r"taken_over"),
    "health": re.compile(r"test_health"),
}


def _rules() -> dict[str, tuple[list[str], str]]:
    """target -> (prerequisites, recipe) of the Makefile and make/*.mk."""
    rules = {}
    for path in [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / "make").glob("*.mk"))]:
        text = path.read_text()
        for found in MAKE_RULE.finditer(text):
            line_end = text.index("\n", found.end())
            prerequisites = text[found.end() : line_end].split("##")[0].split()
            if "=" in prerequisites:  # a target-specific variable (`test: NAME = value`), not a rule
                continue
            recipe = re.match(r"(?:\t[^\n]*\n?)*", text[line_end + 1 :]).group(0)
            for target in found.group(1).split():
                rules[target] = (prerequisites, recipe)
    return rules


def make_test_gates() -> set[str]:
    """Every target `make test` ends up running: its prerequisites and the `$(MAKE) target` calls of
    their recipes, followed down."""
    rules = _rules()
    seen: set[str] = set()
    pending = ["test"]
    while pending:
        target = pending.pop()
        prerequisites, recipe = rules.get(target, ([], ""))
        called = re.findall(r"\$\(MAKE\)(?:\s+-[-\w]+)*\s+([a-z][\w-]*)", recipe)
        for name in prerequisites + called:
            if name in rules and name not in seen:
                seen.add(name)
                pending.append(name)
    return seen - NOT_GATES


def ci_targets(workflow: dict[str, Any], event: str) -> dict[str, list[list[str]]]:
    """Target -> the make calls (with their VAR=value) CI runs for `event`."""
    calls: dict[str, list[list[str]]] = {}
    for job in workflow["jobs"].values():
        if not _runs_on(job, event):
            continue
        for call in _make_calls(job):
            for word in call:
                if not word.startswith("-") and "=" not in word:
                    calls.setdefault(word, []).append(call)
    return calls


def make_dry_run(*arguments: str) -> str:
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"make -n {' '.join(arguments)}: {result.stderr}"
    return result.stdout.replace("\\\n", " ")


def test_the_scan_of_make_test_finds_its_gates():
    gates = make_test_gates()
    assert {"test-backend", "test-backend-postgres", "lint", "secrets-scan"} <= gates, f"found only {sorted(gates)}"


@pytest.mark.parametrize("event", ["pull_request", "push"])
def test_every_gate_of_make_test_is_a_gate_of_ci(workflow, event):
    gates = make_test_gates()
    unmapped = gates - set(CI_COUNTERPARTS)
    assert not unmapped, f"make test runs {sorted(unmapped)}: give each its CI job and add it to CI_COUNTERPARTS"
    in_ci = set(ci_targets(workflow, event))
    missing = {gate: sorted(CI_COUNTERPARTS[gate] - in_ci) for gate in gates if CI_COUNTERPARTS[gate] - in_ci}
    assert not missing, f"on {event}, CI does not run these counterparts of make test's gates: {missing}"


def test_every_gate_of_ci_is_one_of_make_test_or_said_why_not(workflow):
    counterparts = set().union(*CI_COUNTERPARTS.values())
    extra = set(ci_targets(workflow, "pull_request")) - counterparts - set(CI_ONLY)
    assert not extra, f"CI gates on {sorted(extra)}, which make test does not: add them to make test or CI_ONLY"


def test_ci_holds_the_coverage_floor_of_make_test(workflow):
    floor = re.search(r"--cov-fail-under=(\d+)", make_dry_run("test-backend-postgres"))
    assert floor, "make test-backend-postgres has no coverage floor"
    [call] = ci_targets(workflow, "pull_request")["coverage-combine"]
    ci_floor = re.search(r"--fail-under=(\d+)", make_dry_run(*call))
    assert ci_floor and ci_floor.group(1) == floor.group(1), (
        f"make test's floor is {floor.group(1)}%, CI's coverage job holds {ci_floor and ci_floor.group(1)}%"
    )


def test_ci_measures_the_whole_backend_suite_on_both_databases_before_the_floor(workflow):
    """make test's floor is over every backend test on SQLite and PostgreSQL, so CI's is too."""
    jobs = workflow["jobs"]
    [coverage_job] = [job_id for job_id, job in jobs.items() if "coverage-combine" in str(job.get("steps"))]
    needed = set(jobs[coverage_job].get("needs", []))
    for target in ("test-backend-tier", "test-backend-postgres-tier"):
        runners = {job_id for job_id, job in jobs.items() for call in _make_calls(job) if target in call}
        assert runners and runners <= needed, f"the coverage job needs {sorted(needed)}, {target} runs in {runners}"
        for job_id in runners:
            for call in (call for call in _make_calls(jobs[job_id]) if target in call):
                selected = re.search(r'-m "\((.*?)\) and not contract"', make_dry_run("TIER=pr", *call))
                assert selected, f"no marker expression in make -n {call}"
                markers = set(re.findall(r"priority_p\d", selected.group(1)))
                assert markers == TIER_MARKERS["nightly"], (
                    f"{job_id} runs {call} on a pull request, selecting {markers}: the coverage floor needs every test"
                )
                assert "--cov=app" in make_dry_run(*call), f"{job_id}: {call} measures no coverage"


def test_every_upload_of_reports_comes_after_a_secrets_scan_it_depends_on(workflow):
    unscanned = []
    for job_id, job in workflow["jobs"].items():
        steps = job.get("steps", [])
        for index, step in enumerate(steps):
            if not step.get("uses", "").startswith("actions/upload-artifact@"):
                continue
            if "reports" not in str(step.get("with", {}).get("path", "")):
                continue
            scans = [
                earlier
                for earlier in steps[:index]
                if re.search(r"\bmake\b.*\bsecrets-scan\b", earlier.get("run", ""))
                and "always()" in str(earlier.get("if", ""))
            ]
            condition = str(step.get("if", ""))
            if not scans or not any(f"steps.{scan.get('id')}.outcome == 'success'" in condition for scan in scans):
                unscanned.append(job_id)
    assert not unscanned, f"jobs that upload reports/ without a secrets scan that must pass first: {unscanned}"


def test_the_pull_request_tier_has_a_test_of_each_capability():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "backend_tests",
            "--collect-only",
            "-q",
            "-m",
            "priority_p0",
            "-p",
            "no:randomly",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    node_ids = [line for line in result.stdout.splitlines() if "::" in line]
    missing = [name for name, pattern in CAPABILITIES.items() if not any(pattern.search(n) for n in node_ids)]
    assert not missing, f"the pull-request tier (priority_p0) has no test of: {missing}"


def _python_versions(workflow: dict[str, Any]) -> set[str]:
    versions = set()
    for job in workflow["jobs"].values():
        image = (job.get("container") or {}).get("image", "") if isinstance(job.get("container"), dict) else ""
        for row in matrix_rows(job):
            found = re.fullmatch(r"python:(\d+\.\d+)-\w+", fill_matrix(image, row))
            if found:
                versions.add(found.group(1))
    return versions


def test_ci_runs_the_oldest_and_the_newest_python_the_project_supports(workflow):
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    oldest = re.fullmatch(r">=(\d+\.\d+)", project["requires-python"])
    assert oldest, f"requires-python is {project['requires-python']!r}: expected `>=3.X`"
    classified = sorted(
        (re.fullmatch(r"Programming Language :: Python :: (\d+\.\d+)", c) for c in project["classifiers"]),
        key=lambda found: tuple(int(part) for part in found.group(1).split(".")) if found else (0,),
    )
    supported = [found.group(1) for found in classified if found]
    assert supported and supported[0] == oldest.group(1), f"classifiers {supported} start below/above {oldest.group(1)}"
    in_ci = _python_versions(workflow)
    assert {supported[0], supported[-1]} <= in_ci, f"CI runs Python {sorted(in_ci)}; supported: {supported}"
    assert in_ci <= set(supported), f"CI runs Python {sorted(in_ci - set(supported))}, which the classifiers omit"
