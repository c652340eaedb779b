"""docker-compose.test.yml, checked without a Docker engine: valid Compose, health-gated,
loopback-only, its services wired to each other, and every command it runs present in the project.

(That it serves the same stack as the native launcher is test_native_and_compose_agree.py.)"""

import ast
import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.settings import Settings
from environment_tests.environment_files import (
    command_text,
    commands,
    dockerfile_stages,
    dockerignore_patterns,
    environment,
    ignored_by_docker,
    listening_port,
    published_ports,
)

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

CORE_SERVICES = {"postgres", "migrate", "fake-e2b", "fake-github", "fake-llm", "app", "worker"}
PROFILES = {"browser": {"browser-tests"}, "load": {"locust-master", "locust-worker"}}
# Runs to completion and is judged by its exit code (`docker compose run`), so it has no health.
RUN_TO_COMPLETION = {"browser-tests"}
# Runs once before the platform starts (the schema); what waits for it waits for its exit code 0.
ONE_SHOT = {"migrate"}
PROJECT_PACKAGES = {"app", "mocks", "fixtures", "tools"}
# The working directory's folder the services write into (a bind mount), not a source.
OUTPUT_ROOTS = {"reports"}


def _project_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items() if "build" in service}


def _stage_of(service: dict[str, Any], stages: dict) -> Any:
    build = service["build"]
    target = build.get("target") if isinstance(build, dict) else None
    return stages[target] if target else list(stages.values())[-1]


def _declared_distributions(repo_root: Path) -> set[str]:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    # The images install the platform's dependencies and the [test] extra (deploy/images/requirements.py).
    declared = project["dependencies"] + project.get("optional-dependencies", {}).get("test", [])
    names = {re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0] for requirement in declared}
    return {name.lower().replace("_", "-") for name in names}


def _distributions_of_module(top_level: str) -> set[str]:
    return {name.lower().replace("_", "-") for name in importlib.metadata.packages_distributions().get(top_level, [])}


def _problems_of(argv: list[str], stage: Any, repo_root: Path, declared: set[str]) -> list[str]:
    """What the image built from `stage` would lack to run `argv`."""
    problems = []
    program, arguments = argv[0], argv[1:]
    if program in ("python", "python3"):
        if arguments[:1] == ["-m"]:
            module = arguments[1]
            top = module.split(".")[0]
            if top in PROJECT_PACKAGES:
                if importlib.util.find_spec(module) is None:
                    problems.append(f"module {module} does not exist")
                if top not in stage.copied:
                    problems.append(f"{top}/ is not copied into the {stage.name} stage")
            elif not _distributions_of_module(top) & declared:
                problems.append(f"module {module} is not from a dependency in pyproject.toml")
            arguments = arguments[2:]
        elif arguments[:1] == ["-c"]:
            try:
                ast.parse(arguments[1])
            except SyntaxError as error:
                problems.append(f"python -c code does not parse: {error}")
            arguments = arguments[2:]
    elif program in ("sh", "pg_isready"):
        pass
    else:
        scripts = importlib.metadata.entry_points(group="console_scripts", name=program)
        owners = {script.dist.name.lower().replace("_", "-") for script in scripts if script.dist}
        if not owners & declared:
            problems.append(f"{program} is not a command of a dependency in pyproject.toml")
    for argument in arguments:
        value = argument.split("=", 1)[1] if argument.startswith("--") and "=" in argument else argument
        if ":" in value and re.fullmatch(r"[\w.]+:\w+", value):  # an ASGI app, module:attribute
            module, attribute = value.split(":")
            spec = importlib.util.find_spec(module)
            source = Path(spec.origin).read_text() if spec and spec.origin else ""
            if not re.search(rf"^{attribute}\s*[:=]", source, re.MULTILINE):
                problems.append(f"{value}: no module-level {attribute} in {module}")
            continue
        first = Path(value).parts[0] if value and not value.startswith("-") and "://" not in value else ""
        if not first or first in OUTPUT_ROOTS or not (repo_root / first).exists():
            continue  # not a path of this repository
        if not (repo_root / value).exists():
            problems.append(f"{value} does not exist")
        elif not any(value == copied or value.startswith(copied.rstrip("/") + "/") for copied in stage.copied):
            problems.append(f"{value} is not copied into the {stage.name} stage")
    return problems


