"""The load suite's service-level objectives, and the gate that turns them into the exit code.

Locust itself has no thresholds (locust #587): this gate runs when Locust quits, on the master or
the only process, and exits 1 naming every objective that was missed. The limits live here; each
can be overridden per run with an option, an environment variable or a config file entry:

    --slo-p95-ms / LOAD_SLO_P95_MS / slo-p95-ms                       default 1000
    --slo-max-failure-ratio / LOAD_SLO_MAX_FAILURE_RATIO / ...        default 0 (no failure at all)
"""

import logging
from dataclasses import dataclass

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats

P95_MS = 1000.0
MAX_FAILURE_RATIO = 0.0

log = logging.getLogger("slo-gate")


@dataclass(frozen=True)
class Objectives:
    p95_ms: float = P95_MS
    max_failure_ratio: float = MAX_FAILURE_RATIO


@events.init_command_line_parser.add_listener
def add_slo_options(parser, **_kwargs: object) -> None:
    parser.add_argument(
        "--slo-p95-ms",
        type=float,
        default=P95_MS,
        env_var="LOAD_SLO_P95_MS",
        include_in_web_ui=False,
        help=f"SLO gate: the highest allowed 95th percentile of any request type, in ms (default {P95_MS:g})",
    )
    parser.add_argument(
        "--slo-max-failure-ratio",
        type=float,
        default=MAX_FAILURE_RATIO,
        env_var="LOAD_SLO_MAX_FAILURE_RATIO",
        include_in_web_ui=False,
        help=f"SLO gate: the highest allowed share of failed requests, 0..1 (default {MAX_FAILURE_RATIO:g})",
    )


def violations(stats: RequestStats, objectives: Objectives) -> list[str]:
    """Every objective the run missed, as a sentence; empty when all were met."""
    total = stats.total
    if total.num_requests == 0:
        return ["no request was made, so nothing was measured"]
    found = []
    if total.fail_ratio > objectives.max_failure_ratio:
        failing = sorted(
            f"{entry.method} {entry.name} ({entry.num_failures})"
            for entry in stats.entries.values()
            if entry.num_failures
        )
        found.append(
            f"failure ratio {total.fail_ratio:.2%} ({total.num_failures} of {total.num_requests} requests) "
            f"exceeds {objectives.max_failure_ratio:.2%}; failed: {', '.join(failing)}"
        )
    for entry in sorted(stats.entries.values(), key=lambda e: (e.name, e.method or "")):
        p95 = entry.get_response_time_percentile(0.95)
        if p95 > objectives.p95_ms:
            found.append(f"p95 of {entry.method} {entry.name} is {p95:.0f} ms, above {objectives.p95_ms:g} ms")
    return found


def _objectives(environment: Environment) -> Objectives:
    options = environment.parsed_options
    if options is None:  # Locust used as a library, without the command line
        return Objectives()
    return Objectives(p95_ms=options.slo_p95_ms, max_failure_ratio=options.slo_max_failure_ratio)


@events.quitting.add_listener
def apply_slo_gate(environment: Environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # workers hold only their share of the numbers; the master decides
    objectives = _objectives(environment)
    missed = violations(environment.stats, objectives)
    if missed:
        for sentence in missed:
            log.error("SLO failed: %s", sentence)
        environment.process_exit_code = 1
        return
    total = environment.stats.total
    worst = max(entry.get_response_time_percentile(0.95) for entry in environment.stats.entries.values())
    log.info(
        "SLO met: %d requests, %d failures, worst p95 %.0f ms (limit %g ms)",
        total.num_requests,
        total.num_failures,
        worst,
        objectives.p95_ms,
    )
