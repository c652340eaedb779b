"""The fakes answer as slowly as the real services do while a load test runs.

Without latency a pipeline is a handful of loopback calls, and the platform would be measured doing
work it never does in production. At the start of each run (on the master or the only process) this
adds latency rules through the fakes' admin API (`POST /_fake/faults`, kind "latency", for every
call until removed), and removes exactly those rules when the run stops, so a `make up` stack is
left as it was. The figures are per operation (a rule names one):

    E2B     create_sandbox 200 ms, process_start (one command) 30 ms, kill_sandbox 50 ms
    GitHub  every REST call 100 ms

`--fake-latency off` (or LOAD_FAKE_LATENCY=off) runs against the fakes as they are, e.g. when they
already run with FAKE_E2B_LATENCY_MS / FAKE_GITHUB_LATENCY_MS.
"""

import json
import logging
import urllib.request

from _targets import fake_e2b_url, fake_github_url
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

E2B_LATENCY_MS = {"create_sandbox": 200, "process_start": 30, "kill_sandbox": 50}
GITHUB_LATENCY_MS = {
    operation: 100
    for operation in (
        "get_repository",
        "get_branch",
        "get_ref",
        "list_pull_requests",
        "create_pull_request",
        "get_pull_request",
    )
}
ADMIN_TIMEOUT_S = 5.0

log = logging.getLogger("fake-latency")
# (fake's base URL, rule id) of the rules this process added.
_added: list[tuple[str, int]] = []


@events.init_command_line_parser.add_listener
def add_latency_option(parser, **_kwargs: object) -> None:
    parser.add_argument(
        "--fake-latency",
        choices=("on", "off"),
        default="on",
        env_var="LOAD_FAKE_LATENCY",
        include_in_web_ui=False,
        help="give the fakes realistic latency while the test runs (default on; see load/_fakes.py)",
    )


def _admin(method: str, url: str, body: dict | None = None) -> dict | None:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_S) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def latency_rules() -> list[tuple[str, str, int]]:
    """(fake's base URL, operation, latency in ms) for every rule a run adds."""
    return [(fake_e2b_url(), operation, ms) for operation, ms in E2B_LATENCY_MS.items()] + [
        (fake_github_url(), operation, ms) for operation, ms in GITHUB_LATENCY_MS.items()
    ]


@events.test_start.add_listener
def add_latency(environment: Environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    if options is not None and options.fake_latency == "off":
        return
    for base_url, operation, ms in latency_rules():
        rule = _admin(
            "POST",
            f"{base_url}/_fake/faults",
            {"operation": operation, "kind": "latency", "latency_ms": ms, "times": None},
        )
        if rule is not None and "id" in rule:
            _added.append((base_url, rule["id"]))
    log.info("fakes answer with realistic latency: %s", ", ".join(f"{op} {ms} ms" for _, op, ms in latency_rules()))


@events.test_stop.add_listener
def remove_latency(environment: Environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    while _added:
        base_url, rule_id = _added.pop()
        try:
            _admin("DELETE", f"{base_url}/_fake/faults/{rule_id}")
        except OSError as error:  # the fake went first (the stack stops): nothing left to clean
            log.warning("could not remove latency rule %s of %s: %s", rule_id, base_url, error)
