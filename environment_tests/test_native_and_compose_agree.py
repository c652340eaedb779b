"""The native stack (fixtures/stack.py, `make up`) and docker-compose.test.yml are one stack: the
same services on the same ports, probed on the same health paths, given the same variable names;
and the suites are pointed at either by the same variables. So a suite cannot tell them apart.

The native side is read from a stack the launcher really starts (what each process is given),
not from its source."""

import sys
from typing import Any

import pytest

from app.settings import Settings
from environment_tests.environment_files import (
    BARE_ENVIRONMENT,
    commands,
    environment,
    healthcheck_url,
    listening_port,
    published_ports,
    url_target,
)
from fixtures.stack import Stack
from fixtures.targets import FAKE_GITHUB, FIXED_PORTS, LLM_API_PATH, PLATFORM, TARGETS

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

# The launcher's name of each service, and compose's.
COMPOSE_NAME = {"platform": "app", "fake-e2b": "fake-e2b", "fake-github": "fake-github", "fake-llm": "fake-llm"}
# Compose services that run a suite against the stack.
SUITE_RUNNERS = ["browser-tests", "locust-master", "locust-worker"]
SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields}


def _given_by_launcher(stack: Stack, native_name: str) -> dict[str, str]:
    """The variables the launcher set for one of its processes, beyond the bare environment it inherited."""
    service = {s.name: s for s in stack.services()}[native_name]
    assert service.env is not None, f"{native_name} was not started by the launcher"
    return {name: value for name, value in service.env.items() if name not in BARE_ENVIRONMENT}


def _suite_variables(stack: Stack) -> dict[str, str]:
    """Suite variable -> the launcher's service name it points at (Stack.environment())."""
    by_url = {service.url: service.name for service in stack.services()}
    return {variable: by_url[url] for variable, url in stack.environment().items()}


@pytest.mark.parametrize("native_name", sorted(FIXED_PORTS))
def test_each_service_listens_on_the_same_port_in_both(compose, native_name):
    service = compose["services"][COMPOSE_NAME[native_name]]
    port = FIXED_PORTS[native_name]
    assert listening_port(service) == port, (
        f"`make up` runs {native_name} on {port}, compose's {COMPOSE_NAME[native_name]} on {listening_port(service)}"
    )
    assert ("127.0.0.1", port, port) in published_ports(service), f"compose publishes {published_ports(service)}"


def _program(argv: list[str]) -> str:
    """What a Python command runs: its module, or the ASGI app uvicorn serves (`python -m app` is
    uvicorn serving app.serving:app)."""
    arguments = argv[1:] if argv[0].startswith("python") or argv[0] == sys.executable else argv
    assert arguments[:1] == ["-m"], f"not a `python -m` command: {argv}"
    module = arguments[1]
    if module == "uvicorn":
        return arguments[2]
    return "app.serving:app" if module == "app" else module


@pytest.mark.parametrize("native_name", sorted(FIXED_PORTS))
def test_each_service_runs_the_same_program_in_both(compose, native_stack, native_name):
    service = {s.name: s for s in native_stack.services()}[native_name]
    assert service.args is not None, f"{native_name} was not started by the launcher"
    compose_commands = commands(compose["services"][COMPOSE_NAME[native_name]])
    [serving] = [argv for argv in compose_commands if argv[0].startswith("python") and "--port" in argv]
    assert _program(["python", *service.args]) == _program(serving), (
        f"`make up` runs {native_name} as {service.args}, compose as {serving}"
    )


@pytest.mark.parametrize("native_name", sorted(FIXED_PORTS))
def test_each_service_is_probed_on_the_same_health_path_in_both(compose, native_name):
    probe = next(s for s in TARGETS if s.name == native_name)
    host, port, path = healthcheck_url(compose["services"][COMPOSE_NAME[native_name]])
    assert (host, port, path) == ("127.0.0.1", FIXED_PORTS[native_name], probe.health_path), (
        f"compose probes {native_name} at {host}:{port}{path}; `make health` and the launcher at "
        f"{FIXED_PORTS[native_name]}{probe.health_path}"
    )


def test_make_health_and_the_load_suite_default_to_the_make_up_ports():
    assert {service.name: service.port for service in TARGETS} == FIXED_PORTS
    assert url_target(PLATFORM.url({})) == ("127.0.0.1", FIXED_PORTS["platform"])
    assert url_target(FAKE_GITHUB.url({})) == ("127.0.0.1", FIXED_PORTS["fake-github"])


