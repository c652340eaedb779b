"""Refuse to start a load test against nothing.

Without this, a missing platform shows up as thousands of identical connection errors and a stack
trace per user. Checked once, on the master or the only process (workers trust their master).
"""

import os
import sys

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from fixtures.targets import ADMIN_TOKEN_VARIABLE, FAKE_E2B, FAKE_GITHUB, FAKE_LLM, PLATFORM, Target, http_problem

PROBE_TIMEOUT_S = 3.0


def _problem(base_url: str, target: Target) -> str | None:
    """None when the service at `base_url` says it is ready; otherwise what went wrong, in a few words."""
    url = f"{base_url}{target.health_path}"
    problem = http_problem(url, PROBE_TIMEOUT_S)
    return problem and f"GET {url}: {problem}"


def _platform_host(environment: Environment) -> str | None:
    if environment.host:
        return environment.host.rstrip("/")
    hosts = {user_class.host for user_class in environment.user_classes if user_class.host}
    return hosts.pop().rstrip("/") if len(hosts) == 1 else None


def _refuse(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


@events.init.add_listener
def require_targets(environment: Environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    host = _platform_host(environment)
    if host is None:
        return  # no single host to check; the web UI asks for one
    problem = _problem(host, PLATFORM)
    if problem:
        _refuse(
            f"no Agent Squad platform at {host} — start one with `make up`, or pass --host "
            f"(or set {PLATFORM.variable}). [{problem}]"
        )
    if not os.environ.get(ADMIN_TOKEN_VARIABLE):
        _refuse(
            f"{ADMIN_TOKEN_VARIABLE} is not set: every simulated user creates a squad, which takes the "
            f"platform's admin token. `make up` prints it; `python -m tools.stack run -- locust ...` sets it."
        )
    github = FAKE_GITHUB.url()
    problem = _problem(github, FAKE_GITHUB)
    if problem:
        _refuse(f"no fake GitHub at {github} — `make up` starts it, or set {FAKE_GITHUB.variable}. [{problem}]")
    llm = FAKE_LLM.url()
    problem = _problem(llm, FAKE_LLM)
    if problem:
        _refuse(
            f"no fake LLM at {llm} (assignment users script their agents' turns there) — `make up` starts it, "
            f"or set {FAKE_LLM.variable}. [{problem}]"
        )
    options = environment.parsed_options
    if options is not None and getattr(options, "fake_latency", "off") == "on":
        e2b = FAKE_E2B.url()
        problem = _problem(e2b, FAKE_E2B)
        if problem:
            _refuse(
                f"no fake E2B at {e2b} (the run sets its latency) — `make up` starts it, or set "
                f"{FAKE_E2B.variable}, or pass --fake-latency off. [{problem}]"
            )
