""".github/workflows/: valid workflows whose jobs run Makefile targets that exist, in the tiers the
README promises (pull request p0, push to main p0+p1, nightly everything), keeping their reports,
and publishing their JUnit XML."""

import fnmatch
import re
import shlex
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest

from backend_tests.environment.environment_files import (
    PUBLISHER_FILE,
    REPO_ROOT,
    fill_matrix,
    matrix_rows,
    workflow_files,
)

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

# `make` as a command: at the start of a line or after ;, &&, || or |.
MAKE_CALL = re.compile(r"(?:^|[;&|]\s*)make\s+([^;&|#\n]*)", re.MULTILINE)
# What every pull request checks (issue 7): lint, types, backend on SQLite and PostgreSQL, contracts,
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
    condition = str(job.get("if", ""))
    return not condition or f"'{event}'" in condition


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


def test_the_nightly_run_adds_the_long_load_shapes(workflow):
    nightly_only = {
        job_id: job
        for job_id, job in workflow["jobs"].items()
        if job.get("if") and _runs_on(job, "schedule") and not _runs_on(job, "pull_request")
    }
    loads = [call for job in nightly_only.values() for call in _make_calls(job) if "test-load" in call]
    assert len(loads) >= 2, f"nightly-only load runs: {loads}"


def test_pull_request_jobs_stop_well_before_the_5_minute_budget_turns_into_an_hour(workflow):
    slow = {
        job_id: job.get("timeout-minutes")
        for job_id, job in workflow["jobs"].items()
        if _runs_on(job, "pull_request") and not 0 < int(job.get("timeout-minutes", 360)) <= 10
    }
    assert not slow, f"pull-request jobs without a timeout of at most 10 minutes: {slow}"


def test_every_job_runs_python_3_11(workflow):
    other = {}
    for job_id, job in workflow["jobs"].items():
        if not _make_calls(job):
            continue  # a job that runs no Python (e.g. uploading the event file)
        image = (job.get("container") or {}).get("image", "") if isinstance(job.get("container"), dict) else ""
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
            and str(step.get("if", "")).replace("${{", "").replace("}}", "").strip() == "always()"
            and "reports/" in str(step.get("with", {}).get("path", ""))
        ]
        if not uploads:
            missing.append(job_id)
    assert not missing, f"test jobs that do not upload reports/ with `if: always()`: {missing}"


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


def test_frontend_job_installs_chromium_and_xvfb(workflow):
    jobs = [job for job in workflow["jobs"].values() if "test-frontend-tier" in _make_targets_run_by(job)]
    assert len(jobs) == 1, "exactly one job runs make test-frontend-tier"
    installs = " ".join(step.get("run", "") for step in jobs[0]["steps"] if "apt-get install" in step.get("run", ""))
    assert {"chromium", "xvfb"} <= set(installs.split()), f"the frontend job installs: {installs!r}"
