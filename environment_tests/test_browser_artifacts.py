"""A failing browser test leaves a trace that `playwright show-trace` opens, and a screenshot; a
passing one leaves nothing (TRACING = "retain-on-failure", SCREENSHOT = "only-on-failure").

Probe tests run in a pytest of their own, under a conftest that is the browser suite's two conftests
(their fixtures and hooks, as a conftest's, win over pytest-playwright's own): a component test on
the shared page (its own trace chunk) and a test on a context of its own, as the flow tests have. No
live stack: the pages are mounts and data URLs.
"""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from environment_tests.environment_files import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

CONFTEST = """
from frontend_tests import conftest as suite
from frontend_tests.components import conftest as components

for module in (suite, components):
    globals().update({name: value for name, value in vars(module).items() if not name.startswith("__")})
"""
PROBES = """
from playwright.sync_api import expect


def test_component_passes(mount):
    page = mount("<p id='probe'>component probe</p>")
    expect(page.locator("#probe")).to_have_text("component probe")


def test_component_fails_on_purpose(mount):
    page = mount("<p id='probe'>component probe</p>")
    expect(page.locator("#probe")).to_have_text("something else", timeout=300)


def test_own_context_passes(page):
    page.goto("data:text/html,<p id='probe'>context probe</p>")
    expect(page.locator("#probe")).to_have_text("context probe")


def test_own_context_fails_on_purpose(page):
    page.goto("data:text/html,<p id='probe'>context probe</p>")
    expect(page.locator("#probe")).to_have_text("something else", timeout=300)
"""


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    probes = tmp_path_factory.mktemp("probes")
    (probes / "test_probes.py").write_text(PROBES)
    (probes / "conftest.py").write_text(CONFTEST)
    output = probes / "artifacts"
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(probes / "test_probes.py"),
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(probes),
        "--output",
        str(output),
        "-q",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert "2 failed, 2 passed" in result.stdout, (
        f"the probes did not run as planned:\n{result.stdout}\n{result.stderr}"
    )
    return output


def folders(output: Path) -> dict[str, Path]:
    return {path.name: path for path in output.iterdir() if path.is_dir()}


def test_only_the_failing_tests_leave_artifacts(artifacts):
    names = sorted(folders(artifacts))
    assert len(names) == 2, names
    assert all("fails-on-purpose" in name for name in names), names


def expected_texts(trace: zipfile.ZipFile) -> list[str]:
    """The texts the trace's `expect` actions waited for, in order."""
    actions = [json.loads(line) for line in trace.read("trace.trace").decode().splitlines()]
    return [
        text["string"]
        for action in actions
        if action.get("type") == "before" and action.get("method") == "expect"
        for text in action["params"].get("expectedText", [])
    ]


@pytest.mark.parametrize("probe", ["component", "own-context"])
def test_a_failing_test_leaves_a_screenshot_and_a_trace_of_its_own_steps(artifacts, probe):
    (folder,) = [path for name, path in folders(artifacts).items() if f"{probe}-fails-on-purpose" in name]
    assert (folder / "test-failed-1.png").stat().st_size > 0
    with zipfile.ZipFile(folder / "trace.zip") as trace:
        # What `playwright show-trace` reads: the actions, the network log and the page snapshots.
        assert {"trace.trace", "trace.network"} <= set(trace.namelist()), trace.namelist()
        # The failing expectation, and nothing of the passing test that ran before it (for the
        # component, on the same page: the trace is this test's chunk of the shared context's).
        assert expected_texts(trace) == ["something else"]


def test_the_trace_opens_in_playwright(artifacts):
    """`playwright show-trace` needs a display to show it; its loader's first step, the zip's
    trace files as a browser reads them, is what can be checked here."""
    (folder,) = [path for name, path in folders(artifacts).items() if "component-fails-on-purpose" in name]
    result = subprocess.run(
        [sys.executable, "-m", "playwright", "show-trace", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "trace" in result.stdout, result.stderr
    with zipfile.ZipFile(folder / "trace.zip") as trace:
        assert trace.testzip() is None, "the trace zip is corrupt"
