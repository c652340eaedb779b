"""The fakes answer as slowly as the real services do while a load test runs.

Without latency a pipeline is a handful of loopback calls, and the platform would be measured doing
work it never does in production. At the start of each run (on the master or the only process) this
adds latency rules through the fakes' admin API (`POST /_fake/faults`, kind "latency", for every
call until removed), sets the fake LLM's pace (`POST /_fake/latency`), and when the run stops removes
exactly those rules and puts the LLM's pace back, so a `make up` stack is left as it was. The
figures are per operation (a rule names one):

    E2B     create_sandbox 200 ms, process_start (one command) 30 ms, kill_sandbox 50 ms
    GitHub  every REST call 100 ms
    LLM     --llm-pace (LOAD_LLM_PACE), each of the model's turns streamed token by token:
              realistic  500 ms to the first token, then 20 ms a token (50 tokens a second): a hosted
                         model of the size agents use, mid-range of the 300-800 ms and 10-30 ms such
                         models take; a turn of 150 tokens takes 3.5 s
              modest     100 ms, then 3 ms a token: the smoke's, so CI's run stays short on two cores
                         while the agent's messages still stream in several deltas
              off        the fake's pace as it is (FAKE_LLM_TIME_TO_FIRST_TOKEN_MS, ..._PER_TOKEN_MS)
              T/P        T ms to the first token, then P ms a token
            Unset, the scenario chooses: modest for smoke, realistic for every other.

`--fake-latency off` (or LOAD_FAKE_LATENCY=off) runs against the fakes as they are, the LLM's pace
included, e.g. when they already run with FAKE_E2B_LATENCY_MS / FAKE_GITHUB_LATENCY_MS.
"""

import argparse
import logging

import httpx
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from fixtures.platform_client import ApiError, FakeAdmin, FakeLLMAdmin
from fixtures.targets import FAKE_E2B, FAKE_GITHUB, FAKE_LLM, Target

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
# The model's pace: (ms to the first token, ms per token after it).
LLM_PACES = {"realistic": (500, 20), "modest": (100, 3)}
DEFAULT_LLM_PACE = "realistic"
ADMIN_TIMEOUT_S = 5.0

log = logging.getLogger("fake-latency")
# (fake's admin client, rule id) of the rules this process added.
_added: list[tuple[FakeAdmin, int]] = []
# The fake LLM's admin client and the pace it had before the run, to put back.
_llm_pace_before: list[tuple[FakeLLMAdmin, dict[str, int]]] = []


def llm_pace(value: str | None) -> tuple[int, int] | None:
    """(ms to the first token, ms per token) of a --llm-pace value; None for "off"."""
    if value is None:
        value = DEFAULT_LLM_PACE
    if value == "off":
        return None
    if value in LLM_PACES:
        return LLM_PACES[value]
    first, slash, per_token = value.partition("/")
    if slash and first.isdigit() and per_token.isdigit():
        return int(first), int(per_token)
    raise ValueError(f"--llm-pace: expected {', '.join(LLM_PACES)}, off or T/P (milliseconds), got {value!r}")


def _pace_option(value: str) -> str:
    """A --llm-pace value, refused at the command line when it means nothing."""
    try:
        llm_pace(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


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
    parser.add_argument(
        "--llm-pace",
        type=_pace_option,
        default=None,
        env_var="LOAD_LLM_PACE",
        include_in_web_ui=False,
        help="the fake LLM's pace: realistic (500 ms to the first token, 20 ms a token), modest (100/3), off, "
        "or T/P in ms (default: the scenario's; see load/_fakes.py)",
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
    pace = llm_pace(options.llm_pace if options is not None else None)
    if pace is not None:
        llm = FakeLLMAdmin(FAKE_LLM.url(), timeout=ADMIN_TIMEOUT_S)
        _llm_pace_before.append((llm, llm.latency()))
        llm.set_latency(time_to_first_token_ms=pace[0], per_token_ms=pace[1])
        log.info("the fake LLM streams at %d ms to the first token, then %d ms a token", *pace)


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
    while _llm_pace_before:
        llm, before = _llm_pace_before.pop()
        try:
            llm.set_latency(**before)
        except (httpx.HTTPError, ApiError) as error:
            log.warning("could not put the fake LLM's pace back at %s: %s", llm.base_url, error)
        llm.close()
