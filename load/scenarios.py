"""Scenario shapes: which users run, how many, for how long, and when the run is over.

Choose one with `--scenario NAME` (or LOAD_SCENARIO, or `scenario = NAME` in a config file):

    manual    (default) plain Locust: --users/--spawn-rate/--run-time or the web UI, all user classes
    smoke     the suite's target figures at once: 10 sandbox creations released at the same instant
              (sandbox_user.py), 50 open streams, a burst of 100 API calls back to back
              (burst_user.py), 10 assignments in flight and board users making their API calls;
              over when the sandboxes were created and destroyed, the burst fired, every
              assignment ended and the streams were held 20 s (at most 50 s). CI runs it.
    stress    board users reading the board (no writes, no assignments: the API alone, about fifty
              requests a second each unless --board-wait-s says otherwise) in steps of --stress-step-users every
              --stress-step-s seconds, until a step misses the API objective (p95 within
              --stress-p95-ms, no failure); reports the knee: the highest request rate that still
              met it. Exit 0 when a knee was found. Run the platform with SQUAD_RATE_LIMIT_PER_S=0:
              its per-squad limit (20 a second by default) is below each user's rate.
    soak      a steady mix (20 board users, 100 streams, 5 assignment users) for --soak-minutes.
    streams   --streams stream users (default 1000), held --hold-s seconds (default 60) once all
              are connected; reports drops and delivery p99.
    pipeline  --assignments assignment users (default 100) with one assignment each, in flight at
              once; reports how many pull requests they became and how long it took.
    agents    the same, judged as the target "N agent tasks in flight with realistic latency end as
              N pull requests, none lost or doubled": reports the time to the last pull request,
              per-task p50/p95, the pull requests the fake GitHub holds for them (REST, state=all),
              lost and duplicated ones, agents at work at once and event delivery; exit 1 when any
              was lost or doubled. `make bench-agents` runs it with 100 against a fresh stack.

Assignment users script their agents' conversations in the fake LLM (load/_agent_turns.py), which
streams at the run's pace (--llm-pace, load/_fakes.py): modest for smoke, realistic otherwise.

The shape runs on the master (or the only process); Locust passes the options on to the workers.
Every scenario but stress is judged by the SLO gate (load/_slo.py).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import _assignments
import _collector  # noqa: F401  (keeps the generator's own collection pauses out of the figures)
import _fakes
import _figures
import _preflight  # noqa: F401  (registers the start-up check of the targets)
import _slo
from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats, StatsEntry, calculate_response_time_percentile

SCENARIOS = ("manual", "smoke", "stress", "soak", "streams", "pipeline", "agents")
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/v1"

log = logging.getLogger("scenario")


@events.init_command_line_parser.add_listener
def add_scenario_options(parser, **_kwargs: object) -> None:
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="manual",
        env_var="LOAD_SCENARIO",
        include_in_web_ui=False,
        help="the load shape: " + ", ".join(SCENARIOS) + " (default manual: --users/--spawn-rate or the web UI)",
    )
    parser.add_argument("--streams", type=int, default=1000, env_var="LOAD_STREAMS", help="streams: how many")
    parser.add_argument("--hold-s", type=float, default=60, env_var="LOAD_HOLD_S", help="streams: seconds held")
    parser.add_argument(
        "--assignments",
        type=int,
        default=100,
        env_var="LOAD_ASSIGNMENTS",
        help="pipeline, agents: assignments in flight",
    )
    parser.add_argument("--stress-step-users", type=int, default=4, env_var="LOAD_STRESS_STEP_USERS")
    parser.add_argument("--stress-step-s", type=float, default=20, env_var="LOAD_STRESS_STEP_S")
    parser.add_argument("--stress-max-steps", type=int, default=30, env_var="LOAD_STRESS_MAX_STEPS")
    parser.add_argument(
        "--stress-p95-ms",
        type=float,
        default=100,
        env_var="LOAD_STRESS_P95_MS",
        help="stress: the p95 of the board's reads a step must stay within (default 100)",
    )
    parser.add_argument("--soak-minutes", type=float, default=30, env_var="LOAD_SOAK_MINUTES")


def api_entries(stats: RequestStats) -> list[StatsEntry]:
    """The platform's API calls (not the fakes' admin calls, streams or pipelines)."""
    return [e for e in stats.entries.values() if e.method in HTTP_METHODS and e.name.startswith(API_PREFIX)]


def _entry(stats: RequestStats, method: str, name: str) -> StatsEntry | None:
    return stats.entries.get((name, method))


def _count(stats: RequestStats, method: str, name: str) -> int:
    entry = _entry(stats, method, name)
    return entry.num_requests if entry else 0


class Scenario:
    """One scenario: `tick` is LoadTestShape.tick, `report` prints what the run showed."""

    def __init__(self, shape: "ScenarioShape", environment: Environment) -> None:
        self.shape = shape
        self.environment = environment
        self.options = environment.parsed_options

    @property
    def stats(self) -> RequestStats:
        return self.environment.stats

    def users(self, counts: dict[str, int], spawn_rate: float) -> tuple[int, float, list]:
        """A tick starting exactly `counts` users of the named classes."""
        classes = [self.environment.available_user_classes[name] for name in counts]
        for user_class in classes:
            # A mix of classes is held by fixed counts (read by the master's dispatcher, which looks at
            # them again only when the classes change: mixes keep their counts for the whole run). One
            # class is dispatched by weight, so its count can change from tick to tick (stress).
            user_class.fixed_count = counts[user_class.__name__] if len(classes) > 1 else 0
        return sum(counts.values()), spawn_rate, classes

    def tick(self, elapsed: float) -> tuple | None:
        raise NotImplementedError

    def report(self) -> None:
        """Lines for the log when the run is over."""


class Smoke(Scenario):
    COUNTS = {"SandboxUser": 10, "BurstUser": 1, "AssignmentUser": 10, "StreamUser": 50, "BoardUser": 10}
    SPAWN_RATE = 15.0
    MIN_S, MAX_S, API_CALLS = 20.0, 50.0, 100
    BURST_SUFFIX = " (burst)"  # the burst's request names (burst_user.py)

    def tick(self, elapsed: float) -> tuple | None:
        if elapsed >= self.MAX_S or (elapsed >= self.MIN_S and self._goals_met()):
            return None
        return self.users(self.COUNTS, self.SPAWN_RATE)

    def _goals_met(self) -> bool:
        assignments = _count(self.stats, _slo.PIPELINE, _slo.PIPELINE_TO_PULL_REQUEST)
        api_calls = sum(e.num_requests for e in api_entries(self.stats))
        return (
            assignments >= self.COUNTS["AssignmentUser"]
            and api_calls >= self.API_CALLS
            and self._volley_done()
            and len(_figures.received("burst")) >= self.COUNTS["BurstUser"]
        )

    def _volley_done(self) -> bool:
        """Every process's sandbox users finished their volley (each process reports its own)."""
        return sum(f["expected"] for f in _figures.received("sandboxes")) >= self.COUNTS["SandboxUser"]

    def report(self) -> None:
        assignments = _entry(self.stats, _slo.PIPELINE, _slo.PIPELINE_TO_PULL_REQUEST)
        done = assignments.num_requests - assignments.num_failures if assignments else 0
        api_calls = sum(e.num_requests for e in api_entries(self.stats))
        log.info(
            "smoke: %d of %d assignments became pull requests, %d API calls, %d streams",
            done,
            self.COUNTS["AssignmentUser"],
            api_calls,
            self.COUNTS["StreamUser"],
        )
        _report_agents("smoke", self.stats)
        missed = [self._report_sandboxes(), self._report_burst()]
        if any(missed):
            for sentence in filter(None, missed):
                log.error("smoke: %s", sentence)
            self.environment.process_exit_code = 1

    def _report_sandboxes(self) -> str | None:
        """The sandbox volley's line; what it missed, or None."""
        volleys = _figures.received("sandboxes")
        wanted = self.COUNTS["SandboxUser"]
        if not volleys:
            return f"the {wanted} sandbox users never fired their volley"
        released = sum(v["released"] for v in volleys)
        created = sum(v["created"] for v in volleys)
        peak = sum(v["peak_in_flight"] for v in volleys)
        running = sum(v["running_at_once"] for v in volleys)
        where = f" (summed over {len(volleys)} processes, each released on its own)" if len(volleys) > 1 else ""
        log.info(
            "sandboxes: %d created at once, peak %d in flight, %d running at once in the fake E2B%s; "
            "create p95 %s ms, destroy p95 %s ms",
            created,
            peak,
            running,
            where,
            _ms(_entry(self.stats, "POST", "/api/v1/sandboxes"), 0.95),
            _ms(_entry(self.stats, "DELETE", "/api/v1/sandboxes/{id}"), 0.95),
        )
        if min(released, created, peak, running) < wanted:
            return (
                f"wanted {wanted} sandbox creations at once: {released} released together, {created} created, "
                f"peak {peak} in flight, {running} running at once"
            )
        return None

    def _report_burst(self) -> str | None:
        bursts = _figures.received("burst")
        if not bursts:
            return "the burst of API calls never fired"
        entries = [e for e in api_entries(self.stats) if e.name.endswith(self.BURST_SUFFIX)]
        times: dict[int, int] = {}
        for entry in entries:
            for bucket, count in entry.response_times.items():
                times[bucket] = times.get(bucket, 0) + count
        requests = sum(e.num_requests for e in entries)
        p95 = calculate_response_time_percentile(times, requests, 0.95) if requests else 0
        for burst in bursts:
            log.info(
                "burst: %d calls in %.2f s, p95 %.0f ms, %d failures",
                burst["calls"],
                burst["seconds"],
                p95,
                burst["failures"],
            )
        return None


