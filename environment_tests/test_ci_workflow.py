""".github/workflows/: valid workflows whose jobs run Makefile targets that exist, in the tiers the
docs/running.md promises (pull request p0, push to main p0+p1, nightly everything), keeping their reports,
and publishing their JUnit XML."""

import fnmatch
import re
import shlex
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest

from environment_tests.environment_files import (
    PUBLISHER_FILE,
    REPO_ROOT,
    fill_matrix,
    matrix_rows,
    workflow_files,
)

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

# `make` as a command: at the start of a line or after ;, &&, || or |.
MAKE_CALL = re.compile(r"(?:^|[;&|]\s*)make\s+([^;&|#\n]*)", re.MULTILINE)
# What every pull request checks: lint, types, backend on SQLite and PostgreSQL, contracts,
# frontend flows, load smoke.
PULL_REQUEST_TARGETS = {
    "lint",
    "typecheck",
    "test-backend-tier",
    "test-backend-postgres-tier",
    "test-contracts",
    "test-frontend-tier",
    "test-load",
}
TIERS = {"pull_request": "pr", "push": "merge", "schedule": "nightly"}
TIER_MARKERS = {
    "pr": {"priority_p0"},
    "merge": {"priority_p0", "priority_p1"},
    "nightly": {"priority_p0", "priority_p1", "priority_p2"},
}


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def _make_calls(job: dict[str, Any]) -> list[list[str]]:
    """The arguments of every `make` the job runs (targets and VAR=value), with matrix values filled in."""
    return [
        shlex.split(fill_matrix(arguments, row))
        for step in job.get("steps", [])
        for arguments in MAKE_CALL.findall(step.get("run", ""))
        for row in matrix_rows(job)
    ]


def _make_targets_run_by(job: dict[str, Any]) -> list[str]:
    return [word for call in _make_calls(job) for word in call if not word.startswith("-") and "=" not in word]


def _runs_on(job: dict[str, Any], event: str) -> bool:
    """Whether a job runs for `event`: a condition that names no event (`!cancelled()`) runs on all."""
    condition = str(job.get("if", ""))
    return "event_name" not in condition or f"'{event}'" in condition


def _tier_for(workflow: dict[str, Any], event: str) -> str:
    """Evaluate the workflow's TIER expression, `event == 'a' && 'x' || event == 'b' && 'y' || 'z'`, for one event."""
    expression = str(workflow["env"]["TIER"]).strip().removeprefix("${{").removesuffix("}}")
    *branches, default = [part.strip() for part in expression.split("||")]
    for branch in branches:
        found = re.fullmatch(r"github\.event_name == '(\w+)' && '(\w+)'", branch)
        assert found, f"unexpected TIER branch {branch!r}"
        if found.group(1) == event:
            return found.group(2)
    return default.strip("'")


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_workflow_matches_the_github_workflow_schema(path, check_against_builtin_schema):
    check_against_builtin_schema(path, "vendor.github-workflows")


def test_every_make_target_the_workflows_run_exists(workflows, make_targets):
    called = {
        target: name
        for name, workflow in workflows.items()
        for job in workflow["jobs"].values()
        for target in _make_targets_run_by(job)
    }
    assert called, "the workflows run no make target at all"
    missing = {target: name for target, name in called.items() if target not in make_targets}
    assert not missing, f"targets no Makefile defines (target: workflow): {missing}"


