"""RELIABILITY.md names its tests by pytest node id, and every one it names exists: the test files, the
test functions and their parameter ids, collected by pytest itself (one run per suite, since the suites
never share a process)."""

import re
import subprocess
import sys
from collections import defaultdict

import pytest

from environment_tests.environment_files import REPO_ROOT

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

RELIABILITY = REPO_ROOT / "RELIABILITY.md"
# The abbreviations the fault matrix's table defines.
FAULT_MATRIX = "reliability_tests/faults/test_fault_matrix.py"
FAULT_MATRIX_TABLE_TEST = "test_a_service_fault_ends_the_task_cleanly_with_every_event_and_one_pull_request_at_most"
SUITES = ("backend_tests", "reliability_tests", "frontend_tests")
# A test file, function and parameter id; `[...]` is the document's placeholder for "any case".
TEST_ID = re.compile(rf"(?<![\w/])((?:{'|'.join(SUITES)})/[\w/]*test_\w+\.py)(?:::(\w+)?(\[(?!\.\.\.)[^\]`]+\])?)?")
ABBREVIATED_ID = re.compile(r"`fm::(\w+)?(\[(?!\.\.\.)[^\]`]+\])?`")


def named_ids() -> set[tuple[str, str, str]]:
    """(file, function or "", parameter id or "") of every test the document names."""
    text = RELIABILITY.read_text()
    named = {(path, function or "", parameters or "") for path, function, parameters in TEST_ID.findall(text)}
    for function, parameters in ABBREVIATED_ID.findall(text):
        named.add((FAULT_MATRIX, function or FAULT_MATRIX_TABLE_TEST, parameters))
    return named


def collected(files: set[str]) -> set[str]:
    """The node ids pytest collects from the files, one pytest run per suite."""
    by_suite = defaultdict(set)
    for path in files:
        by_suite[path.split("/")[0]].add(path)
    ids = set()
    for _suite, paths in sorted(by_suite.items()):
        existing = sorted(path for path in paths if (REPO_ROOT / path).is_file())
        if not existing:
            continue
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "no:randomly",
                "-p",
                "no:cacheprovider",
                *existing,
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (
            f"pytest cannot collect {existing}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
        )
        ids |= {line.strip() for line in result.stdout.splitlines() if "::" in line}
    return ids


def test_every_test_reliability_md_names_exists():
    named = named_ids()
    assert len(named) >= 20 and any(function for _, function, _ in named), (
        f"the scan of RELIABILITY.md found too few test ids, so it is broken: {sorted(named)}"
    )
    ids = collected({path for path, _, _ in named})
    missing = []
    for path, function, parameters in sorted(named):
        node = f"{path}::{function}{parameters}" if function else path
        if parameters or not function:
            found = node in ids if parameters else any(test_id.startswith(f"{path}::") for test_id in ids)
        else:
            found = node in ids or any(test_id.startswith(f"{node}[") for test_id in ids)
        if not found:
            missing.append(node)
    assert not missing, "RELIABILITY.md names tests that do not exist:\n" + "\n".join(missing)


def test_reliability_md_names_each_test_with_its_file():
    """A bare test name could be anywhere; with its file a reader (and the test above) finds it."""
    bare = sorted(set(re.findall(r"(?<![\w:/])`(test_\w+)`", RELIABILITY.read_text())))
    assert not bare, f"RELIABILITY.md names tests without their file: {bare}"


# A table cell is a line's worth of words; what takes longer goes in the notes below its table.
CELL_PROSE_MAX = 100


def test_reliability_md_tables_keep_their_cells_short():
    long_cells = []
    for number, line in enumerate(RELIABILITY.read_text().splitlines(), start=1):
        if not line.startswith("|") or line.startswith("|---"):
            continue
        for cell in line.strip().strip("|").split(" | "):
            prose = re.sub(r"`[^`]*`", "x", cell.strip())  # a test id or a command counts as one word
            if len(prose) > CELL_PROSE_MAX:
                long_cells.append(f"line {number}: {prose[:80]}... ({len(prose)} characters)")
    assert not long_cells, f"cells over {CELL_PROSE_MAX} characters of prose:\n" + "\n".join(long_cells)
