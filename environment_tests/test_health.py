"""`make health` (tools/health.py): one line per service, which is down and how to start it,
and a non-zero exit status when any is down."""

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fixtures.postgres import PostgresUnavailable, throwaway_cluster
from tools import health

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

TARGET_VARIABLES = ("SQUAD_BASE_URL", "FAKE_E2B_URL", "FAKE_GITHUB_URL", "FAKE_LLM_URL", "TEST_DATABASE_URL")


def _closed_port() -> int:
    # Bound and released: nothing listens there for the moment the test needs.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _health(repo_root, environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if name not in TARGET_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "tools.health", *args],
        cwd=repo_root,
        env=clean | environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _line_of(output: str, service: str) -> str:
    lines = [
        line
        for line in output.splitlines()
        if line.split()[:2] in (["ok", service], ["DOWN", service], ["skip", service])
    ]
    assert len(lines) == 1, f"expected one line for {service}:\n{output}"
    return lines[0]


@pytest.fixture
def unhealthy_platform() -> Iterator[str]:
    """A server that answers /health as the platform does when its database is gone."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status": "unavailable", "database": "OperationalError"}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_make_health_runs_the_health_check(repo_root):
    result = subprocess.run(["make", "-n", "health"], cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "-m tools.health" in result.stdout, result.stdout


def test_every_service_of_a_running_stack_is_up(repo_root, native_stack):
    result = _health(repo_root, native_stack.environment())
    assert result.returncode == 0, result.stdout + result.stderr
    for service in ("platform", "fake-e2b", "fake-github", "fake-llm"):
        assert _line_of(result.stdout, service).startswith("ok "), result.stdout
    assert _line_of(result.stdout, "postgres").startswith("skip "), result.stdout
    assert "TEST_DATABASE_URL not set" in _line_of(result.stdout, "postgres")
    assert result.stdout.rstrip().endswith("every service checked is up"), result.stdout


def test_a_service_on_a_dead_port_is_named_down_with_how_to_start_it(repo_root, native_stack):
    dead = f"http://127.0.0.1:{_closed_port()}"
    result = _health(repo_root, native_stack.environment() | {"FAKE_E2B_URL": dead})
    assert result.returncode == 1, result.stdout + result.stderr
    down = _line_of(result.stdout, "fake-e2b")
    assert down.startswith("DOWN ") and f"{dead}/health" in down and "cannot connect" in down, down
    assert "FAKE_E2B_URL points here" in result.stdout and "`make up`" in result.stdout, result.stdout
    assert _line_of(result.stdout, "platform").startswith("ok "), result.stdout
    assert _line_of(result.stdout, "fake-github").startswith("ok "), result.stdout
    assert result.stdout.rstrip().endswith("down: fake-e2b"), result.stdout


def test_without_variables_it_checks_the_make_up_ports():
    results = health.check(("platform", "fake-e2b", "fake-github", "fake-llm"), environ={}, timeout=0.5)
    assert [result.target for result in results] == [
        "http://127.0.0.1:8000/health",
        "http://127.0.0.1:8001/health",
        "http://127.0.0.1:8002/_fake/health",
        "http://127.0.0.1:8003/_fake/health",
    ]
    for result in results:
        if result.down:
            assert "start it with `make up`" in result.hint, result.hint


def test_a_platform_whose_database_is_gone_is_down_with_that_reason(unhealthy_platform):
    [result] = health.check(("platform",), environ={"SQUAD_BASE_URL": unhealthy_platform}, timeout=2)
    assert result.down and result.detail.startswith("HTTP 503"), result
    assert "database" in result.hint and "DATABASE_URL" in result.hint, result.hint


def test_an_unreachable_test_database_is_down_and_its_password_is_not_shown(repo_root):
    url = f"postgresql://squad:hunter2secret@127.0.0.1:{_closed_port()}/squad"
    result = _health(repo_root, {"TEST_DATABASE_URL": url}, "postgres")
    assert result.returncode == 1, result.stdout + result.stderr
    line = _line_of(result.stdout, "postgres")
    assert line.startswith("DOWN ") and "127.0.0.1" in line, line
    assert "hunter2secret" not in result.stdout + result.stderr, result.stdout
    assert "unset it (the suites then use SQLite" in result.stdout, result.stdout


def test_a_database_that_answers_is_up(repo_root, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'up.db'}"
    result = _health(repo_root, {}, "postgres", "--database-url", url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _line_of(result.stdout, "postgres").startswith("ok "), result.stdout


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """TEST_DATABASE_URL when set; otherwise a throwaway cluster from the machine's PostgreSQL binaries."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    try:
        with throwaway_cluster() as url:
            yield url
    except PostgresUnavailable as missing:
        pytest.skip(f"no PostgreSQL to check: {missing}")


def test_a_postgresql_server_that_answers_is_up(postgres_url):
    [result] = health.check(("postgres",), environ={"TEST_DATABASE_URL": postgres_url})
    assert result.state == "ok", result


def test_an_unknown_service_is_refused_with_the_known_ones(repo_root):
    result = _health(repo_root, {}, "redis")
    assert result.returncode == 2
    assert "platform, fake-e2b, fake-github, fake-llm, postgres" in result.stderr, result.stderr
