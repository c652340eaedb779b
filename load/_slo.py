"""The load suite's service-level objectives, and the gate that turns them into the exit code.

Locust itself has no thresholds (locust #587): this gate runs when Locust quits, on the master or
the only process, and exits 1 naming every objective that was missed. The limits live here; each
can be overridden per run with an option, an environment variable or a config file entry:

    --slo-p95-ms / LOAD_SLO_P95_MS / slo-p95-ms                       default 1000
        the 95th percentile of every request type of the platform (pipelines have their own; the
        suite's own calls to the fakes' admin APIs, named "fake ...", count for failures only)
    --slo-sse-delivery-p99-ms / LOAD_SLO_SSE_DELIVERY_P99_MS / ...    default 500
        the 99th percentile of event delivery: from the event's `created_at` to the client
    --slo-pipeline-p95-s / LOAD_SLO_PIPELINE_P95_S / ...              default 300
        the 95th percentile of assignment -> pull request, in seconds
    --slo-max-failure-ratio / LOAD_SLO_MAX_FAILURE_RATIO / ...        default 0 (no failure at all)

A scenario may judge a run by its own rule instead (stress looks for the knee, load/scenarios.py):
it sets `environment.slo_verdict_by_scenario`.
"""

import logging
from dataclasses import dataclass
from typing import NamedTuple

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats, StatsEntry

P95_MS = 1000.0
SSE_DELIVERY_P99_MS = 500.0
PIPELINE_P95_S = 300.0
MAX_FAILURE_RATIO = 0.0

# The request types and names the users report besides HTTP calls (load/_sse.py, assignment_user.py).
SSE = "SSE"
SSE_CONNECT = "connect"
SSE_FIRST_EVENT = "first event"
SSE_DELIVERY = "delivery"
SSE_STREAM = "stream"
PIPELINE = "PIPELINE"
PIPELINE_TO_PULL_REQUEST = "assignment -> pull request"
# Requests of the harness itself (set-up and checks through the fakes' admin APIs), not of the platform.
HARNESS_PREFIX = "fake "

log = logging.getLogger("slo-gate")


@dataclass(frozen=True)
class Objectives:
    p95_ms: float = P95_MS
    sse_delivery_p99_ms: float = SSE_DELIVERY_P99_MS
    pipeline_p95_s: float = PIPELINE_P95_S
    max_failure_ratio: float = MAX_FAILURE_RATIO


class SloOption(NamedTuple):
    """An objective's command-line option, its environment variable, default and meaning."""

    option: str
    env_var: str
    default: float
    meaning: str


OPTIONS = [
    SloOption(
        "--slo-p95-ms",
        env_var="LOAD_SLO_P95_MS",
        default=P95_MS,
        meaning="the highest allowed 95th percentile of any request type, in ms",
    ),
    SloOption(
        "--slo-sse-delivery-p99-ms",
        env_var="LOAD_SLO_SSE_DELIVERY_P99_MS",
        default=SSE_DELIVERY_P99_MS,
        meaning="the highest allowed 99th percentile of SSE event delivery, in ms",
    ),
    SloOption(
        "--slo-pipeline-p95-s",
        env_var="LOAD_SLO_PIPELINE_P95_S",
        default=PIPELINE_P95_S,
        meaning="the highest allowed 95th percentile of assignment -> pull request, in s",
    ),
    SloOption(
        "--slo-max-failure-ratio",
        env_var="LOAD_SLO_MAX_FAILURE_RATIO",
        default=MAX_FAILURE_RATIO,
        meaning="the highest allowed share of failed requests, 0..1",
    ),
]


@events.init_command_line_parser.add_listener
def add_slo_options(parser, **_kwargs: object) -> None:
    for slo in OPTIONS:
        parser.add_argument(
            slo.option,
            type=float,
            default=slo.default,
            env_var=slo.env_var,
            include_in_web_ui=False,
            help=f"{slo.meaning} (default {slo.default:g})",
        )


def _is_pipeline(entry: StatsEntry) -> bool:
    return entry.method == PIPELINE


def _is_harness(entry: StatsEntry) -> bool:
    return entry.name.startswith(HARNESS_PREFIX)


def _is_delivery(entry: StatsEntry) -> bool:
    return entry.method == SSE and entry.name == SSE_DELIVERY


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
        if _is_pipeline(entry):
            p95_s = entry.get_response_time_percentile(0.95) / 1000
            if p95_s > objectives.pipeline_p95_s:
                found.append(
                    f"p95 of {entry.method} {entry.name} is {p95_s:.1f} s, above {objectives.pipeline_p95_s:g} s"
                )
            continue
        if _is_harness(entry):
            continue
        p95 = entry.get_response_time_percentile(0.95)
        if p95 > objectives.p95_ms:
            found.append(f"p95 of {entry.method} {entry.name} is {p95:.0f} ms, above {objectives.p95_ms:g} ms")
        if _is_delivery(entry):
            p99 = entry.get_response_time_percentile(0.99)
            if p99 > objectives.sse_delivery_p99_ms:
                found.append(f"p99 of SSE event delivery is {p99:.0f} ms, above {objectives.sse_delivery_p99_ms:g} ms")
    return found


def summary(stats: RequestStats) -> str:
    """One line of the figures the objectives are about."""
    total = stats.total
    timed = [e for e in stats.entries.values() if e.num_requests and not (_is_pipeline(e) or _is_harness(e))]
    worst = max(timed, key=lambda e: e.get_response_time_percentile(0.95), default=None)
    parts = [f"{total.num_requests} requests, {total.num_failures} failures"]
    if worst is not None:
        parts.append(f"worst p95 {worst.get_response_time_percentile(0.95):.0f} ms ({worst.method} {worst.name})")
    delivery = stats.entries.get((SSE_DELIVERY, SSE))
    if delivery is not None and delivery.num_requests:
        parts.append(
            f"SSE delivery p99 {delivery.get_response_time_percentile(0.99):.0f} ms over {delivery.num_requests} events"
        )
    pipeline = stats.entries.get((PIPELINE_TO_PULL_REQUEST, PIPELINE))
    if pipeline is not None and pipeline.num_requests:
        parts.append(f"assignment -> pull request p95 {pipeline.get_response_time_percentile(0.95) / 1000:.1f} s")
    return ", ".join(parts)


def objectives_of(environment: Environment) -> Objectives:
    options = environment.parsed_options
    if options is None:  # Locust used as a library, without the command line
        return Objectives()
    return Objectives(
        p95_ms=options.slo_p95_ms,
        sse_delivery_p99_ms=options.slo_sse_delivery_p99_ms,
        pipeline_p95_s=options.slo_pipeline_p95_s,
        max_failure_ratio=options.slo_max_failure_ratio,
    )


@events.quitting.add_listener
def apply_slo_gate(environment: Environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # workers hold only their share of the numbers; the master decides
    if getattr(environment, "slo_verdict_by_scenario", False):
        return
    objectives = objectives_of(environment)
    missed = violations(environment.stats, objectives)
    if missed:
        for sentence in missed:
            log.error("SLO failed: %s", sentence)
        environment.process_exit_code = 1
        return
    log.info(
        "SLO met: %s (limits: p95 %g ms, SSE delivery p99 %g ms)",
        summary(environment.stats),
        objectives.p95_ms,
        objectives.sse_delivery_p99_ms,
    )