class Streams(Scenario):
    SPAWN_RATE = 50.0

    def __init__(self, shape: "ScenarioShape", environment: Environment) -> None:
        super().__init__(shape, environment)
        self.count = self.options.streams
        self.hold_s = self.options.hold_s
        self.all_connected_at: float | None = None
        self.held_s = 0.0

    def tick(self, elapsed: float) -> tuple | None:
        connected = _count(self.stats, _slo.SSE, _slo.SSE_CONNECT)
        if self.all_connected_at is None and connected >= self.count:
            self.all_connected_at = elapsed
            log.info("streams: all %d connected after %.1f s; holding them %g s", self.count, elapsed, self.hold_s)
        if self.all_connected_at is not None:
            self.held_s = elapsed - self.all_connected_at
            if self.held_s >= self.hold_s:
                return None
        elif elapsed > self.count / self.SPAWN_RATE + 120:
            log.error("streams: only %d of %d streams connected", connected, self.count)
            return None
        return self.users({"StreamUser": self.count}, self.SPAWN_RATE)

    def report(self) -> None:
        stream = _entry(self.stats, _slo.SSE, _slo.SSE_STREAM)
        delivery = _entry(self.stats, _slo.SSE, _slo.SSE_DELIVERY)
        log.info(
            "streams: %d streams held %.0f s together, %d dropped; %d events delivered, delivery p50 %s ms, "
            "p99 %s ms, max %s ms",
            self.count,
            self.held_s,
            stream.num_failures if stream else 0,
            delivery.num_requests if delivery else 0,
            _ms(delivery, 0.5),
            _ms(delivery, 0.99),
            f"{delivery.max_response_time:.0f}" if delivery else "-",
        )