def test_suite_variables_name_the_same_services(native_stack):
    expected = {variable: service.name for service in TARGETS for variable in [service.variable]}
    assert _suite_variables(native_stack) == expected, (
        f"the launcher points suites with {_suite_variables(native_stack)}; `make health` reads {expected}"
    )


@pytest.mark.parametrize("runner", SUITE_RUNNERS)
def test_compose_points_each_suite_runner_with_the_launchers_variables(compose, native_stack, runner):
    variables = environment(compose["services"][runner])
    missing = set(native_stack.environment()) - set(variables)
    assert not missing, f"{runner} lacks {sorted(missing)}, which `python -m tools.stack run` sets"
    wrong = {
        variable: variables[variable]
        for variable, native_name in _suite_variables(native_stack).items()
        if url_target(variables[variable])[0] not in _names_of(compose, COMPOSE_NAME[native_name])
        or url_target(variables[variable])[1] != listening_port(compose["services"][COMPOSE_NAME[native_name]])
    }
    assert not wrong, f"{runner} variables not pointing at their compose service: {wrong}"


def _names_of(compose: dict, service_name: str) -> set[str]:
    """What a service is reached by on the compose network: its name and its aliases there."""
    networks = compose["services"][service_name].get("networks") or {}
    aliases = (
        [alias for network in networks.values() for alias in (network or {}).get("aliases", [])]
        if isinstance(networks, dict)
        else []
    )
    return {service_name, *aliases}


@pytest.mark.parametrize("compose_name", ["app", "worker"])
def test_compose_gives_the_platform_every_variable_the_launcher_gives_it(compose, native_stack, compose_name):
    given = set(_given_by_launcher(native_stack, "platform"))
    assert given, "the launcher gave the platform no variable at all"
    assert given <= SETTINGS_VARIABLES, f"the launcher sets variables the settings do not read: {given}"
    missing = given - set(environment(compose["services"][compose_name]))
    assert not missing, f"compose's {compose_name} lacks {sorted(missing)}, which the native platform gets"


@pytest.mark.parametrize("native_name", ["fake-e2b", "fake-github", "fake-llm"])
def test_compose_gives_each_fake_every_variable_the_launcher_gives_it(compose, native_stack, native_name):
    given = set(_given_by_launcher(native_stack, native_name))
    assert given, f"the launcher gave {native_name} no variable at all"
    missing = given - set(environment(compose["services"][COMPOSE_NAME[native_name]]))
    assert not missing, f"compose's {native_name} lacks {sorted(missing)}, which the native one gets"


def test_in_both_the_platform_holds_the_credentials_its_fakes_accept(compose, native_stack):
    platform = _given_by_launcher(native_stack, "platform")
    assert platform["E2B_API_KEY"] in _given_by_launcher(native_stack, "fake-e2b")["FAKE_E2B_API_KEYS"].split(",")
    assert platform["GITHUB_TOKEN"] in _given_by_launcher(native_stack, "fake-github")["FAKE_GITHUB_TOKENS"].split(",")
    assert platform["LLM_API_KEY"] in _given_by_launcher(native_stack, "fake-llm")["FAKE_LLM_API_KEYS"].split(",")
    app = environment(compose["services"]["app"])
    assert app["E2B_API_KEY"] in environment(compose["services"]["fake-e2b"])["FAKE_E2B_API_KEYS"].split(",")
    assert app["GITHUB_TOKEN"] in environment(compose["services"]["fake-github"])["FAKE_GITHUB_TOKENS"].split(",")
    assert app["LLM_API_KEY"] in environment(compose["services"]["fake-llm"])["FAKE_LLM_API_KEYS"].split(",")


def test_in_both_the_platform_reaches_its_fakes_through_the_same_variables(compose, native_stack):
    native = _given_by_launcher(native_stack, "platform")
    app = environment(compose["services"]["app"])
    urls: dict[str, Any] = {}
    for variable in ("E2B_API_URL", "E2B_SANDBOX_URL", "GITHUB_API_URL", "LLM_API_URL"):
        by_url = {service.url: service.name for service in native_stack.services()}
        # LLM_API_URL is the fake's root with OpenAI's /v1, as OpenAI's own base URL has it.
        native_target = by_url[native[variable].rstrip("/").removesuffix(LLM_API_PATH)]
        urls[variable] = (native_target, url_target(app[variable])[0])
    assert all(COMPOSE_NAME[native] == compose_host for native, compose_host in urls.values()), (
        f"variable -> (native service, compose host): {urls}"
    )
