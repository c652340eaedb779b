"""The fault matrix's own stack, and a scene (squad, agent, task) per test on it.

The shared assertions live in fixtures/outcomes.py (the worker-restart test uses them too).
"""

import os
from collections.abc import Iterator

import pytest

from fixtures.databases import worker_database_url
from fixtures.outcomes import HTTP_TIMEOUT_S, Scene
from fixtures.platform_client import FakeE2BAdmin, FakeGitHubAdmin, PlatformClient
from fixtures.squads import SquadFactory
from fixtures.stack import ROOT, Stack, StackError, start_stack
from fixtures.targets import without_targets


@pytest.fixture(scope="session")
def fault_stack(worker_id, tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own, tuned so faults play out in seconds: a short HTTP timeout (the LLM's too),
    short retry backoff, a short job lease (a job cut off by a platform restart is taken over quickly), and a
    reaper that looks every half second (a sandbox E2B created after its request timed out is gone
    within the outcome checks' deadline)."""
    environ = without_targets(os.environ)
    try:
        stack = start_stack(
            environ=environ,
            database_url=worker_database_url(f"{worker_id}_faults", tmp_path_factory.mktemp("faults-db")),
            log_dir=ROOT / "reports" / "stack" / f"{worker_id}-faults",
            announce=lambda line: None,
            extra_platform_env={
                "HTTP_TIMEOUT_S": str(HTTP_TIMEOUT_S),
                "LLM_TIMEOUT_S": str(HTTP_TIMEOUT_S),
                "RETRY_BASE_DELAY_S": "0.05",
                "RETRY_MAX_DELAY_S": "0.5",
                "JOB_LEASE_S": "1.5",
                "WORKER_POLL_INTERVAL_S": "0.2",
                "SANDBOX_REAP_INTERVAL_S": "0.5",
                "SSE_HEARTBEAT_S": "1",
                "SSE_POLL_INTERVAL_S": "0.3",
            },
        )
    except StackError as error:
        pytest.fail(f"could not start the fault stack: {error}", pytrace=False)
    yield stack
    stack.stop()


@pytest.fixture
def scene(fault_stack: Stack) -> Iterator[Scene]:
    e2b = FakeE2BAdmin(fault_stack.e2b_url, fault_stack.e2b_api_key)
    github = FakeGitHubAdmin(fault_stack.github_url)
    platform = PlatformClient(fault_stack.base_url, admin_token=fault_stack.admin_token)
    squads = SquadFactory(platform, github, fault_stack.base_url)
    squad = squads()
    squad.task = squad.new_task()
    scene = Scene(fault_stack, e2b, github, squad)
    yield scene
    # Rules are narrowed to this test's task and repository, but a rule never reached must not linger;
    # rate limits are per token, shared by every squad of the stack: give the token a full window back.
    e2b.clear_faults()
    github.clear_faults()
    scene.restore_rate_limit()
    squads.close()
    for admin in (platform, e2b, github):
        admin.close()
