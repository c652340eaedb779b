"""`make` alone and `make help` print the same list, generated from the `## ` text of each target
line, and every target of the Makefile and make/*.mk is in it, under its file's heading."""

import re
import subprocess

import pytest

from environment_tests.conftest import MAKE_RULE
from environment_tests.environment_files import MAKEFILES, REPO_ROOT

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]


def make(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )


def defined_targets() -> dict[str, str]:
    """Every target a user can name -> its make file; not make's special targets (.PHONY ...) and not
    file targets (`$(STAMP)`, which the rule pattern does not take)."""
    return {
        target: str(path.relative_to(REPO_ROOT))
        for path in MAKEFILES
        for rule in MAKE_RULE.findall(path.read_text())
        for target in rule.split()
        if not target.startswith(".")
    }


def listed_targets(help_text: str) -> dict[str, str]:
    """The targets `make help` lists -> the file named in the heading above them."""
    listed, heading = {}, ""
    for line in help_text.splitlines():
        if found := re.match(r"\S.*\(((?:make/)?[\w.]+)\)$", line):
            heading = found.group(1)
        elif found := re.match(r"  ([a-zA-Z0-9_-]+)  +\S", line):
            listed[found.group(1)] = heading
    return listed


def test_plain_make_prints_the_help_and_succeeds():
    plain, help_ = make(), make("help")
    assert plain.returncode == 0 and help_.returncode == 0, f"make: {plain.stderr}; make help: {help_.stderr}"
    assert plain.stdout == help_.stdout, "`make` and `make help` print different things"


def test_the_help_lists_every_target_under_its_own_file():
    defined = defined_targets()
    assert {"help", "suites", "test", "test-backend", "test-frontend", "test-load", "faults"} <= set(defined), (
        f"the scan of the make files found too little: {sorted(defined)}"
    )
    listed = listed_targets(make("help").stdout)
    missing = {target: path for target, path in defined.items() if target not in listed}
    assert not missing, f"targets without `## what it does` on their line (target: file): {missing}"
    misplaced = {target: listed[target] for target, path in defined.items() if listed[target] != path}
    assert not misplaced, f"targets listed under another file's heading (target: heading): {misplaced}"
    assert set(listed) <= set(defined), f"`make help` lists targets no file defines: {set(listed) - set(defined)}"


def test_every_make_file_has_one_heading():
    headings = {
        str(path.relative_to(REPO_ROOT)): re.findall(r"^##@ ", path.read_text(), re.MULTILINE) for path in MAKEFILES
    }
    wrong = {path: len(found) for path, found in headings.items() if len(found) != 1}
    assert not wrong, f"make files without exactly one `##@ Heading` line (file: count): {wrong}"


def test_the_help_needs_nothing_installed():
    """On a fresh machine `make` must answer at once, not build the virtual environment first."""
    result = make("-n", "help", "VENV=/nonexistent/venv")
    assert result.returncode == 0, result.stderr
    assert "venv" not in result.stdout.replace("/nonexistent/venv", ""), f"`make help` would run: {result.stdout}"


def test_the_makefile_includes_every_make_file():
    """`include`, not `-include`: a make file that goes missing stops make instead of losing targets."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^include make/\*\.mk$", makefile, re.MULTILINE), "the Makefile must `include make/*.mk`"
    assert not re.search(r"^-include", makefile, re.MULTILINE), "`-include` hides a missing make file"


def test_ci_runs_make_test_as_its_one_job():
    script = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec make test$", script, re.MULTILINE), f".ci/run no longer runs `make test`:\n{script}"
