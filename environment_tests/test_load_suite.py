"""The Locust suite as users start it: `locust -f load/` from the repository root.

Locust patches the standard library with gevent when imported, so every test runs it in a
subprocess; the live ones point it at this worker's stack.
"""

import csv
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.platform_client import FakeLLMAdmin

# Short, and with every request type checked: the live runs here end in seconds.
QUICK = ("--headless", "--only-summary", "--stop-timeout", "5")


def _closed_port() -> int:
    # Bound and released: nothing listens there for the moment the test needs.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _locust(
    repo_root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOAD_"))}
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", "load/", *args],
        cwd=repo_root,
        env=environment | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _reports(tmp_path: Path) -> tuple[str, ...]:
    return ("--html", str(tmp_path / "report.html"), "--csv", str(tmp_path / "stats"))


@pytest.fixture
def run_scenario(repo_root: Path, tmp_path: Path, live_stack) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs a scenario quickly and headless against this worker's stack, its reports in tmp_path."""

    def run(scenario: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return _locust(
            repo_root,
            *QUICK,
            f"--scenario={scenario}",
            *args,
            *_reports(tmp_path),
            env=live_stack.environment() | live_stack.credentials(),
            timeout=timeout,
        )

    return run


def _run_with_load(repo_root: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run the Python `script` in an interpreter of its own with load/ importable, as Locust loads it."""
    return subprocess.run(
        [sys.executable, "-c", 'import sys\nsys.path.insert(0, "load")\n' + textwrap.dedent(script)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _stats(tmp_path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (tmp_path / "stats_stats.csv").open() as rows:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(rows)}


@pytest.mark.unit
@pytest.mark.priority_p0
def test_locust_collects_the_five_user_classes_from_load(repo_root):
    result = _locust(repo_root, "--list")
    assert result.returncode == 0, result.stderr
    users = sorted(line.strip() for line in result.stdout.splitlines()[1:] if line.strip())
    assert users == ["AssignmentUser", "BoardUser", "BurstUser", "SandboxUser", "StreamUser"], (
        f"`locust -f load/ --list` printed {result.stdout!r}"
    )


@pytest.mark.unit
@pytest.mark.priority_p0
def test_locust_without_a_platform_says_so_and_exits_non_zero(repo_root, tmp_path):
    host = f"http://127.0.0.1:{_closed_port()}"
    result = _locust(repo_root, "--headless", "--run-time", "2s", "--host", host, *_reports(tmp_path))
    assert result.returncode == 1, f"exit code {result.returncode}\n{result.stderr}"
    assert f"no Agent Squad platform at {host}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.unit
@pytest.mark.priority_p1
def test_the_generators_collector_collects_rarely_and_freezes_the_spawned_users(repo_root):
    """Locust's own collection pauses would be measured as the platform's latency (load/_collector.py)."""
    result = _run_with_load(
        repo_root,
        """
        import gc
        default_young = gc.get_threshold()[0]
        import _collector
        from locust import events
        print(default_young, gc.get_threshold()[0], _collector.YOUNG_COLLECTION_ALLOCATIONS, gc.get_freeze_count())
        users = [object() for _ in range(100)]  # what spawning made, tracked by the collector as lists are
        users = [[user] for user in users]
        events.spawning_complete.fire(user_count=len(users))
        print(gc.get_freeze_count())
        """,
    )
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.splitlines()
    default_young, young, tuned, frozen = (int(figure) for figure in before.split())
    assert young == tuned > default_young
    assert frozen == 0, "nothing is frozen before the users are spawned"
    assert int(after) >= 100, "the spawned users' objects were not frozen out of collections"


@pytest.mark.unit
@pytest.mark.priority_p1
def test_a_request_that_got_no_answer_fails_naming_why_with_either_client(repo_root):
    """Both of Locust's clients report a request refused at the socket as status 0: the failure says
    what happened instead of "got 0"; a real answer is still named by its status and body."""
    script = f"""
        from locust.clients import HttpSession
        from locust.contrib.fasthttp import FastHttpSession
        from locust.env import Environment
        from _answers import unexpected

        events = Environment().events
        for client in (HttpSession, FastHttpSession):
            session = client(base_url="http://127.0.0.1:{_closed_port()}", request_event=events.request, user=None)
            with session.get("/api/v1/tasks", catch_response=True) as response:
                print(client.__name__, unexpected(response, 204))
                response.success()

        class Answer:
            status_code, text = 503, "the database is unavailable; try again"
        print(unexpected(Answer(), 204))
        """
    result = _run_with_load(repo_root, script)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    for line, client in zip(lines, ("HttpSession", "FastHttpSession"), strict=False):
        assert line.startswith(f"{client} expected HTTP 204, got no answer (")
        assert "refused" in line.lower(), line
    assert lines[2] == "expected HTTP 204, got 503: the database is unavailable; try again"


@pytest.mark.unit
@pytest.mark.priority_p0
def test_the_slo_gate_names_each_missed_objective_and_spares_pipelines_and_harness_calls(repo_root):
    """The gate's rules on made-up statistics: delivery p99, p95 per type, pipelines and fakes apart."""
    script = textwrap.dedent(
        """
        import _slo
        from locust.stats import RequestStats

        stats = RequestStats()
        for ms in [20] * 95 + [600] * 5:              # delivery p99 600 ms: over 500
            stats.log_request("SSE", "delivery", ms, 0)
        for ms in [50] * 90 + [1500] * 10:            # API p95 1500 ms: over 1000
            stats.log_request("GET", "/api/v1/tasks", ms, 0)
        for ms in [40] * 90 + [1200] * 10:            # the burst's own names are gated too
            stats.log_request("GET", "/api/v1/tasks (burst)", ms, 0)
        for ms in [30_000] * 10:                      # 30 s pipelines: within their own 300 s
            stats.log_request("PIPELINE", "assignment -> pull request", ms, 0)
        for ms in [4_000] * 10:                       # slow fake admin calls: the harness, not the platform
            stats.log_request("POST", "fake GitHub /_fake/repos", ms, 0)
        for sentence in _slo.violations(stats, _slo.Objectives()):
            print(sentence)
        """
    )
    result = _run_with_load(repo_root, script)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "p95 of GET /api/v1/tasks is 1500 ms, above 1000 ms",
        "p95 of GET /api/v1/tasks (burst) is 1200 ms, above 1000 ms",
        "p99 of SSE event delivery is 600 ms, above 500 ms",
    ]


# Statistics of a fast run in which one request in 100 failed.
ONE_FAILED_IN_100 = """
        for _ in range(99):
            stats.log_request("GET", "/api/v1/tasks", 20, 0)
        stats.log_request("POST", "/api/v1/sandboxes", 30, 0)
        stats.log_error("POST", "/api/v1/sandboxes", "HTTP 502")
"""


def _gate(repo_root: Path, statistics: str) -> subprocess.CompletedProcess[str]:
    """Run the SLO gate's quitting listener on the statistics `statistics` (Python) logs into `stats`.

    Prints the exit code the gate leaves for Locust; the gate's own log lines go to stderr.
    """
    script = (
        textwrap.dedent(
            """
        import logging
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        import _slo
        from locust.env import Environment

        environment = Environment()
        stats = environment.stats
        """
        )
        + textwrap.dedent(statistics)
        + textwrap.dedent(
            """
        _slo.apply_slo_gate(environment)
        print(environment.process_exit_code)
        """
        )
    )
    return _run_with_load(repo_root, script)


@pytest.mark.unit
@pytest.mark.priority_p0
def test_the_slo_gate_fails_a_run_with_failed_requests_and_names_them(repo_root):
    """Fast requests do not excuse failures: one failed call in 100 misses the default ratio of 0."""
    result = _gate(repo_root, ONE_FAILED_IN_100)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1"], f"the gate left exit code {result.stdout!r}; log: {result.stderr}"
    assert (
        "SLO failed: failure ratio 1.00% (1 of 100 requests) exceeds 0.00%; failed: POST /api/v1/sandboxes (1)"
        in result.stderr
    ), result.stderr
    assert "SLO met" not in result.stderr


@pytest.mark.unit
@pytest.mark.priority_p0
def test_the_slo_gate_lets_failures_within_an_allowed_ratio_pass(repo_root):
    """The same run passes when 1 % is allowed: the ratio is a limit, not "any failure fails"."""
    result = _gate(
        repo_root,
        ONE_FAILED_IN_100
        + """
        _slo.objectives_of = lambda _environment: _slo.Objectives(max_failure_ratio=0.01)
        """,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None"], f"the gate left exit code {result.stdout!r}; log: {result.stderr}"
    assert "SLO met: 100 requests, 1 failures" in result.stderr, result.stderr


@pytest.mark.unit
@pytest.mark.priority_p0
def test_the_slo_gate_fails_a_run_that_made_no_request_at_all(repo_root):
    """An empty run measured nothing: it must not pass as "no objective missed"."""
    result = _gate(repo_root, "")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1"], f"the gate left exit code {result.stdout!r}; log: {result.stderr}"
    assert "SLO failed: no request was made, so nothing was measured" in result.stderr, result.stderr
    assert "SLO met" not in result.stderr


@pytest.mark.integration
@pytest.mark.priority_p1
@pytest.mark.slow
def test_stream_users_report_connect_first_event_and_delivery_with_no_drop(run_scenario, tmp_path):
    result = run_scenario(
        "streams",
        "--streams=20",
        "--hold-s=4",
        "--sse-viewers-per-squad=5",
        "--sse-event-interval-s=0.5",
        timeout=100,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    stats = _stats(tmp_path)
    for name in ("connect", "first event", "delivery"):
        assert ("SSE", name) in stats, f"no SSE {name} in the statistics: {sorted(stats)}"
    assert int(stats[("SSE", "connect")]["Request Count"]) >= 20
    assert int(stats[("SSE", "delivery")]["Request Count"]) > 0
    assert ("SSE", "stream") not in stats, "a stream dropped"
    assert "streams: 20 streams held" in result.stderr


@pytest.mark.integration
@pytest.mark.priority_p1
@pytest.mark.slow
def test_assignments_in_flight_all_become_exactly_one_pull_request_each(run_scenario, tmp_path):
    result = run_scenario("pipeline", "--assignments=3", "--llm-pace=modest", timeout=110)

    assert result.returncode == 0, result.stderr[-3000:]
    stats = _stats(tmp_path)
    pipeline = stats[("PIPELINE", "assignment -> pull request")]
    assert (pipeline["Request Count"], pipeline["Failure Count"]) == ("3", "0")
    assert stats[("GET", "fake GitHub pull requests per assignment")]["Failure Count"] == "0"
    assert "pipeline: 3 assignments in flight, 3 became pull requests, 0 failed, 0 lost or duplicated" in result.stderr


@pytest.mark.unit
@pytest.mark.priority_p1
def test_the_agents_count_finds_lost_and_doubled_pull_requests_and_how_many_were_in_flight(repo_root):
    script = textwrap.dedent(
        """
        from collections import Counter
        import _assignments

        assigned = Counter({"a/one": 1, "a/two": 1, "a/three": 1, "a/four": 1})
        print(_assignments.tally({"a/one": 1, "a/two": 2, "a/three": 0, "a/four": 1}, assigned, wanted=5))
        print(_assignments.tally({"a/one": 1, "a/two": 1, "a/three": 1, "a/four": 1}, assigned, wanted=4).exact)
        print(_assignments.peak_overlap([(0, 10), (1, 5), (2, 3), (3, 4), (10, 11)]))
        """
    )
    result = _run_with_load(repo_root, script)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        # one never assigned (5 wanted, 4 assigned), one with none, one with two
        "PullRequestCount(wanted=5, found=4, lost=2, duplicates=1)",
        "True",
        "3",  # 0-10, 1-5 and 2-3 at once; 3-4 starts as 2-3 ends, and 10-11 as 0-10 ends: never four
    ]


@pytest.mark.integration
@pytest.mark.priority_p1
@pytest.mark.slow
def test_agent_tasks_in_flight_end_as_one_pull_request_each_with_their_agents_events_delivered(
    run_scenario, tmp_path, live_stack
):
    result = run_scenario("agents", "--assignments=3", "--llm-pace=modest", timeout=110)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "agents: pull requests in the fake GitHub 3 (wanted 3), lost 0, duplicates 0" in result.stderr
    assert "agents: 3 of 3 assignments became pull requests" in result.stderr
    assert "the fake LLM streams at 100 ms to the first token, then 3 ms a token" in result.stderr
    stats = _stats(tmp_path)
    assert int(stats[("SSE", "delivery")]["Request Count"]) > 3 * 20, "the agents' events were not all timed"
    assert stats[("POST", "fake LLM /_fake/scripts")]["Failure Count"] == "0"
    llm = FakeLLMAdmin(live_stack.llm_url)
    try:
        assert llm.latency() == {"time_to_first_token_ms": 0, "per_token_ms": 0}, "the run left its pace on the fake"
    finally:
        llm.close()


@pytest.mark.integration
@pytest.mark.priority_p1
@pytest.mark.slow
def test_agent_tasks_that_never_became_pull_requests_fail_the_agents_run(run_scenario):
    result = run_scenario(
        "agents",
        "--assignments=2",
        "--llm-pace=modest",
        # No pipeline ends this soon: every assignment gives up before its pull request opens.
        "--pipeline-timeout-s=0.2",
        timeout=110,
    )

    assert result.returncode == 1, result.stderr[-3000:]
    assert "agents: pull requests in the fake GitHub 0 (wanted 2), lost 2, duplicates 0" in result.stderr


@pytest.mark.integration
@pytest.mark.priority_p2
@pytest.mark.slow
def test_stress_that_no_step_can_meet_reports_no_sustainable_rate_and_fails(run_scenario, tmp_path):
    result = run_scenario(
        "stress",
        "--stress-step-users=2",
        "--stress-step-s=10",
        "--stress-p95-ms=0.001",  # no request answers that fast: the first step breaks
        timeout=100,
    )

    assert result.returncode == 1, result.stderr[-3000:]
    assert "stress: step 1, 2 users" in result.stderr
    assert "no sustainable rate" in result.stderr


@pytest.mark.integration
@pytest.mark.priority_p2
@pytest.mark.slow
def test_stress_against_a_platform_that_limits_each_squad_says_so_and_how_to_measure_it(run_scenario):
    """The live stack runs with the platform's default per-squad limit, below a stress user's rate."""
    result = run_scenario("stress", "--stress-step-users=2", "--stress-step-s=10", timeout=100)

    assert result.returncode == 1, result.stderr[-3000:]
    assert "stress: the platform answered 429" in result.stderr, result.stderr[-3000:]
    assert "SQUAD_RATE_LIMIT_PER_S=0" in result.stderr
