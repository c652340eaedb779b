"""Health gating with the real engine: a service that fails its health check holds back every service
that waits for it, and the one-shot migrate finishes before the app starts. Each case brings up
docker-compose.test.yml (its own project, free ports) with an override that makes one service's
health check fail, and reads what started from the engine (inspect), within deadlines."""

import time
from datetime import datetime
from pathlib import Path

import pytest

from fixtures.stack import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.priority_p1, pytest.mark.timeout(300)]

TEMPLATE = Path(__file__).with_name("failing-health.yml")
NEVER_STARTED = "0001-01-01T00:00:00Z"
UP_TIMEOUT_S = 180


def _moment(stamp: str) -> datetime:
    """The engine's RFC 3339 time (nanoseconds, trailing zeros dropped) as a datetime, to microseconds."""
    seconds, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{seconds}.{(fraction + '000000')[:6]}")


def _started(state: dict) -> bool:
    return not state.get("StartedAt", NEVER_STARTED).startswith("0001-01-01")


@pytest.fixture
def gated_stack(live_engine, tmp_path, request):
    """(project, up result) of docker-compose.test.yml with the given service's health failing; torn down after."""
    failing = request.param
    override = tmp_path / "failing-health.yml"
    override.write_text(TEMPLATE.read_text().replace("  SERVICE:", f"  {failing}:"))
    project = f"squad-compose-gating-{failing}"
    files = ["--file=docker-compose.test.yml", f"--file={override}"]
    env = {
        name: str(free_port())
        for name in (
            "SQUAD_PORT_APP",
            "SQUAD_PORT_FAKE_E2B",
            "SQUAD_PORT_FAKE_GITHUB",
            "SQUAD_PORT_FAKE_LLM",
            "SQUAD_PORT_POSTGRES",
        )
    }
    compose = [*live_engine.compose, "-p", project, *files]
    # Paths of the override are its own; the project's folder stays the repository's (the first file's).
    result = live_engine.run([*compose, "up", "--detach", "--no-build", "worker"], timeout=UP_TIMEOUT_S, env=env)
    try:
        yield failing, project, result
    finally:
        live_engine.run([*compose, "down", "--volumes", "--remove-orphans", "--timeout", "5"], timeout=180, env=env)
        left = live_engine.run(
            [live_engine.docker, "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={project}"]
        ).stdout.split()
        assert not left, f"{project} left containers behind: {left}"


def _states(live_engine, project: str, services: list[str]) -> dict[str, dict | None]:
    found = {}
    for service in services:
        containers = live_engine.containers(project, service)
        found[service] = live_engine.state(containers[0]) if containers else None
    return found


@pytest.mark.parametrize("gated_stack", ["postgres"], indirect=True)
def test_an_unhealthy_database_holds_back_migrate_the_app_and_the_worker(live_engine, gated_stack):
    failing, project, result = gated_stack
    assert result.returncode != 0, f"`up` succeeded with {failing} unhealthy:\n{result.stdout}{result.stderr}"
    deadline = time.monotonic() + 30
    while True:  # the engine marks the health it saw; read it until it says unhealthy, within the deadline
        states = _states(live_engine, project, ["postgres", "migrate", "app", "worker"])
        if (states["postgres"] or {}).get("Health", {}).get("Status") == "unhealthy" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert states["postgres"] and states["postgres"]["Health"]["Status"] == "unhealthy", states["postgres"]
    started = [service for service in ("migrate", "app", "worker") if states[service] and _started(states[service])]
    assert not started, f"started although the database never became healthy: {started}"


@pytest.mark.parametrize("gated_stack", ["app"], indirect=True)
def test_an_unhealthy_app_holds_back_the_worker_and_starts_only_after_migrate_succeeded(live_engine, gated_stack):
    failing, project, result = gated_stack
    assert result.returncode != 0, f"`up` succeeded with {failing} unhealthy:\n{result.stdout}{result.stderr}"
    states = _states(live_engine, project, ["migrate", "app", "worker"])
    migrate, app, worker = states["migrate"], states["app"], states["worker"]
    assert migrate and migrate["Status"] == "exited" and migrate["ExitCode"] == 0, f"migrate: {migrate}"
    assert app and _started(app), f"the app never started: {app}"
    assert _moment(migrate["FinishedAt"]) <= _moment(app["StartedAt"]), (
        f"the app started at {app['StartedAt']}, before migrate finished at {migrate['FinishedAt']}"
    )
    assert not (worker and _started(worker)), f"the worker started although the app was never healthy: {worker}"
