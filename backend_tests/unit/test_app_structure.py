"""The platform's processes start from `python -m app`: the server, and the worker by either name.

That app/ imports itself without a cycle is checked with the other import rules, in test_imports.py."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-m", "app", "--help"], "--port"),
        (["-m", "app", "worker", "--help"], "worker"),
        (["-m", "app.worker", "--help"], "worker"),
    ],
    ids=["serve", "worker", "worker-alias"],
)
def test_each_process_of_the_platform_starts_from_python_m_app(argv, expected, tmp_path):
    # Should `--help` be taken for something else and start the process, it works on a database of its own.
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'squad.db'}"}

    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)

    assert done.returncode == 0, f"`python {' '.join(argv)}` exited {done.returncode}: {done.stderr}"
    assert expected in done.stdout, f"`python {' '.join(argv)}` printed {done.stdout!r}"