def test_compose_file_matches_the_compose_specification(repo_root, check_against_builtin_schema):
    check_against_builtin_schema(repo_root / "docker-compose.test.yml", "vendor.compose-spec")


def test_the_default_stack_and_each_profile_hold_the_expected_services(compose):
    by_profile: dict[str, set[str]] = {}
    for name, service in compose["services"].items():
        for profile in service.get("profiles") or [""]:
            by_profile.setdefault(profile, set()).add(name)
    expected = {"": CORE_SERVICES, **PROFILES}
    assert by_profile == expected, f"services by profile ('' = always): {by_profile}, expected {expected}"


def test_a_profiled_service_depends_only_on_the_default_stack(compose):
    outside = {
        f"{name} -> {dependency}"
        for name, service in compose["services"].items()
        if service.get("profiles")
        for dependency in service.get("depends_on", {})
        if dependency not in CORE_SERVICES
        and not set(compose["services"][dependency].get("profiles", [])) & set(service["profiles"])
    }
    assert not outside, f"dependencies that would not start with the profile: {sorted(outside)}"


def test_every_long_running_service_has_a_healthcheck(compose):
    missing = [
        name
        for name, service in compose["services"].items()
        if name not in RUN_TO_COMPLETION | ONE_SHOT
        and (not service.get("healthcheck", {}).get("test") or service["healthcheck"].get("disable"))
    ]
    assert not missing, f"services without an enabled healthcheck: {missing}"


def test_no_service_waits_for_one_that_runs_to_completion(compose):
    waiting = [
        f"{name} -> {dependency}"
        for name, service in compose["services"].items()
        for dependency in service.get("depends_on", {})
        if dependency in RUN_TO_COMPLETION
    ]
    assert not waiting, f"a run-to-completion service is never healthy; these wait for one: {waiting}"


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
            if options.get("condition")
            != ("service_completed_successfully" if dependency in ONE_SHOT else "service_healthy")
        ]
    assert not not_gated, f"dependencies that do not wait for health (or a one-shot's success): {not_gated}"


def test_published_ports_bind_loopback_only(compose):
    exposed = [
        f"{name}: {host_ip or '0.0.0.0'}:{host_port}->{container_port}"
        for name, service in compose["services"].items()
        for host_ip, host_port, container_port in published_ports(service)
        if host_ip != "127.0.0.1"
    ]
    assert not exposed, f"ports published beyond 127.0.0.1: {exposed}"


def test_every_command_a_service_runs_exists_in_its_image(compose, repo_root):
    stages = dockerfile_stages(repo_root / "Dockerfile")
    declared = _declared_distributions(repo_root)
    problems = {
        f"{name}: {' '.join(argv)}": found
        for name, service in _project_services(compose).items()
        for argv in commands(service)
        if (found := _problems_of(argv, _stage_of(service, stages), repo_root, declared))
    }
    assert not problems, f"commands the image could not run: {problems}"


def test_the_command_check_notices_what_is_missing(repo_root):
    stage = dockerfile_stages(repo_root / "Dockerfile")["runtime"]
    declared = _declared_distributions(repo_root)
    assert _problems_of(["python", "-m", "app.no_such_module"], stage, repo_root, declared)
    assert _problems_of(["python", "-m", "uvicorn", "app.main:no_such_app"], stage, repo_root, declared)
    assert _problems_of(["pytest", "frontend_tests"], stage, repo_root, declared), "frontend_tests/ is not in runtime"
    assert _problems_of(["locust", "-f", "load/missing.py"], stage, repo_root, declared)
    assert _problems_of(["no-such-program"], stage, repo_root, declared)
    assert _problems_of(["locust", "-f", "load/"], stage, repo_root, declared), (
        "load/ is the load image's, not runtime's"
    )
    load = dockerfile_stages(repo_root / "Dockerfile")["load"]
    assert not _problems_of(["locust", "-f", "load/", "--html=reports/load/x.html"], load, repo_root, declared)


