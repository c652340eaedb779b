"""`make test-compose`: the compose environment built, run and checked with a real container engine.

    python -m tools.compose_run [--base-images auto|official|standin] [--up-timeout-s 240]

1. The engine: Docker's, answering at DOCKER_HOST or its default socket; when none answers and the
   machine has Debian's docker.io (`make compose-engine` installs it), a dockerd started for this run
   and stopped after it. Compose is `docker compose` (v2) where the CLI has it, else Debian's
   `docker-compose` (v1).
2. The base images (tools/base_images.py): cached, pulled, or local stand-ins built from Debian packages.
3. The project's images: runtime, browser and load (`compose build`).
4. The test stack (docker-compose.test.yml) up, every service waited for until healthy (migrate:
   until it exited 0), with a deadline; then against it, in external mode: the live backend tests
   (backend_tests/e2e but OWN_PROCESSES, and the SSE tests) from this machine, the browser profile
   (frontend_tests/flows in the browser image) and the load profile (the smoke, a master and two
   workers); then that stack down.
5. The deployment (docker-compose.deploy.yml, against the fakes with deploy/compose.fakes.yml) up
   behind nginx: the SSE tests through nginx, environment_tests/live_compose (nginx, the health
   gating, the images' contents) and a browser flow through nginx.
6. Everything torn down (containers, networks, volumes; the images stay cached for the next run),
   on failure and on Ctrl-C too; then a check that nothing of the run is left.

Each step prints one line with its time; the run ends with a table of the steps (also in
reports/compose/steps.txt) and exits 1 when any failed.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fixtures.stack import free_port
from tools import base_images

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports" / "compose"
TEST_FILES = ["docker-compose.test.yml"]
DEPLOY_FILES = ["docker-compose.deploy.yml", "deploy/compose.fakes.yml"]
TEST_PROJECT = "squad-compose-test"
DEPLOY_PROJECT = "squad-compose-deploy"
# Services that run once and exit: ready when they exited 0 (what service_completed_successfully waits for).
ONE_SHOT = {"migrate"}
# The credentials docker-compose.test.yml gives its fakes and its runners (x-test-credentials there).
TEST_CREDENTIALS = {
    "E2B_API_KEY": "e2b_compose_test_key",
    "GITHUB_TOKEN": "ghp_compose_test_token",
    "SQUAD_ADMIN_TOKEN": "sqadmin_compose_test_token_000000000000000000000000000000000",
    "LLM_API_KEY": "sk-compose-test-key",
}
# The deployment's own, made up for the run: the fakes accept exactly these (deploy/compose.fakes.yml).
DEPLOY_CREDENTIALS = {
    "E2B_API_KEY": "e2b_compose_deploy_key",
    "GITHUB_TOKEN": "ghp_compose_deploy_token",
    "SQUAD_ADMIN_TOKEN": "sqadmin_compose_deploy_token_00000000000000000000000000000000",
    "LLM_API_KEY": "sk-compose-deploy-key",
    "POSTGRES_PASSWORD": "compose-deploy-database",
    "ALLOWED_REPOSITORIES": "squad-tests/*,squad-demo/*",
}
# What must not leak from make's environment into the suites pointed at the containers.
NOT_INHERITED = ("SQUAD_BASE_URL", "FAKE_E2B_URL", "FAKE_GITHUB_URL", "FAKE_LLM_URL", "TEST_DATABASE_URL")
# The e2e tests that start platform and worker processes of their own on this machine (to kill them):
# they would test those processes, not the containers, so the compose run leaves them to make test.
OWN_PROCESSES = ["backend_tests/e2e/test_worker_restart.py", "backend_tests/e2e/test_worker_takeover_time.py"]
# The event-stream tests (the live ones: they open real streams). Through nginx, the one that reads the
# platform's /metrics is left out: nginx keeps /metrics inside the network (deploy/nginx/squad.conf).
SSE_TESTS = "backend_tests/integration/test_sse_stream.py"
METRICS_TEST = "not leaves_no_stream_behind"
# A browser flow through nginx: the board live over the event stream.
NGINX_BROWSER_FLOW = "frontend_tests/flows/test_real_time_updates.py"
DAEMON_START_S = 60.0
DAEMON_STOP_S = 30.0


class ComposeRunError(RuntimeError):
    """A step could not go on; the message says why."""


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Engine:
    docker: str  # the docker CLI
    compose: list[str]  # `docker compose` or `docker-compose`
    env: dict[str, str]  # the environment of every engine command
    daemon: subprocess.Popen | None = None  # a dockerd started by this run

    @property
    def compose_version(self) -> str:
        return "v2 (docker compose)" if self.compose[-1] == "compose" else "v1 (docker-compose)"

    def run(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        capture: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=ROOT,
            env=self.env | (env or {}),
            text=True,
            timeout=timeout,
            capture_output=capture,
        )

    def compose_argv(self, project: str, files: Sequence[str], *arguments: str) -> list[str]:
        return [*self.compose, "-p", project, *(f"--file={name}" for name in files), *arguments]


@dataclass
class Run:
    args: argparse.Namespace
    steps: list[Step] = field(default_factory=list)
    engine: Engine | None = None
    projects: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Time one step; its body may append a detail. A failure is recorded and raised again."""
        detail: list[str] = []
        print(f"[compose] {name} ...", flush=True)
        started = time.monotonic()
        try:
            yield detail
        except BaseException as error:
            seconds = time.monotonic() - started
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.steps.append(Step(name, False, seconds, reason))
            print(f"[compose] {name}: FAILED after {seconds:.0f} s: {error}", flush=True)
            raise
        seconds = time.monotonic() - started
        self.steps.append(Step(name, True, seconds, "; ".join(detail)))
        print(f"[compose] {name}: ok in {seconds:.0f} s{': ' + '; '.join(detail) if detail else ''}", flush=True)

    def check(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> bool:
        """A test command: its failure is recorded and the run goes on to the next one."""
        try:
            with self.step(name):
                result = subprocess.run(list(argv), cwd=ROOT, env=env, timeout=self.args.suite_timeout_s)
                if result.returncode != 0:
                    raise ComposeRunError(f"exit code {result.returncode}")
        except ComposeRunError:
            return False
        return True


# --- the engine --------------------------------------------------------------------------------------


def _docker_cli() -> tuple[str, dict[str, str]]:
    """The docker CLI to use, and the environment that makes its builds use BuildKit.

    Docker's own CLI builds with BuildKit through its buildx plugin; Debian's docker.io CLI
    (/usr/bin/docker) has BuildKit built in. A CLI with neither uses the classic builder, which
    builds every stage of the Dockerfile, not only the target's."""
    on_path = shutil.which("docker")
    if on_path and subprocess.run([on_path, "buildx", "version"], capture_output=True).returncode == 0:
        return on_path, {"DOCKER_BUILDKIT": "1"}
    debian = "/usr/bin/docker"
    if Path(debian).exists():
        return debian, {"DOCKER_BUILDKIT": "1"}
    if on_path:
        return on_path, {"DOCKER_BUILDKIT": "0"}
    raise ComposeRunError("no docker CLI: `make compose-engine` installs Debian's docker.io")


def start_engine(log_dir: Path) -> Engine:
    docker, build_env = _docker_cli()
    # Compose v1 builds through the CLI (COMPOSE_DOCKER_CLI_BUILD), so the same CLI must come first on PATH.
    env = dict(os.environ) | build_env | {"COMPOSE_DOCKER_CLI_BUILD": "1"}
    env["PATH"] = f"{Path(docker).parent}:{env.get('PATH', '')}"
    if subprocess.run([docker, "compose", "version"], capture_output=True, env=env).returncode == 0:
        compose = [docker, "compose"]
    elif shutil.which("docker-compose"):
        compose = [shutil.which("docker-compose") or "docker-compose"]
    else:
        raise ComposeRunError("no Compose: neither `docker compose` nor `docker-compose` (make compose-engine)")
    engine = Engine(docker, compose, env)
    if engine.run([docker, "info"], timeout=30).returncode == 0:
        return engine
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        raise ComposeRunError(
            "no container engine answers (docker info), and none can be started here: run as root with "
            "Debian's docker.io installed (`make compose-engine`), or start Docker and set DOCKER_HOST"
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / "dockerd.log").open("w")
    engine.daemon = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.monotonic() + DAEMON_START_S
    while time.monotonic() < deadline:
        if engine.daemon.poll() is not None:
            raise ComposeRunError(f"dockerd exited with code {engine.daemon.returncode}; see {log_dir}/dockerd.log")
        if engine.run([docker, "info"], timeout=10).returncode == 0:
            return engine
        time.sleep(0.25)  # polling interval while dockerd starts, bounded by the deadline
    stop_engine(engine)
    raise ComposeRunError(f"dockerd did not answer within {DAEMON_START_S:.0f} s; see {log_dir}/dockerd.log")


def stop_engine(engine: Engine) -> None:
    daemon = engine.daemon
    if daemon is None or daemon.poll() is not None:
        return
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=DAEMON_STOP_S)
    except subprocess.TimeoutExpired:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()