class Pipeline(Scenario):
    SPAWN_RATE = 10.0

    def __init__(self, shape: "ScenarioShape", environment: Environment) -> None:
        super().__init__(shape, environment)
        self.count = self.options.assignments
        self.finished_at: float | None = None

    def tick(self, elapsed: float) -> tuple | None:
        if _count(self.stats, _slo.PIPELINE, _slo.PIPELINE_TO_PULL_REQUEST) >= self.count:
            return None
        if elapsed > self.options.pipeline_timeout_s + 60:
            return None
        return self.users({"AssignmentUser": self.count}, self.SPAWN_RATE)

    def report(self) -> None:
        pipeline = _entry(self.stats, _slo.PIPELINE, _slo.PIPELINE_TO_PULL_REQUEST)
        assigned = _entry(self.stats, "POST", "/api/v1/tasks/{id}/assign")
        checks = _entry(self.stats, "GET", "fake GitHub pull requests per assignment")
        if pipeline is None or assigned is None:
            log.error("pipeline: no assignment finished")
            return
        opened = pipeline.num_requests - pipeline.num_failures
        took = pipeline.last_request_timestamp - assigned.start_time
        log.info(
            "pipeline: %d assignments in flight, %d became pull requests, %d failed, %d lost or duplicated "
            "(fake GitHub journal); first assignment to last pull request %.1f s; per assignment p50 %.1f s, "
            "p95 %.1f s",
            assigned.num_requests,
            opened,
            pipeline.num_failures,
            checks.num_failures if checks else 0,
            took,
            pipeline.get_response_time_percentile(0.5) / 1000,
            pipeline.get_response_time_percentile(0.95) / 1000,
        )
        _report_agents("pipeline", self.stats)