def test_what_the_images_copy_is_in_the_build_context(repo_root):
    patterns = dockerignore_patterns(repo_root / ".dockerignore")
    copied = {source for stage in dockerfile_stages(repo_root / "Dockerfile").values() for source in stage.copied}
    missing = sorted(source for source in copied if not (repo_root / source).exists())
    ignored = sorted(source for source in copied if ignored_by_docker(source, patterns))
    assert not missing, f"COPY sources that do not exist: {missing}"
    assert not ignored, f"COPY sources .dockerignore keeps out of the context: {ignored}"


def test_services_run_shell_commands_under_exec_so_stop_reaches_the_server(compose):
    not_exec = [
        name
        for name, service in compose["services"].items()
        if isinstance(service.get("command"), list)
        and service["command"][:2] == ["sh", "-c"]
        and "exec " not in service["command"][2]
    ]
    assert not not_exec, f"`sh -c` commands whose last program is not exec'd: {not_exec}"


def test_app_and_worker_share_the_platform_environment_but_only_the_worker_runs_jobs(compose):
    app = environment(compose["services"]["app"])
    worker = environment(compose["services"]["worker"])
    assert command_text(compose["services"]["worker"]) == "python -m app worker"
    assert app.get("SQUAD_RUN_WORKER") == "false", "the app must leave the jobs to the worker service"
    assert {k: v for k, v in app.items() if k != "SQUAD_RUN_WORKER"} == {
        k: v for k, v in worker.items() if k != "SQUAD_RUN_WORKER"
    }, f"app and worker disagree:\napp    {app}\nworker {worker}"


def test_the_worker_starts_after_the_app_has_migrated(compose):
    worker = compose["services"]["worker"]
    assert worker["depends_on"].get("app", {}).get("condition") == "service_healthy"
    assert environment(worker).get("SQUAD_AUTO_MIGRATE") == "false", "two processes must not race to migrate"


@pytest.mark.parametrize("service_name", ["app", "worker"])
def test_platform_variables_are_all_read_by_the_platform_settings(compose, service_name):
    # The settings ignore unknown variables, so a misspelt name would silently change nothing.
    settings_variables = {name.upper() for name in Settings.model_fields}
    unknown = set(environment(compose["services"][service_name])) - settings_variables
    assert not unknown, f"{service_name} sets variables app/settings.py does not read: {sorted(unknown)}"


def test_app_reaches_each_dependency_by_service_name_and_port(compose):
    services = compose["services"]
    variables = environment(services["app"])
    expectations = {
        "E2B_API_URL": ("fake-e2b", listening_port(services["fake-e2b"])),
        "E2B_SANDBOX_URL": ("fake-e2b", listening_port(services["fake-e2b"])),
        "GITHUB_API_URL": ("fake-github", listening_port(services["fake-github"])),
        "LLM_API_URL": ("fake-llm", listening_port(services["fake-llm"])),
        "DATABASE_URL": ("postgres", 5432),
    }
    wrong = {
        variable: variables.get(variable)
        for variable, (host, port) in expectations.items()
        if (urlsplit(variables.get(variable, "")).hostname, urlsplit(variables.get(variable, "")).port) != (host, port)
    }
    assert not wrong, f"app variables not pointing at their compose service: {wrong}"
    assert variables["DATABASE_URL"].startswith("postgresql+asyncpg://"), "the platform is async: asyncpg"


def test_app_database_credentials_are_the_postgres_service_ones(compose):
    url = urlsplit(environment(compose["services"]["app"])["DATABASE_URL"])
    postgres = environment(compose["services"]["postgres"])
    assert (url.username, url.password, url.path.lstrip("/")) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )


