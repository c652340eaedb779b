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


def _require_fake(target: Target, why: str = "", otherwise: str = "") -> None:
    """Refuse the run when the fake `target` does not answer at its URL; `why` says what the run needs it for."""
    url = target.url()
    problem = _problem(url, target)
    if problem:
        name = target.what.removeprefix("the ")
        _refuse(f"no {name} at {url}{why} — `make up` starts it, or set {target.variable}{otherwise}. [{problem}]")


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
    _require_fake(FAKE_GITHUB)
    _require_fake(FAKE_LLM, why=" (assignment users script their agents' turns there)")
    options = environment.parsed_options
    if options is not None and getattr(options, "fake_latency", "off") == "on":
        _require_fake(FAKE_E2B, why=" (the run sets its latency)", otherwise=", or pass --fake-latency off")
