""".github/workflows/ci.yml: a valid workflow whose jobs run Makefile targets that exist, keep their
reports, and point the PostgreSQL job at its own service container."""

import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

# `make` as a command: at the start of a line or after ;, &&, || or |.
MAKE_CALL = re.compile(r"(?:^|[;&|]\s*)make\s+([^;&|#\n]*)", re.MULTILINE)


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def _make_targets_run_by(job: dict[str, Any]) -> list[str]:
    targets = []
    for step in job.get("steps", []):
        for arguments in MAKE_CALL.findall(step.get("run", "")):
            targets += [word for word in shlex.split(arguments) if not word.startswith("-") and "=" not in word]
    return targets


def test_workflow_matches_the_github_workflow_schema(repo_root, check_against_builtin_schema):
    check_against_builtin_schema(repo_root / ".github" / "workflows" / "ci.yml", "vendor.github-workflows")


def test_every_make_target_the_workflow_runs_exists(workflow, make_targets):
    called = {target for job in workflow["jobs"].values() for target in _make_targets_run_by(job)}
    assert called, "the workflow runs no make target at all"
    assert called <= make_targets, f"targets the Makefile lacks: {sorted(called - make_targets)}"


def test_workflow_runs_on_pull_requests_and_pushes_to_main(workflow):
    triggers = workflow["on"]
    assert "pull_request" in triggers, f"triggers: {triggers}"
    assert "main" in triggers.get("push", {}).get("branches", []), f"push triggers: {triggers.get('push')}"


def test_every_job_runs_python_3_11(workflow):
    other = {}
    for job_id, job in workflow["jobs"].items():
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
        step["with"]["name"]
        for _, step in _steps(workflow)
        if step.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert len(names) == len(set(names)), f"artifact names: {names}"


def test_postgres_job_points_the_suite_at_its_service_container(workflow):
    jobs = [job for job in workflow["jobs"].values() if "test-backend-postgres" in _make_targets_run_by(job)]
    assert len(jobs) == 1, "exactly one job runs make test-backend-postgres"
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
    jobs = [job for job in workflow["jobs"].values() if "test-frontend" in _make_targets_run_by(job)]
    assert len(jobs) == 1, "exactly one job runs make test-frontend"
    installs = " ".join(step.get("run", "") for step in jobs[0]["steps"] if "apt-get install" in step.get("run", ""))
    assert {"chromium", "xvfb"} <= set(installs.split()), f"the frontend job installs: {installs!r}"