class Agents(Pipeline):
    """The target: N agent tasks in flight at a real model's pace end as N pull requests, none lost
    or doubled. Judged by that count, not by the SLO gate (whose figures it prints)."""

    def __init__(self, shape: "ScenarioShape", environment: Environment) -> None:
        super().__init__(shape, environment)
        environment.slo_verdict_by_scenario = True  # type: ignore[attr-defined]

    def report(self) -> None:
        records = _figures.received("assignments")
        pipeline = _entry(self.stats, _slo.PIPELINE, _slo.PIPELINE_TO_PULL_REQUEST)
        count = _assignments.count_pull_requests(records, self.count)
        assigned = [r["assigned_at"] for r in records if r["assigned_at"]]
        opened = [r["ended_at"] for r in records if r["pr_url"]]
        took = max(opened) - min(assigned) if assigned and opened else float("nan")
        delivery = _entry(self.stats, _slo.SSE, _slo.SSE_DELIVERY)
        log.info(
            "agents: %d of %d assignments became pull requests in %.1f s (first assignment to last pull request, "
            "%.2f a second); per task p50 %.1f s, p95 %.1f s",
            len(opened),
            self.count,
            took,
            len(opened) / took if took > 0 else float("nan"),
            pipeline.get_response_time_percentile(0.5) / 1000 if pipeline else float("nan"),
            pipeline.get_response_time_percentile(0.95) / 1000 if pipeline else float("nan"),
        )
        log.info(
            "agents: pull requests in the fake GitHub %d (wanted %d), lost %d, duplicates %d",
            count.found,
            count.wanted,
            count.lost,
            count.duplicates,
        )
        log.info(
            "agents: events delivered p50 %s ms, p99 %s ms, max %s ms over %d events",
            _ms(delivery, 0.5),
            _ms(delivery, 0.99),
            f"{delivery.max_response_time:.0f}" if delivery else "-",
            delivery.num_requests if delivery else 0,
        )
        _report_agents("agents", self.stats)
        log.info("agents: %s", _slo.summary(self.stats))
        if count.exact:
            self.environment.process_exit_code = 0
            return
        log.error("agents: %d lost and %d duplicated pull requests", count.lost, count.duplicates)
        self.environment.process_exit_code = 1


def _report_agents(scenario: str, stats: RequestStats) -> None:
    """The line on the assignments' agents: in flight at once, their loops, their events."""
    figures = _assignments.figures(_figures.received("assignments"))
    if figures is not None:
        delivery = _entry(stats, _slo.SSE, _slo.SSE_DELIVERY)
        log.info("%s: in flight: %s; SSE delivery p99 %s ms", scenario, figures.line(), _ms(delivery, 0.99))


