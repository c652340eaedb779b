"""A bounded, reproducible fuzz of OpenAPI operations: schemathesis generates, the caller sends and judges.

schemathesis builds the requests (valid ones, and invalid ones in its negative mode) from a schema; we
send each through whatever client the test has (the in-process ASGI app, a respx-mounted fake) and hand
the response back to schemathesis's own conformance checks. Hypothesis drives the generation from a
worker thread, because its engine is synchronous while our clients live on the test's event loop:
each request is submitted to that loop and awaited there, so the app, the database connection and
respx all stay on the one loop they were built on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

# What a response must satisfy besides "no 5xx" (checked first, by `no_server_error`).
CONFORMANCE_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# The bounded run of `pytest backend_tests`; `make fuzz` raises it with FUZZ_REQUESTS.
BOUNDED_REQUESTS = 300
# FUZZ_SEED replays a run; without it every run explores the same inputs, so the gate never flakes.
SEED = int(os.environ.get("FUZZ_SEED", "20240808"))
REQUEST_TIMEOUT_S = 30.0

Send = Callable[[Case, dict[str, Any]], Awaitable[httpx.Response]]
Judge = Callable[[Case, httpx.Response], None]


def request_budget() -> int:
    return int(os.environ.get("FUZZ_REQUESTS", BOUNDED_REQUESTS))


@dataclass
class FuzzRun:
    """What was sent: requests per operation and mode, and the statuses seen (for the report)."""

    sent: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def record(self, label: str, response: httpx.Response) -> None:
        self.sent[label] = self.sent.get(label, 0) + 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1


def httpx_arguments(case: Case, base_url: str) -> dict[str, Any]:
    """schemathesis serialises a case for `requests`; the same request for httpx."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    arguments: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": {k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "connection"},
        "params": kwargs.get("params") or None,
        "cookies": kwargs.get("cookies") or None,
    }
    if "json" in kwargs:
        arguments["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        arguments["content"] = data
    elif data is not None:
        arguments["data"] = data
    if "files" in kwargs:
        arguments["files"] = kwargs["files"]
    return arguments


def no_server_error(case: Case, response: httpx.Response) -> None:
    """Bad input is the client's mistake: a 4xx that says why, never a 5xx."""
    assert response.status_code < 500, (
        f"{case.operation.label} answered {response.status_code}: {response.text[:500]}\n"
        f"reproduce with: {case.as_curl_command()}"
    )


def conforms(case: Case, response: httpx.Response) -> None:
    """The status is documented and the body matches its schema (schemathesis's own checks)."""
    checks = [*CONFORMANCE_CHECKS, negative_data_rejection] if _is_negative(case) else CONFORMANCE_CHECKS
    case.validate_response(response, checks=checks)


def _is_negative(case: Case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_negative


async def fuzz(
    operations: list[APIOperation],
    send: Send,
    judge: Judge,
    *,
    budget: int,
    run: FuzzRun,
    variants: st.SearchStrategy[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> FuzzRun:
    """About `budget` requests spread evenly over `operations` and both generation modes.

    `variants` draws extra per-request choices for `send` (e.g. "use a real id"); `headers` are sent
    with every request as they are (the credentials), so the negative mode mutates everything else.
    A failing request is shrunk by Hypothesis to the smallest that still fails, and raised with its curl command.
    """
    loop = asyncio.get_running_loop()
    extras = variants if variants is not None else st.just({})

    def drive(operation: APIOperation, mode: GenerationMode, examples: int, run_seed: int) -> int:
        """Up to `examples` requests; fewer when Hypothesis runs out of distinct ones. Returns how many."""
        before = run.total

        @seed(run_seed)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,  # nothing written to .hypothesis/ in the checkout
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode, headers=headers), extra=extras)
        def one_request(case: Case, extra: dict[str, Any]) -> None:
            future = asyncio.run_coroutine_threadsafe(send(case, extra), loop)
            response = future.result(timeout=REQUEST_TIMEOUT_S)
            run.record(f"{operation.label} [{mode.value}]", response)
            judge(case, response)

        try:
            one_request()
        except Unsatisfiable:
            # Nothing to make invalid: an operation without parameters or body (its credentials fixed).
            if mode is not GenerationMode.NEGATIVE:
                raise
        return run.total - before

    pairs = [(op, mode) for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    share = max(1, budget // len(pairs))
    # Small operations run out of distinct requests early; the ones that did not get the rest, in
    # further rounds with another seed, until the budget is spent or nothing new comes.
    for round_number in range(5):
        sent = {pair: await asyncio.to_thread(drive, *pair, share, SEED + round_number) for pair in pairs}
        pairs = [pair for pair, count in sent.items() if count >= share]
        if run.total >= budget or not pairs:
            break
        share = max(1, (budget - run.total) // len(pairs) + 1)
    return run
