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

import logging

import httpx
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from fixtures.platform_client import ApiError, FakeAdmin
from fixtures.targets import FAKE_E2B, FAKE_GITHUB, Target

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
# (fake's admin client, rule id) of the rules this process added.
_added: list[tuple[FakeAdmin, int]] = []


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


def latency_rules() -> list[tuple[Target, str, int]]:
    """(fake, operation, latency in ms) for every rule a run adds."""
    return [(FAKE_E2B, operation, ms) for operation, ms in E2B_LATENCY_MS.items()] + [
        (FAKE_GITHUB, operation, ms) for operation, ms in GITHUB_LATENCY_MS.items()
    ]


@events.test_start.add_listener
def add_latency(environment: Environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    if options is not None and options.fake_latency == "off":
        return
    admins = {fake: FakeAdmin(fake.url(), timeout=ADMIN_TIMEOUT_S) for fake in (FAKE_E2B, FAKE_GITHUB)}
    for fake, operation, ms in latency_rules():
        rule = admins[fake].add_fault(operation=operation, kind="latency", latency_ms=ms, times=None)
        _added.append((admins[fake], rule["id"]))
    log.info("fakes answer with realistic latency: %s", ", ".join(f"{op} {ms} ms" for _, op, ms in latency_rules()))


@events.test_stop.add_listener
def remove_latency(environment: Environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    admins = {admin for admin, _ in _added}
    while _added:
        admin, rule_id = _added.pop()
        try:
            admin.remove_fault(rule_id)
        except (httpx.HTTPError, ApiError) as error:  # the fake went first (the stack stops): nothing left to clean
            log.warning("could not remove latency rule %s of %s: %s", rule_id, admin.base_url, error)
    for admin in admins:
        admin.close()
