"""Where a run keeps its throwaway files (fixtures/scratch.py): SQUAD_TEST_TMPDIR when given, TMPDIR
when the user set it, else shared memory when there is room, else the system's default; a bad
SQUAD_TEST_TMPDIR stops the run saying what to do, and the suites' own temporary files land there."""

import os
import subprocess
import sys
from collections import namedtuple

import pytest

from environment_tests.environment_files import REPO_ROOT
from fixtures import scratch
from fixtures.scratch import ScratchDir, ScratchDirError, choose_scratch_dir

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


def test_squad_test_tmpdir_wins_over_tmpdir_and_shared_memory(tmp_path):
    chosen = tmp_path / "chosen"
    chosen.mkdir()

    assert choose_scratch_dir({"SQUAD_TEST_TMPDIR": str(chosen), "TMPDIR": "/elsewhere"}, tmp_path) == ScratchDir(
        chosen, "SQUAD_TEST_TMPDIR"
    )


def test_a_squad_test_tmpdir_that_is_not_a_directory_says_so_and_how_to_fix_it(tmp_path):
    with pytest.raises(ScratchDirError) as raised:
        choose_scratch_dir({"SQUAD_TEST_TMPDIR": str(tmp_path / "missing")}, tmp_path)

    assert str(raised.value) == (
        f"SQUAD_TEST_TMPDIR={tmp_path / 'missing'} is not a writable directory: create it, or unset the variable"
    )


def test_a_tmpdir_the_user_set_is_left_as_it_is(tmp_path):
    assert choose_scratch_dir({"TMPDIR": "/var/tmp"}, tmp_path) == ScratchDir(None, "TMPDIR")


def test_shared_memory_is_used_when_nothing_is_set_and_it_has_room(tmp_path):
    assert choose_scratch_dir({}, tmp_path) == ScratchDir(tmp_path, "shared memory")


def test_without_shared_memory_the_system_default_stays(tmp_path):
    assert choose_scratch_dir({}, tmp_path / "no-shm") == ScratchDir(None, "the system default")


def test_shared_memory_short_of_room_is_not_used(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(scratch.shutil, "disk_usage", lambda path: usage(1 << 31, 1 << 31, scratch.MIN_FREE_BYTES - 1))

    assert choose_scratch_dir({}, tmp_path) == ScratchDir(None, "the system default")


@pytest.mark.integration
def test_a_run_keeps_its_temporary_files_where_squad_test_tmpdir_says_and_says_where(tmp_path):
    chosen = tmp_path / "scratch"
    chosen.mkdir()
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import os, tempfile\n"
        "import pytest\n"
        "pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]\n"
        "def test_where(tmp_path):\n"
        "    expected = os.environ['SQUAD_TEST_TMPDIR']\n"
        "    assert tempfile.gettempdir() == os.environ['TMPDIR'] == expected\n"
        "    assert str(tmp_path).startswith(expected + os.sep), tmp_path\n"
    )
    environ = {name: value for name, value in os.environ.items() if name not in ("TMPDIR", "PYTEST_ADDOPTS")}
    environ |= {"SQUAD_TEST_TMPDIR": str(chosen), "PYTHONPATH": str(REPO_ROOT)}

    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(probe), "-p", "fixtures.plugin", "-p", "no:cacheprovider", "-n", "0"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert f"scratch={chosen} (SQUAD_TEST_TMPDIR)" in run.stdout
