"""docker-compose.test.yml: valid Compose, health-gated, loopback-only, and the same stack as the
native launcher (fixtures/stack.py) — same ports, same environment variable names."""

import ast
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.settings import Settings
from fixtures import stack as native_stack

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

# The contract's table: the variable naming each service for the suites, and where it lives in compose.
SUITE_VARIABLES = {
    "SQUAD_BASE_URL": ("app", 8000),
    "FAKE_E2B_URL": ("fake-e2b", 8001),
    "FAKE_GITHUB_URL": ("fake-github", 8002),
    "TEST_DATABASE_URL": ("postgres", 5432),
}
# The native launcher's names for the same services (fixtures/stack.py FIXED_PORTS).
NATIVE_TO_COMPOSE = {"platform": "app", "fake-e2b": "fake-e2b", "fake-github": "fake-github"}
# What the contract says the platform process is given, in both stacks.
CONTRACT_PLATFORM_VARIABLES = {
    "DATABASE_URL",
    "E2B_API_URL",
    "E2B_SANDBOX_URL",
    "E2B_API_KEY",
    "GITHUB_API_URL",
    "GITHUB_TOKEN",
}


def _published(service: dict[str, Any]) -> list[tuple[str | None, int, int]]:
    """(host ip, host port, container port) of every published port, short or long syntax."""
    published = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published.append((port.get("host_ip"), int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].rsplit(":", 2)
        if len(parts) == 3:
            published.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            published.append((None, int(parts[0]), int(parts[1])))
        else:
            published.append((None, int(parts[0]), int(parts[0])))
    return published


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):  # the `- NAME=value` form
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {name: str(value) for name, value in environment.items()}


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def _listening_port(service: dict[str, Any]) -> int:
    found = re.search(r"--port[ =](\d+)", _command(service))
    assert found, f"no --port in the command {_command(service)!r}"
    return int(found.group(1))


def _platform_variables_of_native_launcher() -> set[str]:
    """Every settings variable that fixtures/stack.py names in a dict literal (the platform's env)."""
    settings_variables = {name.upper() for name in Settings.model_fields}
    tree = ast.parse(Path(native_stack.__file__).read_text())
    keys = {
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }
    return keys & settings_variables


def test_compose_file_matches_the_compose_specification(repo_root, check_against_builtin_schema):
    check_against_builtin_schema(repo_root / "docker-compose.test.yml", "vendor.compose-spec")


def test_every_service_has_a_healthcheck(compose):
    missing = [
        name
        for name, service in compose["services"].items()
        if not service.get("healthcheck", {}).get("test") or service["healthcheck"].get("disable")
    ]
    assert not missing, f"services without an enabled healthcheck: {missing}"


def test_every_dependency_waits_until_the_service_is_healthy(compose):
    not_gated = []
    for name, service in compose["services"].items():
        depends_on = service.get("depends_on", {})
        if isinstance(depends_on, list):  # the short form only waits for the container to start
            not_gated += [f"{name} -> {dependency} (short form)" for dependency in depends_on]
            continue
        not_gated += [
            f"{name} -> {dependency} ({options.get('condition', 'service_started')})"
            for dependency, options in depends_on.items()
            if options.get("condition") != "service_healthy"
        ]
    assert not not_gated, f"dependencies that do not wait for service_healthy: {not_gated}"


def test_published_ports_bind_loopback_only(compose):
    exposed = [
        f"{name}: {host_ip or '0.0.0.0'}:{host_port}->{container_port}"
        for name, service in compose["services"].items()
        for host_ip, host_port, container_port in _published(service)
        if host_ip != "127.0.0.1"
    ]
    assert not exposed, f"ports published beyond 127.0.0.1: {exposed}"


@pytest.mark.parametrize("variable", sorted(SUITE_VARIABLES))
def test_service_named_by_suite_variable_is_published_on_the_contract_port(compose, variable):
    service_name, port = SUITE_VARIABLES[variable]
    published = _published(compose["services"][service_name])
    assert ("127.0.0.1", port, port) in published, (
        f"{variable} expects {service_name} on 127.0.0.1:{port}, compose publishes {published}"
    )