# --- stacks ------------------------------------------------------------------------------------------


def containers_argv(docker: str, project: str, service: str) -> list[str]:
    """The docker command that lists the ids of a compose service's containers, stopped ones too."""
    return [
        docker,
        "ps",
        "-a",
        "-q",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--filter",
        f"label=com.docker.compose.service={service}",
    ]


def container_state(engine: Engine, project: str, service: str) -> dict | None:
    """The engine's State of a service's (first) container, or None when it has none."""
    ids = engine.run(containers_argv(engine.docker, project, service), timeout=30).stdout.split()
    if not ids:
        return None
    inspected = engine.run([engine.docker, "inspect", "--format", "{{json .State}}", ids[0]], timeout=30)
    return json.loads(inspected.stdout) if inspected.returncode == 0 else None


def readiness(state: dict | None, service: str) -> str:
    """'ready', 'failed: ...' or 'waiting: ...' for one container's State."""
    if state is None:
        return "waiting: no container yet"
    status = state.get("Status")
    if service in ONE_SHOT:
        if status == "exited":
            code = state.get("ExitCode")
            return "ready" if code == 0 else f"failed: exited with code {code}"
        return f"waiting: {status}"
    if status == "exited":
        return f"failed: exited with code {state.get('ExitCode')}"
    health = (state.get("Health") or {}).get("Status")
    if health == "healthy":
        return "ready"
    if health == "unhealthy":
        return "failed: unhealthy"
    return f"waiting: {status}, health {health}"


