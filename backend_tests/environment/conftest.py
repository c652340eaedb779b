"""Fixtures for the tests of the environment files: the compose file, the CI workflow, the Makefile."""

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.test.yml"
WORKFLOW_FILE = REPO_ROOT / ".github" / "workflows" / "ci.yml"
MAKEFILE = REPO_ROOT / "Makefile"
# A rule line: `name:` or `a b: deps`, but not a `VAR := value` assignment.
MAKE_RULE = re.compile(r"^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*::?(?!=)", re.MULTILINE)


def load_yaml(path: Path) -> dict[str, Any]:
    # YAML 1.2 (ruamel), as Compose and GitHub read it: a key `on` stays the string "on".
    return YAML(typ="safe", pure=True).load(path.read_text())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="session")
def workflow() -> dict[str, Any]:
    return load_yaml(WORKFLOW_FILE)


@pytest.fixture(scope="session")
def make_targets() -> set[str]:
    if not MAKEFILE.exists():
        pytest.skip(f"{MAKEFILE.relative_to(REPO_ROOT)} does not exist yet, so there are no targets to check")
    return {target for rule in MAKE_RULE.findall(MAKEFILE.read_text()) for target in rule.split()}


@pytest.fixture(scope="session")
def check_against_builtin_schema() -> Callable[[Path, str], None]:
    """Validate a file with check-jsonschema's vendored schema; fail with the tool's own report."""

    def check(path: Path, schema: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (
            f"{path.relative_to(REPO_ROOT)} does not match the {schema} schema:\n{result.stdout}{result.stderr}"
        )

    return check