@pytest.mark.parametrize("native_name", sorted(NATIVE_TO_COMPOSE))
def test_compose_port_equals_the_native_launcher_port(compose, native_name):
    service = compose["services"][NATIVE_TO_COMPOSE[native_name]]
    port = native_stack.FIXED_PORTS[native_name]
    assert _listening_port(service) == port, (
        f"`make up` runs {native_name} on {port}, compose's {NATIVE_TO_COMPOSE[native_name]} listens on "
        f"{_listening_port(service)}"
    )
    assert ("127.0.0.1", port, port) in _published(service)
    assert f":{port}/" in " ".join(service["healthcheck"]["test"]), "the healthcheck probes another port"


def test_app_gets_the_variables_the_native_launcher_gives_the_platform(compose):
    app_variables = set(_environment(compose["services"]["app"]))
    expected = CONTRACT_PLATFORM_VARIABLES | _platform_variables_of_native_launcher()
    assert expected <= app_variables, f"the app service lacks {sorted(expected - app_variables)}"


def test_app_variables_are_all_read_by_the_platform_settings(compose):
    # The settings ignore unknown variables, so a misspelt name would silently change nothing.
    settings_variables = {name.upper() for name in Settings.model_fields}
    unknown = set(_environment(compose["services"]["app"])) - settings_variables
    assert not unknown, f"the app service sets variables app/settings.py does not read: {sorted(unknown)}"


def test_app_reaches_each_dependency_by_service_name_and_port(compose):
    services = compose["services"]
    environment = _environment(services["app"])
    expectations = {
        "E2B_API_URL": ("fake-e2b", _listening_port(services["fake-e2b"])),
        "E2B_SANDBOX_URL": ("fake-e2b", _listening_port(services["fake-e2b"])),
        "GITHUB_API_URL": ("fake-github", _listening_port(services["fake-github"])),
        "DATABASE_URL": ("postgres", 5432),
    }
    wrong = {
        variable: environment.get(variable)
        for variable, (host, port) in expectations.items()
        if (urlsplit(environment.get(variable, "")).hostname, urlsplit(environment.get(variable, "")).port)
        != (host, port)
    }
    assert not wrong, f"app variables not pointing at their compose service: {wrong}"
    assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://"), "the platform is async: asyncpg"


def test_app_credentials_are_the_ones_the_fakes_accept(compose):
    services = compose["services"]
    app = _environment(services["app"])
    e2b_keys = _environment(services["fake-e2b"])["FAKE_E2B_API_KEYS"].split(",")
    github_tokens = _environment(services["fake-github"])["FAKE_GITHUB_TOKENS"].split(",")
    assert app["E2B_API_KEY"] in e2b_keys, "the fake E2B would refuse the app's E2B_API_KEY"
    assert app["GITHUB_TOKEN"] in github_tokens, "the fake GitHub would refuse the app's GITHUB_TOKEN"


def test_app_migrates_the_database_before_serving(compose, repo_root):
    app = compose["services"]["app"]
    command = _command(app)
    migrate = command.find("alembic -c app/migrations/alembic.ini upgrade head")
    serve = command.find("uvicorn app.main:app")
    assert 0 <= migrate < serve, f"expected migrations, then uvicorn; the command is {command!r}"
    assert (repo_root / "app" / "migrations" / "alembic.ini").exists()
    # Migrations are the explicit step above, not repeated by every app start.
    assert _environment(app).get("SQUAD_AUTO_MIGRATE") == "false"


def test_project_services_build_the_one_dockerfile(compose, repo_root):
    builds = {name: service.get("build") for name, service in compose["services"].items() if name != "postgres"}
    not_ours = {
        name: build
        for name, build in builds.items()
        if not isinstance(build, dict)
        or build.get("context") != "."
        or build.get("dockerfile", "Dockerfile") != "Dockerfile"
    }
    assert not not_ours, f"services not built from ./Dockerfile: {not_ours}"
    dockerfile = (repo_root / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE), "base image: python:3.11-slim"
    assert re.search(r"apt-get install[^\n]*\bgit\b", dockerfile), "the fakes run real git: install it"
    assert re.search(r"^RUN pip install (--no-deps )?\.$", dockerfile, re.MULTILINE), "the project is pip-installed"


def test_docker_context_leaves_local_state_out(repo_root):
    lines = (line.strip() for line in (repo_root / ".dockerignore").read_text().splitlines())
    ignored = {line for line in lines if line and not line.startswith("#")}
    assert {".git", ".venv", "reports", ".squad"} <= ignored, f".dockerignore has {sorted(ignored)}"
