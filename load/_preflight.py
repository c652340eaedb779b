"""Refuse to start a load test against nothing.

Without this, a missing platform shows up as thousands of identical connection errors and a stack
trace per user. Checked once, on the master or the only process (workers trust their master).
"""

import sys
import urllib.error
import urllib.request

from _targets import fake_e2b_url, fake_github_url
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

PROBE_TIMEOUT_S = 3.0


def _probe(url: str) -> str | None:
    """None when `url` answers 2xx; otherwise what went wrong, in a few words."""
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S):
            return None
    except urllib.error.HTTPError as error:
        return f"GET {url} answered HTTP {error.code}"
    except urllib.error.URLError as error:
        reason = error.reason
        words = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        return f"GET {url} failed: {words}"
    except OSError as error:  # timeouts and resets arrive without a URLError wrapper
        return f"GET {url} failed: {error}"


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
    problem = _probe(f"{host}/health")
    if problem:
        _refuse(
            f"no Agent Squad platform at {host} — start one with `make up`, or pass --host "
            f"(or set SQUAD_BASE_URL). [{problem}]"
        )
    github = fake_github_url()
    problem = _probe(f"{github}/_fake/health")
    if problem:
        _refuse(f"no fake GitHub at {github} — `make up` starts it, or set FAKE_GITHUB_URL. [{problem}]")
    options = environment.parsed_options
    if options is not None and getattr(options, "fake_latency", "off") == "on":
        e2b = fake_e2b_url()
        problem = _probe(f"{e2b}/health")
        if problem:
            _refuse(
                f"no fake E2B at {e2b} (the run sets its latency) — `make up` starts it, or set FAKE_E2B_URL, "
                f"or pass --fake-latency off. [{problem}]"
            )
