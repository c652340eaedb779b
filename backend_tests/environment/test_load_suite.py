"""The Locust suite as users start it: `locust -f load/` from the repository root."""

import ast
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]


def _closed_port() -> int:
    # Bound and released: nothing listens there for the moment the test needs.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _locust(repo_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOAD_SLO_"))}
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", "load/", *args],
        cwd=repo_root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _classes_defined_in(folder: Path) -> set[str]:
    return {
        node.name
        for path in folder.glob("*.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef)
    }


def test_locust_collects_only_the_user_classes_from_load(repo_root):
    result = _locust(repo_root, "--list")
    assert result.returncode == 0, result.stderr
    users = [line.strip() for line in result.stdout.splitlines()[1:] if line.strip()]
    assert "BoardUser" in users, f"`locust -f load/ --list` printed {result.stdout!r}"
    foreign = set(users) - _classes_defined_in(repo_root / "load")
    assert not foreign, f"user classes not defined in load/ (imported bases?): {sorted(foreign)}"
    assert len(users) == len(set(users)), f"a user class is listed twice: {users}"


def test_locust_without_a_platform_says_so_and_exits_non_zero(repo_root, tmp_path):
    host = f"http://127.0.0.1:{_closed_port()}"
    reports = ("--html", str(tmp_path / "report.html"), "--csv", str(tmp_path / "stats"))
    result = _locust(repo_root, "--headless", "--run-time", "2s", "--host", host, *reports)
    assert result.returncode == 1, f"exit code {result.returncode}\n{result.stderr}"
    assert f"no Agent Squad platform at {host}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