@pytest.mark.parametrize("service_name", ["app", "browser-tests", "locust-master", "locust-worker"])
def test_credentials_are_the_ones_the_fakes_accept(compose, service_name):
    services = compose["services"]
    variables = environment(services[service_name])
    e2b_keys = environment(services["fake-e2b"])["FAKE_E2B_API_KEYS"].split(",")
    github_tokens = environment(services["fake-github"])["FAKE_GITHUB_TOKENS"].split(",")
    llm_keys = environment(services["fake-llm"])["FAKE_LLM_API_KEYS"].split(",")
    assert variables["E2B_API_KEY"] in e2b_keys, f"the fake E2B would refuse {service_name}'s E2B_API_KEY"
    assert variables["GITHUB_TOKEN"] in github_tokens, f"the fake GitHub would refuse {service_name}'s GITHUB_TOKEN"
    assert variables["LLM_API_KEY"] in llm_keys, f"the fake LLM would refuse {service_name}'s LLM_API_KEY"


def test_the_app_starts_only_once_migrate_brought_the_schema_up_to_date(compose, repo_root):
    services = compose["services"]
    migrate, app = services["migrate"], services["app"]
    assert command_text(migrate) == "alembic -c app/migrations/alembic.ini upgrade head"
    assert (repo_root / "app" / "migrations" / "alembic.ini").exists()
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    # Migrations are migrate's, once, not repeated by every start of the app or a worker.
    # The same database and settings as the app it prepares the schema for.
    app_settings = {k: v for k, v in environment(app).items() if k != "SQUAD_RUN_WORKER"}
    assert environment(migrate) == app_settings, f"migrate and app disagree:\n{environment(migrate)}\n{app_settings}"
    for name in ("migrate", "app", "worker"):
        assert environment(services[name]).get("SQUAD_AUTO_MIGRATE") == "false", name


def test_fake_github_hands_out_clone_urls_the_sandbox_can_reach(compose):
    public = environment(compose["services"]["fake-github"]).get("FAKE_GITHUB_PUBLIC_URL", "")
    url = urlsplit(public)
    assert (url.hostname, url.port) == ("fake-github", listening_port(compose["services"]["fake-github"])), (
        f"git runs inside the fake-e2b container, so clone URLs must name the fake-github service: {public!r}"
    )


def test_project_services_build_the_one_dockerfile(compose, repo_root):
    stages = dockerfile_stages(repo_root / "Dockerfile")
    not_ours = {
        name: service["build"]
        for name, service in compose["services"].items()
        if name != "postgres"
        and (
            not isinstance(service.get("build"), dict)
            or service["build"].get("context") != "."
            or service["build"].get("dockerfile", "Dockerfile") != "Dockerfile"
            or service["build"].get("target", "runtime") not in stages
        )
    }
    assert not not_ours, f"services not built from a stage of ./Dockerfile: {not_ours}"


def test_the_browser_runner_is_built_with_chromium_and_runs_the_browser_suite(compose, repo_root):
    runner = compose["services"]["browser-tests"]
    stage = _stage_of(runner, dockerfile_stages(repo_root / "Dockerfile"))
    assert any(re.search(r"apt-get install[^&]*\bchromium\b", run) for run in stage.run), (
        f"the {stage.name} stage installs no Debian chromium: {stage.run}"
    )
    assert "frontend_tests" in command_text(runner).split(), command_text(runner)
    assert environment(runner).get("CHROMIUM_PATH", "/usr/bin/chromium") == "/usr/bin/chromium"


def test_services_that_write_reports_mount_the_reports_folder(compose):
    writers = [name for name, service in compose["services"].items() if "reports/" in command_text(service)]
    unmounted = [
        name
        for name in writers
        if not any(str(volume).startswith("./reports:") for volume in compose["services"][name].get("volumes", []))
    ]
    assert writers, "no service writes reports"
    assert not unmounted, f"services writing reports/ inside the container only: {unmounted}"


def test_docker_context_leaves_local_state_out(repo_root):
    ignored = set(dockerignore_patterns(repo_root / ".dockerignore"))
    assert {".git", ".venv", "reports", ".squad"} <= ignored, f".dockerignore has {sorted(ignored)}"
