"""A new user's first steps: `pytest frontend_tests --headed` on a machine without a display, and
the messages for a missing python3-venv, Xvfb or Chromium and a busy port, each naming its fix."""

import errno
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from environment_tests.environment_files import REPO_ROOT
from fixtures.targets import FAKE_E2B

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

# What a test file run in a temporary folder needs to load the repository's plugin.
TINY_HEADED_TEST = """
import os
from pathlib import Path


def test_a_display_is_there():
    display = os.environ["DISPLAY"]
    Path(os.environ["SEEN_DISPLAY_FILE"]).write_text(display)
    # Xvfb's socket for display :N, which exists while it runs.
    assert Path(f"/tmp/.X11-unix/X{display.lstrip(':')}").exists()
"""


def without_display(**extra: str) -> dict[str, str]:
    environ = {name: value for name, value in os.environ.items() if name not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {**environ, **extra}


def headed_tiny_run(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """pytest --headed with the virtual display plugin, on the test_tiny.py written into `folder`."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "test_tiny.py",
            "--headed",
            "-p",
            "fixtures.virtual_display",
            "-p",
            "no:cacheprovider",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_headed_run_without_a_display_gets_a_virtual_one_and_says_so(tmp_path):
    (tmp_path / "test_tiny.py").write_text(TINY_HEADED_TEST)
    seen = tmp_path / "display.txt"
    result = headed_tiny_run(tmp_path, without_display(PYTHONPATH=str(REPO_ROOT), SEEN_DISPLAY_FILE=str(seen)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "virtual display: Xvfb on :" in result.stdout, f"the header does not say it:\n{result.stdout}"
    display = seen.read_text()
    assert not Path(f"/tmp/.X11-unix/X{display.lstrip(':')}").exists(), f"Xvfb on {display} still runs after pytest"


def test_a_headed_run_with_a_display_starts_none(tmp_path):
    (tmp_path / "test_tiny.py").write_text("def test_nothing():\n    pass\n")
    result = headed_tiny_run(tmp_path, {**without_display(PYTHONPATH=str(REPO_ROOT)), "DISPLAY": ":4242"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "virtual display" not in result.stdout


@pytest.mark.slow
def test_pytest_frontend_tests_headed_as_written_works_without_a_display(repo_root):
    """The README's command for frontend developers, on one quick component test."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "frontend_tests",
            "--headed",
            "-k",
            "test_assign_dialog_resolves_with_the_agent_chosen_from_the_keyboard",
            "-p",
            "no:cacheprovider",
        ],
        cwd=repo_root,
        env=without_display(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "virtual display: Xvfb on :" in result.stdout
    assert "1 passed" in result.stdout


def test_a_missing_xvfb_is_named_with_its_fix(tmp_path):
    (tmp_path / "test_tiny.py").write_text("def test_nothing():\n    pass\n")
    # A PATH without Xvfb (pytest itself runs from sys.executable).
    result = headed_tiny_run(tmp_path, without_display(PYTHONPATH=str(REPO_ROOT), PATH=str(tmp_path)))
    assert result.returncode != 0
    assert "apt-get install xvfb" in result.stderr, result.stdout + result.stderr


def test_a_missing_chromium_is_named_with_its_fix(repo_root):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "frontend_tests",
            "-k",
            "test_assign_dialog_resolves_with_the_agent_chosen_from_the_keyboard",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
        ],
        cwd=repo_root,
        env={**os.environ, "CHROMIUM_PATH": "/nonexistent/chromium"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "no Chromium at /nonexistent/chromium" in result.stdout, result.stdout[-3000:]
    assert "apt-get install chromium" in result.stdout


@pytest.fixture
def fake_python3_without_venv(tmp_path) -> Path:
    """A python3 that answers like Debian's without python3-venv: everything works but `-m venv`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then\n'
        '  echo "The virtual environment was not created successfully because ensurepip is not available." >&2\n'
        "  exit 1\n"
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)
    return bin_dir


def test_a_missing_python3_venv_is_named_with_its_fix(repo_root, tmp_path, fake_python3_without_venv):
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", f"{venv}/.installed-stamp"],
        cwd=repo_root,
        env={**os.environ, "PATH": f"{fake_python3_without_venv}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "apt-get install python3-venv" in result.stdout, result.stdout + result.stderr
    assert not venv.exists(), "a half-made virtual environment was left behind"


@pytest.fixture
def busy_fake_e2b_port() -> Iterator[int]:
    """The fixed port `make up` starts the fake E2B on (its first service), held by someone else."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", FAKE_E2B.port))
        holder.listen()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        # Already held by another process: busy all the same.
    try:
        yield FAKE_E2B.port
    finally:
        holder.close()


def test_a_busy_port_is_named_with_its_fix(repo_root, busy_fake_e2b_port):
    environ = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    result = subprocess.run(
        [sys.executable, "-m", "tools.stack", "up"],
        cwd=repo_root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"port {busy_fake_e2b_port} for fake-e2b is already in use" in output, output
    assert "Stop that process, or reuse it by setting FAKE_E2B_URL=" in output, output
