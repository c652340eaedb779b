"""The external mode: given SQUAD_BASE_URL, FAKE_E2B_URL, FAKE_GITHUB_URL and FAKE_LLM_URL, a suite
reuses those services, starts none of its own, says so in one line each, and its tests run against them."""

import os
import subprocess
import sys

import pytest

from fixtures import http

pytestmark = [pytest.mark.e2e]

# What must not leak from this run into the suite run inside it: its targets, its database (the
# inner run would drop and recreate this worker's database), its options and xdist's worker identity.
NOT_INHERITED = (
    "SQUAD_BASE_URL",
    "FAKE_E2B_URL",
    "FAKE_GITHUB_URL",
    "FAKE_LLM_URL",
    "TEST_DATABASE_URL",
    "PYTEST_ADDOPTS",
)
NOT_INHERITED_PREFIXES = ("PYTEST_XDIST_", "COV_CORE_")
# A small part of the suites that needs the whole live stack: the task-to-pull-request flow.
SUBSET = ["backend_tests/e2e", "-m", "priority_p0"]


def _run_suite_against(stack, repo_root, *options: str) -> subprocess.CompletedProcess[str]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if name not in NOT_INHERITED and not name.startswith(NOT_INHERITED_PREFIXES)
    }
    environ |= stack.environment() | stack.credentials()
    return subprocess.run(
        [sys.executable, "-m", "pytest", *SUBSET, "-n", "0", "-p", "no:cacheprovider", *options],
        cwd=repo_root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=110,
    )


def _journal_size(url: str) -> int:
    return len(http.get(f"{url}/_fake/journal", timeout=10).json())


@pytest.mark.priority_p0
@pytest.mark.timeout(120)
def test_a_suite_given_the_urls_reuses_every_service_and_starts_none(repo_root, native_stack):
    github_calls_before = _journal_size(native_stack.github_url)
    llm_calls_before = _journal_size(native_stack.llm_url)
    result = _run_suite_against(native_stack, repo_root)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"the suite failed against the external stack:\n{output}"
    for line in (
        f"[stack] platform: reusing SQUAD_BASE_URL={native_stack.base_url}",
        f"[stack] fake-e2b: reusing FAKE_E2B_URL={native_stack.e2b_url}",
        f"[stack] fake-github: reusing FAKE_GITHUB_URL={native_stack.github_url}",
        f"[stack] fake-llm: reusing FAKE_LLM_URL={native_stack.llm_url}",
    ):
        assert line in output, f"missing {line!r} in:\n{output}"
    started = [line for line in output.splitlines() if line.startswith("[stack]") and ": started " in line]
    assert not started, f"the suite started services of its own: {started}"
    assert _journal_size(native_stack.github_url) > github_calls_before, (
        "the suite's tests did not reach the fake GitHub they were pointed at"
    )
    assert _journal_size(native_stack.llm_url) > llm_calls_before, (
        "the suite's pipelines did not reach the fake LLM they were pointed at"
    )


@pytest.mark.timeout(120)
@pytest.mark.priority_p1
def test_the_reuse_lines_show_without_capture_options(repo_root, native_stack):
    result = _run_suite_against(native_stack, repo_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"[stack] platform: reusing SQUAD_BASE_URL={native_stack.base_url}" in result.stdout, result.stdout


@pytest.mark.priority_p0
def test_make_test_external_starts_one_stack_and_points_the_suites_at_it(repo_root):
    result = subprocess.run(["make", "-n", "test-external"], cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.replace("\\\n", " ").splitlines()  # continued lines joined
    [launch] = [line for line in lines if "-m tools.stack run" in line]
    assert "pytest backend_tests/e2e" in launch and "pytest frontend_tests/flows" in launch, launch
    assert launch.count("-n 0") == 2, f"each suite must run in one process, so its [stack] lines show: {launch}"
    assert "E2B_API_KEY=" in launch and "GITHUB_TOKEN=" in launch, f"the suites need the fakes' credentials: {launch}"
