"""The compose files in the forms Docker Compose v2 and Compose v1 (Debian 12's docker-compose 1.29,
what `make test-compose` drives where Docker's own packages are not installed) both read the same way,
checked without an engine; and each Compose found on this machine accepts them as they are.

Where the two differ, and what the files use instead:
  - a top-level `name:` is refused by v1 and `version:` is obsolete for v2: neither is used, the
    project name comes from `-p`;
  - a health check in the exec form (`["CMD", ...]`, or `["CMD-SHELL", "one string"]`) runs alike;
  - `depends_on` in the long form with a `condition`: the short list only waits for a start;
  - `--wait` is v2's only: tools/compose_run.py waits on each container's health itself;
  - `security_opt: [systempaths=unconfined]` is a CLI translation that Compose v1 cannot pass: the
    fake E2B runs `privileged` instead (docker-compose.test.yml says why)."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from environment_tests.environment_files import REPO_ROOT, load_yaml, published_ports, with_defaults

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

COMPOSE_FILES = {
    "test": ["docker-compose.test.yml"],
    "deploy": ["docker-compose.deploy.yml"],
    "deploy+fakes": ["docker-compose.deploy.yml", "deploy/compose.fakes.yml"],
}
# What the deployment requires (`${NAME:?}`), made up for a `config` run.
DEPLOY_VARIABLES = {
    "POSTGRES_PASSWORD": "x",
    "E2B_API_KEY": "x",
    "GITHUB_TOKEN": "x",
    "LLM_API_KEY": "x",
    "SQUAD_ADMIN_TOKEN": "x",
    "ALLOWED_REPOSITORIES": "x/*",
}


def _services(path: str) -> dict[str, dict[str, Any]]:
    return load_yaml(REPO_ROOT / path)["services"]


@pytest.mark.parametrize("path", ["docker-compose.test.yml", "docker-compose.deploy.yml", "deploy/compose.fakes.yml"])
def test_no_top_level_key_that_one_compose_refuses(path):
    keys = set(load_yaml(REPO_ROOT / path))
    assert not keys & {"name", "version"}, (
        f"{path}: {sorted(keys & {'name', 'version'})} (v1 refuses name, v2 warns on version)"
    )


@pytest.mark.parametrize("path", ["docker-compose.test.yml", "docker-compose.deploy.yml", "deploy/compose.fakes.yml"])
def test_health_checks_are_in_the_exec_form_both_run_alike(path):
    wrong = {}
    for name, service in _services(path).items():
        test = (service.get("healthcheck") or {}).get("test")
        if test is None:
            continue
        if not isinstance(test, list) or test[0] not in ("CMD", "CMD-SHELL"):
            wrong[name] = test
        elif test[0] == "CMD-SHELL" and len(test) != 2:
            wrong[name] = test
    assert not wrong, f"{path}: health checks not in the exec form: {wrong}"


@pytest.mark.parametrize("path", ["docker-compose.test.yml", "docker-compose.deploy.yml", "deploy/compose.fakes.yml"])
def test_every_dependency_is_in_the_long_form_with_a_condition(path):
    wrong = [
        f"{name} -> {depends_on}"
        for name, service in _services(path).items()
        if (depends_on := service.get("depends_on"))
        and (isinstance(depends_on, list) or any("condition" not in options for options in depends_on.values()))
    ]
    assert not wrong, f"{path}: depends_on without a condition waits only for a start: {wrong}"


def test_the_deployment_publishes_only_nginx_and_on_loopback_unless_told():
    services = _services("docker-compose.deploy.yml")
    published = {name: published_ports(service) for name, service in services.items() if service.get("ports")}
    assert list(published) == ["nginx"], f"published besides nginx: {sorted(published)}"
    assert [host for host, _, _ in published["nginx"]] == ["127.0.0.1"], published["nginx"]
    for name, service in _services("deploy/compose.fakes.yml").items():
        for host, _, _ in published_ports(service):
            assert host == "127.0.0.1", f"deploy/compose.fakes.yml: {name} publishes on {host}"


def test_the_deployment_migrates_once_before_the_app_and_the_worker_waits_for_the_app():
    services = _services("docker-compose.deploy.yml")
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["depends_on"]["app"]["condition"] == "service_healthy"
    assert services["nginx"]["depends_on"]["app"]["condition"] == "service_healthy"
    assert "restart" not in services["migrate"], "a one-shot step that restarts never completes"


def test_the_deployment_requires_its_secrets_rather_than_defaulting_them():
    text = (REPO_ROOT / "docker-compose.deploy.yml").read_text()
    for name in DEPLOY_VARIABLES:
        assert f"${{{name}:?" in text, f"{name} must stop compose when unset, not default"
    assert with_defaults("${SQUAD_HTTP_BIND:-127.0.0.1}") == "127.0.0.1"


def test_the_fake_e2b_container_may_make_bubblewraps_namespaces():
    for path in ("docker-compose.test.yml", "deploy/compose.fakes.yml"):
        fake = _services(path)["fake-e2b"]
        assert fake.get("privileged") is True, f"{path}: fake-e2b cannot mount a sandbox's /proc unprivileged"
    for path in ("docker-compose.test.yml", "docker-compose.deploy.yml"):
        others = [name for name, service in _services(path).items() if service.get("privileged") and name != "fake-e2b"]
        assert not others, f"{path}: privileged beyond the fake E2B: {others}"


def _composes() -> list[tuple[str, list[str]]]:
    """The Compose commands this machine has: v2 as a docker CLI plugin, v1 as docker-compose."""
    found = []
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        found.append(("v2", [docker, "compose"]))
    if shutil.which("docker-compose"):
        found.append(("v1", ["docker-compose"]))
    return found


@pytest.mark.parametrize("files", list(COMPOSE_FILES.values()), ids=list(COMPOSE_FILES))
def test_each_compose_on_this_machine_accepts_the_files_as_they_are(files, tmp_path):
    composes = _composes()
    if not composes:
        pytest.skip("no Compose here (`make compose-engine` installs Debian's docker-compose)")
    for version, command in composes:
        checked = subprocess.run(
            [
                *command,
                "-p",
                "squad-config-check",
                *(f"--file={f}" for f in files),
                "--profile",
                "browser",
                "--profile",
                "load",
                "config",
                "--quiet",
            ],
            cwd=REPO_ROOT,
            env=os.environ | DEPLOY_VARIABLES | {"DOCKER_CONFIG": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert checked.returncode == 0, f"Compose {version} refuses {files}:\n{checked.stderr}"
        assert "WARN" not in checked.stderr.upper(), f"Compose {version} warns on {files}:\n{checked.stderr}"


def test_the_deployment_file_matches_the_compose_specification(check_against_builtin_schema):
    for path in ("docker-compose.deploy.yml", "deploy/compose.fakes.yml"):
        check_against_builtin_schema(Path(REPO_ROOT / path), "vendor.compose-spec")