@pytest.mark.parametrize("tier", sorted(TIER_MARKERS))
def test_every_make_call_of_the_workflow_expands_in_every_tier(workflow, repo_root, tier):
    calls = {tuple(call) for job in workflow["jobs"].values() for call in _make_calls(job)}
    failing = {}
    for call in sorted(calls):
        result = subprocess.run(
            ["make", "-n", *call, f"TIER={tier}"], cwd=repo_root, capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            failing[" ".join(call)] = result.stderr.strip()
    assert not failing, f"`make -n ... TIER={tier}` fails for: {failing}"


def test_workflow_runs_on_pull_requests_pushes_to_main_and_nightly(workflow):
    triggers = workflow["on"]
    assert "pull_request" in triggers, f"triggers: {triggers}"
    assert "main" in triggers.get("push", {}).get("branches", []), f"push triggers: {triggers.get('push')}"
    assert triggers.get("schedule"), "no nightly schedule"


@pytest.mark.parametrize("event", sorted(TIERS))
def test_each_event_runs_its_tier(workflow, repo_root, event):
    tier = _tier_for(workflow, event)
    assert tier == TIERS[event], f"{event} runs TIER={tier}, expected {TIERS[event]}"
    result = subprocess.run(
        ["make", "-n", "test-backend-tier", f"TIER={tier}"], cwd=repo_root, capture_output=True, text=True, timeout=60
    )
    found = re.search(r'-m "\((.*?)\) and not contract"', result.stdout)
    assert found, f"no marker expression in {result.stdout!r}"
    markers = set(re.findall(r"priority_p\d", found.group(1)))
    assert markers == TIER_MARKERS[tier], f"TIER={tier} selects {markers}, expected {TIER_MARKERS[tier]}"


def test_pull_requests_run_lint_types_backend_contracts_frontend_and_load(workflow):
    on_pull_requests = {
        target
        for job in workflow["jobs"].values()
        if _runs_on(job, "pull_request")
        for target in _make_targets_run_by(job)
    }
    missing = PULL_REQUEST_TARGETS - on_pull_requests
    assert not missing, f"pull requests do not run: {sorted(missing)}"


def _load_options(call: list[str]) -> list[str]:
    """The Locust options a `make test-load LOAD_ARGS="..."` call passes."""
    return [word for arg in call if arg.startswith("LOAD_ARGS=") for word in shlex.split(arg.split("=", 1)[1])]


def _scenario_options() -> dict[str, str]:
    """The options load/scenarios.py declares (`--soak-minutes` ...) with the `choices` of --scenario."""
    source = (REPO_ROOT / "load" / "scenarios.py").read_text()
    declared = set(re.findall(r'add_argument\(\s*"(--[a-z0-9-]+)"', source))
    scenarios = re.search(r"^SCENARIOS = \(([^)]*)\)", source, re.MULTILINE)
    assert declared and scenarios, "load/scenarios.py declares no options or no SCENARIOS"
    return {"options": declared, "scenarios": set(re.findall(r'"(\w+)"', scenarios.group(1)))}


# The nightly load shapes: each with the suite's config and the scenario that shapes it.
NIGHTLY_LOAD_SHAPES = {
    "stress": ["--config", "load/locust.conf", "--scenario", "stress"],
    "soak": ["--config", "load/locust.conf", "--scenario", "soak", "--soak-minutes", "30"],
}


def test_the_nightly_run_adds_the_long_load_shapes(workflow):
    nightly_only = {
        job_id: job
        for job_id, job in workflow["jobs"].items()
        if job.get("if") and _runs_on(job, "schedule") and not _runs_on(job, "pull_request")
    }
    loads = [call for job in nightly_only.values() for call in _make_calls(job) if "test-load" in call]
    by_scenario = {}
    for call in loads:
        options = _load_options(call)
        scenario = options[options.index("--scenario") + 1] if "--scenario" in options else None
        by_scenario[scenario] = options
    assert by_scenario == NIGHTLY_LOAD_SHAPES, (
        f"nightly-only load runs (scenario: Locust options) are {by_scenario}, expected {NIGHTLY_LOAD_SHAPES}"
    )
    # Every option and scenario they use is one the load suite declares, so Locust does not refuse them.
    declared = _scenario_options()
    for options in by_scenario.values():
        unknown = {o for o in options if o.startswith("--") and o not in declared["options"]} - {"--config"}
        assert not unknown, f"options load/scenarios.py does not declare: {sorted(unknown)}"
        scenario = options[options.index("--scenario") + 1]
        assert scenario in declared["scenarios"], f"--scenario {scenario} is not one of {declared['scenarios']}"


def test_pull_request_jobs_stop_well_before_the_5_minute_budget_turns_into_an_hour(workflow):
    slow = {
        job_id: job.get("timeout-minutes")
        for job_id, job in workflow["jobs"].items()
        if _runs_on(job, "pull_request") and not 0 < int(job.get("timeout-minutes", 360)) <= 10
    }
    assert not slow, f"pull-request jobs without a timeout of at most 10 minutes: {slow}"


def test_every_job_runs_python_3_11(workflow):
    """3.11 is requires-python's floor; a job with a Python matrix runs 3.11 in one of its rows
    (test_ci_gates.py checks the newest Python is there too)."""
    other = {}
    for job_id, job in workflow["jobs"].items():
        if not _make_calls(job):
            continue  # a job that runs no Python (e.g. uploading the event file)
        image = (job.get("container") or {}).get("image", "") if isinstance(job.get("container"), dict) else ""
        images = {fill_matrix(image, row) for row in matrix_rows(job)}
        if "python:3.11-bookworm" in images:
            continue
        versions = {
            str(step.get("with", {}).get("python-version"))
            for step in job.get("steps", [])
            if step.get("uses", "").startswith("actions/setup-python@")
        }
        if versions != {"3.11"} and not image.startswith("python:3.11"):
            other[job_id] = versions or image or "system python"
    assert not other, f"jobs not on Python 3.11: {other}"


def test_every_test_job_uploads_its_reports_even_when_it_fails(workflow):
    missing = []
    for job_id, job in workflow["jobs"].items():
        if not any(target.startswith("test") for target in _make_targets_run_by(job)):
            continue
        uploads = [
            step
            for step in job["steps"]
            if step.get("uses", "").startswith("actions/upload-artifact@")
            and str(step.get("if", "")).replace("${{", "").replace("}}", "").strip().startswith("always()")
            and "reports/" in str(step.get("with", {}).get("path", ""))
        ]
        if not uploads:
            missing.append(job_id)
    assert not missing, f"test jobs that do not upload reports/ with `if: always() ...`: {missing}"


def test_artifact_names_are_unique(workflow):
    # upload-artifact v4 refuses a second artifact of the same name in one run.
    names = [
        fill_matrix(step["with"]["name"], row)
        for job_id, step in _steps(workflow)
        if step.get("uses", "").startswith("actions/upload-artifact@")
        for row in matrix_rows(workflow["jobs"][job_id])
    ]
    assert len(names) == len(set(names)), f"artifact names: {names}"


def test_published_junit_files_are_the_ones_the_test_jobs_upload(workflow, workflows):
    publisher = workflows[str(PUBLISHER_FILE.relative_to(REPO_ROOT))]
    assert publisher["on"]["workflow_run"]["workflows"] == [workflow["name"]], "it must follow the ci workflow"
    [job] = publisher["jobs"].values()
    [publish] = [step for step in job["steps"] if step.get("uses", "").startswith("EnricoMi/publish-unit-test")]
    pattern = publish["with"]["junit_files"]
    uploaded = [
        f"artifacts/{step['with']['name']}/junit/backend.xml"
        for _, step in _steps(workflow)
        if step.get("uses", "").startswith("actions/upload-artifact@") and step["with"]["path"] == "reports/"
    ]
    assert uploaded and all(fnmatch.fnmatch(path, pattern) for path in uploaded), (
        f"{pattern!r} does not match the uploaded reports' JUnit files: {uploaded}"
    )
    event_uploads = [step for _, step in _steps(workflow) if step.get("with", {}).get("name") == "event-file"]
    assert event_uploads, "ci.yml must upload the event file the publisher reads"
    assert publish["with"]["event_file"] == "artifacts/event-file/event.json"
    assert job["permissions"].get("checks") == "write", "publishing a check needs checks: write"


def test_postgres_job_points_the_suite_at_its_service_container(workflow):
    jobs = [job for job in workflow["jobs"].values() if "test-backend-postgres-tier" in _make_targets_run_by(job)]
    assert len(jobs) == 1, "exactly one job runs make test-backend-postgres-tier"
    job = jobs[0]
    [(service_name, service)] = job["services"].items()
    url = urlsplit(job["env"]["TEST_DATABASE_URL"])
    assert url.scheme == "postgresql+asyncpg", f"the platform's driver is asyncpg, got {url.scheme}"
    if job.get("container"):
        # A container job reaches its service by the service's name, on the database's own port.
        reachable = {(service_name, 5432)}
    else:
        reachable = {
            (host, int(str(port).split(":")[0])) for port in service["ports"] for host in ("127.0.0.1", "localhost")
        }
    assert (url.hostname, url.port) in reachable, (
        f"TEST_DATABASE_URL {url.geturl()} does not reach the service container; reachable: {sorted(reachable)}"
    )
    credentials = (url.username, url.password, url.path.lstrip("/"))
    env = service["env"]
    assert credentials == (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]), (
        f"TEST_DATABASE_URL credentials {credentials} differ from the service container's {env}"
    )
    assert "--health-cmd" in service.get("options", ""), "the job must wait for a healthy database"