@dataclass
class Step:
    users: int
    seconds: float
    requests: int
    failures: int
    p95_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class Stress(Scenario):
    # The first seconds of a step are spawning and squad set-up; they are not measured.
    SETTLE_S = 8.0

    def __init__(self, shape: "ScenarioShape", environment: Environment) -> None:
        super().__init__(shape, environment)
        environment.slo_verdict_by_scenario = True  # type: ignore[attr-defined]
        self.step_users = self.options.stress_step_users
        self.step_s = max(self.options.stress_step_s, self.SETTLE_S + 5)
        self.limit_ms = self.options.stress_p95_ms
        self.steps: list[Step] = []
        self.number = 0
        self.window: tuple[float, dict[int, int], int, int] | None = None
        self.broken: Step | None = None

    def _snapshot(self) -> tuple[dict[int, int], int, int]:
        """The board's reads so far: the new users' set-up (their squads and first tasks, written as
        each step starts) is not what a step measures, nor what a second client measures alongside."""
        times: dict[int, int] = {}
        requests = failures = 0
        for entry in (e for e in api_entries(self.stats) if e.method == "GET"):
            for bucket, count in entry.response_times.items():
                times[bucket] = times.get(bucket, 0) + count
            requests += entry.num_requests
            failures += entry.num_failures
        return times, requests, failures

    def tick(self, elapsed: float) -> tuple | None:
        number = int(elapsed // self.step_s) + 1
        into_step = elapsed - (number - 1) * self.step_s
        if number != self.number:  # a step just ended
            if self.window is not None:
                if not self._close_step(elapsed):
                    return None
            if number > self.options.stress_max_steps:
                return None
            self.number, self.window = number, None
        if self.window is None and into_step >= self.SETTLE_S:
            self.window = (elapsed, *self._snapshot())
        users = self.step_users * self.number
        return self.users({"BoardUser": users}, float(self.step_users))

    def _close_step(self, elapsed: float) -> bool:
        """Record the step that just ended; False when it missed the objective (the run is over)."""
        assert self.window is not None
        started, times_before, requests_before, failures_before = self.window
        times_now, requests_now, failures_now = self._snapshot()
        window = {b: c - times_before.get(b, 0) for b, c in times_now.items() if c - times_before.get(b, 0) > 0}
        requests = requests_now - requests_before
        p95 = calculate_response_time_percentile(window, requests, 0.95) if requests else 0
        step = Step(self.step_users * self.number, elapsed - started, requests, failures_now - failures_before, p95)
        self.steps.append(step)
        log.info(
            "stress: step %d, %d users: %.1f requests/s, p95 %.0f ms, %d failures",
            self.number,
            step.users,
            step.rate,
            step.p95_ms,
            step.failures,
        )
        if step.failures or step.p95_ms > self.limit_ms or not requests:
            self.broken = step
            if self._rate_limited():
                log.error(
                    "stress: the platform answered 429: it limits each squad's requests (SQUAD_RATE_LIMIT_PER_S, "
                    "20 a second by default) and each board user reads about %g times a second; measure a platform "
                    "started with SQUAD_RATE_LIMIT_PER_S=0, or slow the users down with --board-wait-s",
                    round(1 / (self.options.board_wait_s or 1.0)),
                )
            return False
        return True

    def _rate_limited(self) -> bool:
        return any("got 429" in str(error.error) for error in self.stats.errors.values())

    def report(self) -> None:
        passed = [s for s in self.steps if s is not self.broken]
        if not passed:
            log.error(
                "stress: no step met board reads p95 <= %g ms without failures: no sustainable rate", self.limit_ms
            )
            self.environment.process_exit_code = 1
            return
        knee = max(passed, key=lambda s: s.rate)
        broke = (
            f"broke at {self.broken.rate:.1f} requests/s ({self.broken.users} users: p95 {self.broken.p95_ms:.0f} ms, "
            f"{self.broken.failures} failures)"
            if self.broken
            else f"never broke within {len(self.steps)} steps"
        )
        log.info(
            "stress: knee at %.1f requests/s (%d users, board reads p95 %.0f ms <= %g ms, no failure); %s",
            knee.rate,
            knee.users,
            knee.p95_ms,
            self.limit_ms,
            broke,
        )
        self.environment.process_exit_code = 0


class Soak(Scenario):
    COUNTS = {"BoardUser": 20, "StreamUser": 100, "AssignmentUser": 5}
    SPAWN_RATE = 10.0

    def tick(self, elapsed: float) -> tuple | None:
        if elapsed >= self.options.soak_minutes * 60:
            return None
        return self.users(self.COUNTS, self.SPAWN_RATE)

    def report(self) -> None:
        log.info("soak: %.0f minutes: %s", self.options.soak_minutes, _slo.summary(self.stats))


def _ms(entry: StatsEntry | None, percentile: float) -> str:
    return f"{entry.get_response_time_percentile(percentile):.0f}" if entry and entry.num_requests else "-"


KINDS: dict[str, Callable[["ScenarioShape", Environment], Scenario]] = {
    "smoke": Smoke,
    "stress": Stress,
    "soak": Soak,
    "streams": Streams,
    "pipeline": Pipeline,
    "agents": Agents,
}
# What a scenario sets for its users (over the options given).
USER_OPTIONS: dict[str, dict[str, object]] = {
    "smoke": {"assignments_per_user": 1, "bursts_per_user": 1},
    "pipeline": {"assignments_per_user": 1},
    "agents": {"assignments_per_user": 1},
    # The API's own capacity: the sandboxes' work (real git in the fake E2B, on this machine) is
    # not the platform's, and would take the CPU the API is measured on. The board's reads, the
    # platform's commonest requests, are what is stepped up.
    "stress": {"board_assignments": "off", "board_writes": "off"},
}
# What a scenario sets for its users unless the options name it: a stress step adds users that
# each read about fifty times a second, so a few dozen users find the platform's knee. Many slower
# users would find a lower one that is not the platform's limit: their reads come in bursts (a
# hundred users, each with a request in flight now and then), and the bursts queue behind one
# another, so the p95 crosses the objective while the platform still has time to spare. Measured
# against wrk on the same platform: users of ten reads a second reached 0.85-0.90 of its knee,
# users of fifty 0.99 (BENCHMARKS.md).
USER_DEFAULTS: dict[str, dict[str, object]] = {
    "stress": {"board_wait_s": 0.02},
}


# The model's pace (load/_fakes.py) of a scenario that --llm-pace does not name: CI's smoke must stay
# short on two cores, so its agents stream at a modest pace; every other scenario at a real model's.
LLM_PACE = {"smoke": "modest"}


class ScenarioShape(LoadTestShape):
    """Drives the chosen scenario; with `manual` it steps aside (removed at init)."""

    # Scenarios set their own users and spawn rates; with `manual` the shape is gone and the common
    # options apply as usual (this also keeps Locust from warning that they are ignored).
    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self.scenario: Scenario | None = None

    def tick(self) -> tuple | None:
        if self.scenario is None:
            return None
        return self.scenario.tick(self.get_run_time())


@events.init.add_listener
def choose_scenario(environment: Environment, **_kwargs: object) -> None:
    options = environment.parsed_options
    name = options.scenario if options else "manual"
    shape = environment.shape_class
    if name == "manual" or not isinstance(shape, ScenarioShape) or isinstance(environment.runner, WorkerRunner):
        environment.shape_class = None if isinstance(shape, ScenarioShape) else shape
        return
    for option, value in USER_OPTIONS.get(name, {}).items():
        setattr(options, option, value)  # passed on to the workers with the other options
    for option, value in USER_DEFAULTS.get(name, {}).items():
        if getattr(options, option, None) is None:
            setattr(options, option, value)
    if options.llm_pace is None:
        options.llm_pace = LLM_PACE.get(name, _fakes.DEFAULT_LLM_PACE)
    shape.scenario = KINDS[name](shape, environment)
    log.info("scenario %s", name)


@events.quitting.add_listener
def report_scenario(environment: Environment, **_kwargs: object) -> None:
    shape = environment.shape_class
    if isinstance(shape, ScenarioShape) and shape.scenario is not None:
        shape.scenario.report()


# Locust fires `quitting` listeners last-added first (`fire(reverse=True)`): the gate, added when
# load/_slo.py was imported above, gives its verdict after this report.