def wait_until_ready(engine: Engine, project: str, services: Sequence[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {service: readiness(container_state(engine, project, service), service) for service in services}
        failed = {service: state for service, state in states.items() if state.startswith("failed")}
        if failed:
            raise ComposeRunError(f"{project}: {failed}\n{logs_tail(engine, project, list(failed))}")
        if all(state == "ready" for state in states.values()):
            return
        time.sleep(0.5)  # polling interval between health reads, bounded by the deadline
    raise ComposeRunError(f"{project} not ready within {timeout_s:.0f} s: {states}")


def logs_tail(engine: Engine, project: str, services: Sequence[str], lines: int = 25) -> str:
    out = []
    for service in services:
        state_ids = engine.run(containers_argv(engine.docker, project, service), timeout=30).stdout.split()
        for container in state_ids[:1]:
            logs = engine.run([engine.docker, "logs", "--tail", str(lines), container], timeout=30)
            out.append(f"--- {service} (last {lines} lines)\n{logs.stdout}{logs.stderr}")
    return "\n".join(out)


def services_of(engine: Engine, project: str, files: Sequence[str], env: dict[str, str]) -> list[str]:
    """The services `up` starts without a profile. Compose v1's `config --services` lists the
    profiled ones too, so the merged file is read instead (both print it as YAML)."""
    merged = engine.run(engine.compose_argv(project, files, "config"), env=env, timeout=60)
    if merged.returncode != 0:
        raise ComposeRunError(f"compose config failed: {merged.stderr}")
    services = yaml.safe_load(merged.stdout)["services"]
    return sorted(name for name, service in services.items() if not service.get("profiles"))


def up(run: Run, project: str, files: list[str], env: dict[str, str]) -> None:
    engine = run.engine
    assert engine is not None
    run.projects[project] = (files, env)
    services = services_of(engine, project, files, env)
    started = engine.run(
        engine.compose_argv(project, files, "up", "--detach", "--no-build"), env=env, timeout=run.args.up_timeout_s
    )
    if started.returncode != 0:
        raise ComposeRunError(f"compose up failed:\n{started.stderr[-3000:]}")
    wait_until_ready(engine, project, services, run.args.up_timeout_s)


def down(run: Run, project: str) -> None:
    engine = run.engine
    if engine is None or project not in run.projects:
        return
    files, env = run.projects.pop(project)
    # Every profile, so the runners' containers go too.
    result = engine.run(
        engine.compose_argv(
            project,
            files,
            "--profile",
            "browser",
            "--profile",
            "load",
            "down",
            "--volumes",
            "--remove-orphans",
            "--timeout",
            "10",
        ),
        env=env,
        timeout=180,
    )
    if result.returncode != 0:
        print(f"[compose] {project} down failed: {result.stderr}", file=sys.stderr)


def leftovers(engine: Engine) -> list[str]:
    """Containers, networks and volumes of this run's projects still there."""
    found = []
    for project in (TEST_PROJECT, DEPLOY_PROJECT):
        label = f"label=com.docker.compose.project={project}"
        for kind in (["ps", "-a", "-q"], ["network", "ls", "-q"], ["volume", "ls", "-q"]):
            listed = engine.run([engine.docker, *kind, "--filter", label], timeout=30).stdout.split()
            found += [f"{project} {kind[0]} {item}" for item in listed]
    return found


# --- the run -----------------------------------------------------------------------------------------


def suite_env(targets: dict[str, str], credentials: dict[str, str]) -> dict[str, str]:
    environ = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    return environ | targets | credentials


def test_stack_env(ports: dict[str, int]) -> dict[str, str]:
    return {
        "SQUAD_PORT_APP": str(ports["app"]),
        "SQUAD_PORT_FAKE_E2B": str(ports["fake-e2b"]),
        "SQUAD_PORT_FAKE_GITHUB": str(ports["fake-github"]),
        "SQUAD_PORT_FAKE_LLM": str(ports["fake-llm"]),
        "SQUAD_PORT_POSTGRES": str(ports["postgres"]),
    }


def targets_on_loopback(platform_port: int, ports: dict[str, int]) -> dict[str, str]:
    return {
        "SQUAD_BASE_URL": f"http://127.0.0.1:{platform_port}",
        "FAKE_E2B_URL": f"http://127.0.0.1:{ports['fake-e2b']}",
        "FAKE_GITHUB_URL": f"http://127.0.0.1:{ports['fake-github']}",
        "FAKE_LLM_URL": f"http://127.0.0.1:{ports['fake-llm']}",
    }


def pytest_argv(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments]


def browser_tests_argv(engine: Engine, project: str, files: Sequence[str], tests: str, junit: str) -> list[str]:
    """Compose running `tests` with pytest in the browser image, once, against the project's stack."""
    browser = ("--profile", "browser", "run", "--rm", "browser-tests", "python", "-m", "pytest", tests)
    return engine.compose_argv(project, files, *browser, "-p", "no:cacheprovider", f"--junitxml={junit}")


def run_all(run: Run) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (ROOT / "reports" / "junit").mkdir(parents=True, exist_ok=True)
    (ROOT / "reports" / "load" / "compose").mkdir(parents=True, exist_ok=True)
    with run.step("engine") as detail:
        run.engine = engine = start_engine(REPORTS)
        version = engine.run([engine.docker, "version", "--format", "{{.Server.Version}}"], timeout=30).stdout.strip()
        detail.append(
            f"Docker Engine {version}{' (started here)' if engine.daemon else ''}, Compose {engine.compose_version}"
        )
    with run.step("base images") as detail:
        outcome = base_images.ensure(engine.docker, list(base_images.IMAGES), run.args.base_images)
        detail.append(", ".join(f"{name} {what}" for name, what in outcome.items()))
    with run.step("build the runtime, browser and load images") as detail:
        built = engine.run(
            engine.compose_argv(TEST_PROJECT, TEST_FILES, "--profile", "browser", "--profile", "load", "build"),
            timeout=3600,
        )
        # BuildKit's progress runs to thousands of lines: kept in a file, its end shown on failure.
        build_log = REPORTS / "build.log"
        build_log.write_text(built.stdout + built.stderr)
        if built.returncode != 0:
            output_end = (built.stdout + built.stderr)[-3000:]
            raise ComposeRunError(f"compose build failed with code {built.returncode} ({build_log}):\n{output_end}")
        detail.append(f"log in {build_log.relative_to(ROOT)}")
    # The runners write into ./reports as whoever runs this (SQUAD_USER in the compose files).
    user = {"SQUAD_USER": f"{os.getuid()}:{os.getgid()}"}

    ports = {name: free_port() for name in ("app", "fake-e2b", "fake-github", "fake-llm", "postgres")}
    test_env = test_stack_env(ports) | user
    with run.step("test stack up, healthy"):
        up(run, TEST_PROJECT, TEST_FILES, test_env)
    targets = targets_on_loopback(ports["app"], ports)
    run.check(
        "backend e2e and SSE tests against the test stack",
        pytest_argv(
            "backend_tests/e2e",
            SSE_TESTS,
            *(f"--ignore={path}" for path in OWN_PROCESSES),
            "-n",
            "0",
            "--junitxml=reports/junit/compose-backend.xml",
        ),
        suite_env(targets, TEST_CREDENTIALS),
    )
    run.check(
        "browser profile (frontend_tests/flows in the browser image)",
        browser_tests_argv(
            engine, TEST_PROJECT, TEST_FILES, "frontend_tests/flows", "reports/junit/compose-frontend.xml"
        ),
        engine.env | test_env,
    )
    run.check(
        "load profile (the smoke: a Locust master and two workers)",
        engine.compose_argv(
            TEST_PROJECT,
            TEST_FILES,
            "--profile",
            "load",
            "up",
            "--no-build",
            "--exit-code-from",
            "locust-master",
            "locust-master",
            "locust-worker",
        ),
        engine.env | test_env,
    )
    with run.step("test stack down"):
        down(run, TEST_PROJECT)

    deploy_ports = {name: free_port() for name in ("nginx", "fake-e2b", "fake-github", "fake-llm")}
    deploy_env = (
        DEPLOY_CREDENTIALS
        | user
        | {
            "SQUAD_HTTP_PORT": str(deploy_ports["nginx"]),
            "SQUAD_HTTP_BIND": "127.0.0.1",
            "SQUAD_PORT_FAKE_E2B": str(deploy_ports["fake-e2b"]),
            "SQUAD_PORT_FAKE_GITHUB": str(deploy_ports["fake-github"]),
            "SQUAD_PORT_FAKE_LLM": str(deploy_ports["fake-llm"]),
            # The operator's variables, pointed at the fakes (deploy/compose.fakes.yml).
            "E2B_API_URL": "http://fake-e2b:8001",
            "E2B_SANDBOX_URL": "http://fake-e2b:8001",
            "GITHUB_API_URL": "http://fake-github:8002",
            "LLM_API_URL": "http://fake-llm:8003/v1",
            # As the suites' own stacks: a heartbeat each second, so the SSE tests see one soon.
            "SSE_HEARTBEAT_S": "1",
            "SSE_POLL_INTERVAL_S": "0.5",
        }
    )
    with run.step("deployment (nginx, app, worker, PostgreSQL) against the fakes up, healthy"):
        up(run, DEPLOY_PROJECT, DEPLOY_FILES, deploy_env)
    nginx_targets = targets_on_loopback(deploy_ports["nginx"], deploy_ports)
    credentials = {name: DEPLOY_CREDENTIALS[name] for name in TEST_CREDENTIALS}
    live_env = suite_env(nginx_targets, credentials) | {
        "SQUAD_COMPOSE_DOCKER": engine.docker,
        "SQUAD_COMPOSE_COMMAND": json.dumps(engine.compose),
        "SQUAD_COMPOSE_DEPLOY_PROJECT": DEPLOY_PROJECT,
        "DOCKER_BUILDKIT": engine.env.get("DOCKER_BUILDKIT", "1"),
        "PATH": engine.env["PATH"],
    }
    run.check(
        "SSE tests through nginx, and environment_tests/live_compose",
        pytest_argv(
            SSE_TESTS,
            "environment_tests/live_compose",
            "-k",
            METRICS_TEST,
            "-n",
            "0",
            "--junitxml=reports/junit/compose-nginx.xml",
        ),
        live_env,
    )
    run.check(
        "browser flow through nginx",
        browser_tests_argv(
            engine, DEPLOY_PROJECT, DEPLOY_FILES, NGINX_BROWSER_FLOW, "reports/junit/compose-frontend-nginx.xml"
        ),
        engine.env | deploy_env,
    )


def teardown(run: Run) -> None:
    engine = run.engine
    if engine is None:
        return
    started = time.monotonic()
    for project in list(run.projects):
        down(run, project)
    left = leftovers(engine) if engine.run([engine.docker, "info"], timeout=30).returncode == 0 else []
    stop_engine(engine)
    ok = not left
    run.steps.append(Step("teardown", ok, time.monotonic() - started, f"left: {left}" if left else "nothing left"))
    print(f"[compose] teardown: {'ok' if ok else 'FAILED'}{'' if ok else f': left {left}'}", flush=True)


def summary(run: Run, total_s: float) -> str:
    width = max(len(step.name) for step in run.steps) if run.steps else 10
    lines = [f"{'step':<{width}}  result  seconds  detail"]
    lines += [f"{s.name:<{width}}  {'ok' if s.ok else 'FAILED':<6}  {s.seconds:7.0f}  {s.detail}" for s in run.steps]
    lines.append(f"{'total':<{width}}  {'ok' if all(s.ok for s in run.steps) else 'FAILED':<6}  {total_s:7.0f}")
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compose_run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-images",
        choices=base_images.SOURCES,
        default="auto",
        help="official (pull), standin (build from Debian packages) or auto (pull, else stand-in)",
    )
    parser.add_argument("--up-timeout-s", type=float, default=240.0, help="deadline for a stack to be healthy")
    parser.add_argument("--suite-timeout-s", type=float, default=900.0, help="deadline for each suite run")
    args = parser.parse_args(argv)
    run = Run(args)
    # SIGTERM (a CI's cancel) ends the run as Ctrl-C does: through the teardown below.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        run_all(run)
    except (ComposeRunError, base_images.BaseImageError, subprocess.TimeoutExpired):
        pass  # recorded by its step
    except KeyboardInterrupt:
        run.steps.append(Step("interrupted", False, 0.0, "Ctrl-C or SIGTERM"))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the teardown short
        teardown(run)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    table = summary(run, time.monotonic() - started)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "steps.txt").write_text(table + "\n")
    print(table)
    return 0 if run.steps and all(step.ok for step in run.steps) else 1


if __name__ == "__main__":
    sys.exit(main())