def test_frontend_job_installs_chromium_its_headless_shell_and_xvfb(workflow):
    jobs = [job for job in workflow["jobs"].values() if "test-frontend-tier" in _make_targets_run_by(job)]
    assert len(jobs) == 1, "exactly one job runs make test-frontend-tier"
    installs = " ".join(step.get("run", "") for step in jobs[0]["steps"] if "apt-get install" in step.get("run", ""))
    wanted = {"chromium", "chromium-headless-shell", "xvfb"}
    assert wanted <= set(installs.split()), f"the frontend job installs: {installs!r}"


def _make_value(repo_root, variable: str) -> str:
    """A variable of the Makefile (with make/*.mk), as make expands it."""
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", f"print-value: ; @echo $({variable})", "print-value"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"make cannot print {variable}: {result.stderr}"
    return result.stdout.strip()


def _shard_paths(repo_root, shard: str) -> list[str]:
    """The pytest arguments before -m that `make test-backend-tier BACKEND_SHARD=shard` runs."""
    result = subprocess.run(
        ["make", "-n", "test-backend-tier", f"BACKEND_SHARD={shard}"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"make -n test-backend-tier BACKEND_SHARD={shard}: {result.stderr}"
    found = re.search(r"bin/pytest (.*?) -m ", result.stdout.replace("\\\n", " "))
    assert found, f"no pytest call in {result.stdout!r}"
    return found.group(1).split()


@pytest.mark.parametrize("target", ["test-backend-tier", "test-backend-postgres-tier"])
def test_the_backend_jobs_run_every_shard_the_makefile_defines_once(workflow, repo_root, target):
    shards = _make_value(repo_root, "BACKEND_SHARDS").split()
    assert len(shards) >= 2, f"BACKEND_SHARDS is {shards}"
    run = [
        dict(word.split("=", 1) for word in call if "=" in word).get("BACKEND_SHARD", "all")
        for job in workflow["jobs"].values()
        for call in _make_calls(job)
        if target in call
    ]
    # Once per Python of the job's matrix: each shard as often as every other.
    runs_per_shard = {shard: run.count(shard) for shard in shards}
    assert set(run) == set(shards) and len(set(runs_per_shard.values())) == 1, (
        f"CI runs `make {target}` with BACKEND_SHARD={run}, expected each of {shards} equally often"
    )


def test_the_backend_shards_together_run_every_folder_of_backend_tests_exactly_once(repo_root):
    """The last shard is backend_tests minus the folders the others name, so nothing is left out and
    nothing runs twice."""
    shards = _make_value(repo_root, "BACKEND_SHARDS").split()
    named = {shard: _shard_paths(repo_root, shard) for shard in shards}
    [rest] = [shard for shard, paths in named.items() if paths[0] == "backend_tests"]
    taken = [path for shard, paths in named.items() if shard != rest for path in paths]
    assert len(taken) == len(set(taken)), f"a folder in two shards: {named}"
    missing = [path for path in taken if not (repo_root / path).is_dir()]
    assert not missing, f"shards name folders that do not exist: {missing}"
    ignored = [arg.removeprefix("--ignore=") for arg in named[rest][1:]]
    assert all(arg.startswith("--ignore=") for arg in named[rest][1:]), f"the {rest} shard runs {named[rest]}"
    assert sorted(ignored) == sorted(taken), f"the {rest} shard leaves out {ignored}, the others take {taken}"
    assert _shard_paths(repo_root, "all") == ["backend_tests"], "BACKEND_SHARD=all must run the whole suite"
