"""`make bench-toolbox` (benchmarks/toolbox.py): its test counts, and the base commit it measures
side by side in a worktree that leaves the shared virtualenv and the repository as they were."""

import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.toolbox import STAMP, base_tree, junit_counts, suites

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}">
</testsuite></testsuites>
"""


def _git(repo_root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo_root, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.unit
@pytest.mark.priority_p2
def test_the_test_counts_add_up_every_report_there_is_and_say_when_there_is_none(tmp_path):
    backend, browser = tmp_path / "backend.xml", tmp_path / "browser.xml"
    backend.write_text(JUNIT.format(tests=10, failures=1, errors=1, skipped=2))
    browser.write_text(JUNIT.format(tests=1200, failures=0, errors=0, skipped=5))

    assert junit_counts([backend, browser, tmp_path / "never-written.xml"]) == "1,201 passed, 2 failed, 7 skipped"
    assert junit_counts([tmp_path / "never-written.xml"]) == "-"


@pytest.mark.integration
@pytest.mark.priority_p2
def test_the_base_is_the_commit_in_a_worktree_whose_make_leaves_the_virtualenv_alone(repo_root, tmp_path):
    head = _git(repo_root, "rev-parse", "HEAD")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    # Set up long ago: every file a checkout writes now is newer than the stamp.
    (venv / STAMP).touch()
    os.utime(venv / STAMP, (946_684_800, 946_684_800))
    make_suites = suites(venv, tmp_path)[0].argv

    with base_tree("HEAD", venv) as place:
        assert place is not None and place != repo_root
        assert _git(place, "rev-parse", "HEAD") == head
        assert str(place) in _git(repo_root, "worktree", "list")
        # -n still runs the sub-makes `make suites` calls (as dry runs): they are what must not reinstall.
        dry_run = subprocess.run([*make_suites[:-1], "-n", make_suites[-1]], cwd=place, capture_output=True, text=True)

    assert dry_run.returncode == 0, dry_run.stderr
    assert "pip install" not in dry_run.stdout, dry_run.stdout
    assert "test-backend" in dry_run.stdout or "backend_tests" in dry_run.stdout, dry_run.stdout
    assert not place.exists()
    assert str(place) not in _git(repo_root, "worktree", "list")


@pytest.mark.unit
@pytest.mark.priority_p2
def test_a_virtualenv_not_set_up_or_a_base_that_is_no_commit_is_refused_saying_why(tmp_path, capsys):
    from benchmarks.toolbox import main

    assert main(["--venv", str(tmp_path)]) == 2
    assert "run `make setup` first" in capsys.readouterr().err

    (tmp_path / STAMP).touch()
    assert main(["--venv", str(tmp_path), "--base", "no-such-commit"]) == 2
    assert "'no-such-commit' is not a commit of this repository (BENCH_BASE)" in capsys.readouterr().err
