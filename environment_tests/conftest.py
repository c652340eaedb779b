"""Fixtures for the tests of the environment: the compose file, the Dockerfile, the CI workflows,
the Makefile, the native launcher and `make health`."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from environment_tests.environment_files import (
    BARE_ENVIRONMENT,
    COMPOSE_FILE,
    MAKE_RULE,
    MAKEFILES,
    REPO_ROOT,
    WORKFLOW_FILE,
    load_yaml,
    workflow_files,
)
from fixtures.plugin import announce_stack
from fixtures.stack import ROOT, Stack, StackError, start_stack


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="session")
def workflow() -> dict[str, Any]:
    """The pull-request, merge and nightly pipeline."""
    return load_yaml(WORKFLOW_FILE)


@pytest.fixture(scope="session")
def workflows() -> dict[str, dict[str, Any]]:
    """Every workflow file, by its path relative to the repository."""
    return {str(path.relative_to(REPO_ROOT)): load_yaml(path) for path in workflow_files()}


@pytest.fixture(scope="session")
def make_targets() -> set[str]:
    """The targets of the Makefile and of the make/*.mk files it includes."""
    existing = [path for path in MAKEFILES if path.exists()]
    if not existing:
        pytest.skip("there is no Makefile yet, so there are no targets to check")
    return {target for path in existing for rule in MAKE_RULE.findall(path.read_text()) for target in rule.split()}


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


@pytest.fixture(scope="session")
def native_stack(request: pytest.FixtureRequest, worker_id: str, tmp_path_factory) -> Iterator[Stack]:
    """The native launcher's stack (fixtures/stack.py) on free ports, started from a bare environment.

    Always started here, whatever SQUAD_BASE_URL says: these tests are about what the launcher
    gives the processes it starts.
    """
    environ = {name: os.environ[name] for name in BARE_ENVIRONMENT if name in os.environ}
    database = tmp_path_factory.mktemp("native-stack") / "squad.db"
    try:
        stack = start_stack(
            environ=environ,
            database_url=f"sqlite+aiosqlite:///{database}",
            log_dir=ROOT / "reports" / "stack" / f"environment-{worker_id}",
            announce=lambda line: announce_stack(request.config, line),
        )
    except StackError as error:
        pytest.fail(f"the native launcher could not start its stack: {error}", pytrace=False)
    yield stack
    stack.stop()
